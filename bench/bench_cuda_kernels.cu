// CUDA sgemm and conv2d: ours (core/cuda/gemm_cuda.h) beside cuBLAS sgemm, the outside
// reference, in the same run. Every case is timed on fw::cuda::stream() with CUDA events
// (UseManualTime: the reported time is GPU time) after two warm-up calls.
// Counters: GFLOP/s (2 M N K per GEMM; 2 N Cout OH OW Cin KH KW per conv pass) and, for ours,
// vs_cublas = ours / cuBLAS on the same GEMM shape (cuBLAS cases run first).
// Without a GPU every case reports "no CUDA device: ..." and is skipped.
//
// GEMM shapes (row-major, C (M,N) = op(A) (M,K) op(B) (K,N)):
//   square1024/2048/4096                       M = N = K
//   enc0_fwd   M=32  K=288  N=784*B            conv 32->32 at 28x28 (y = W col), B = 64 or 256
//   enc1_fwd   M=64  K=576  N=196*B            conv 64->64 at 14x14
//   dec2_fwd   M=64  K=1152 N=49*B             conv 128->64 at 7x7
// (one GEMM over the whole batch, the shape cuBLAS would see; our conv runs it as strided-batched
// launches over chunks of images, one product per image.)
// Conv layers of UNet-S at batch 64 and 256: forward, dX (backward with only dx) and dW
// (backward with dw and db).
#include <benchmark/benchmark.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/cuda/backend.h"
#include "core/cuda/gemm_cuda.h"
#include "core/cuda/runtime.h"
#include "core/rng.h"

using namespace fw;

namespace {

// n floats of device memory, uniform in [-1, 1] (RAII).
struct DeviceArray {
    float* p = nullptr;
    explicit DeviceArray(int64_t n, uint64_t seed) {
        std::vector<float> host(n);
        Generator(seed).uniform(host.data(), n, -1.0f, 1.0f);
        FW_CUDA_CHECK(cudaMalloc(&p, n * sizeof(float)));
        FW_CUDA_CHECK(cudaMemcpy(p, host.data(), n * sizeof(float), cudaMemcpyHostToDevice));
        FW_CUDA_CHECK(cudaDeviceSynchronize());
    }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    ~DeviceArray() { cudaFree(p); }
};

// Runs fn (which queues work on fw::cuda::stream()) twice to warm up, then once per iteration
// between two events; the iteration time is the events' elapsed time. Returns GFLOP/s.
template <class Fn>
double time_on_stream(benchmark::State& state, double flops, Fn&& fn) {
    fn();
    fn();
    cudaEvent_t start, stop;
    FW_CUDA_CHECK(cudaEventCreate(&start));
    FW_CUDA_CHECK(cudaEventCreate(&stop));
    double seconds = 0;
    int64_t iterations = 0;
    for (auto _ : state) {
        FW_CUDA_CHECK(cudaEventRecord(start, cuda::stream()));
        fn();
        FW_CUDA_CHECK(cudaEventRecord(stop, cuda::stream()));
        FW_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0;
        FW_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        state.SetIterationTime(ms * 1e-3);
        seconds += ms * 1e-3;
        ++iterations;
    }
    FW_CUDA_CHECK(cudaEventDestroy(start));
    FW_CUDA_CHECK(cudaEventDestroy(stop));
    const double gflops = seconds > 0 ? flops * iterations / seconds / 1e9 : 0.0;
    state.counters["GFLOP/s"] = gflops;
    return gflops;
}

// ---------------------------------------------------------------------------------------------
// GEMM

struct GemmShape {
    std::string name;
    int64_t M, N, K;
};

std::vector<GemmShape> gemm_shapes() {
    std::vector<GemmShape> v = {{"square1024", 1024, 1024, 1024}, {"square2048", 2048, 2048, 2048},
                                {"square4096", 4096, 4096, 4096}};
    for (int64_t B : {64, 256}) {
        const std::string b = "/batch:" + std::to_string(B);
        v.push_back({"enc0_fwd" + b, 32, 784 * B, 288});
        v.push_back({"enc1_fwd" + b, 64, 196 * B, 576});
        v.push_back({"dec2_fwd" + b, 64, 49 * B, 1152});
    }
    return v;
}

std::map<std::string, double> cublas_gflops;  // shape name -> cuBLAS GFLOP/s of this run

cublasHandle_t cublas() {
    static cublasHandle_t h = [] {
        cublasHandle_t t;
        if (cublasCreate(&t) != CUBLAS_STATUS_SUCCESS) throw std::runtime_error("cublasCreate failed");
        if (cublasSetStream(t, cuda::stream()) != CUBLAS_STATUS_SUCCESS)
            throw std::runtime_error("cublasSetStream failed");
        if (cublasSetMathMode(t, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS)  // fp32 sgemm: no TF32
            throw std::runtime_error("cublasSetMathMode failed");
        return t;
    }();
    return h;
}

void run_gemm(benchmark::State& state, const GemmShape& s, bool use_cublas) {
    if (!cuda_available()) return state.SkipWithError(cuda_unavailable_reason().c_str());
    DeviceArray A(s.M * s.K, 1), B(s.K * s.N, 2), C(s.M * s.N, 3);
    const double flops = 2.0 * s.M * s.N * s.K;
    if (use_cublas) {
        // Row-major C = A B is column-major C^T = B^T A^T: swap the operands and M, N.
        const float one = 1.0f, zero = 0.0f;
        cublasHandle_t h = cublas();
        cublas_gflops[s.name] = time_on_stream(state, flops, [&] {
            if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)s.N, (int)s.M, (int)s.K, &one, B.p, (int)s.N, A.p,
                            (int)s.K, &zero, C.p, (int)s.N) != CUBLAS_STATUS_SUCCESS)
                throw std::runtime_error("cublasSgemm failed");
        });
        return;
    }
    const double ours = time_on_stream(state, flops, [&] {
        cuda::gemm(false, false, s.M, s.N, s.K, A.p, s.K, B.p, s.N, 0.0f, C.p, s.N);
    });
    auto ref = cublas_gflops.find(s.name);
    if (ref != cublas_gflops.end() && ref->second > 0) state.counters["vs_cublas"] = ours / ref->second;
}

// ---------------------------------------------------------------------------------------------
// conv2d

struct Layer {
    std::string name;
    int64_t Cin, H, Cout, k, stride, pad;
};

const Layer kLayers[] = {
    {"enc0_32to32_28x28", 32, 28, 32, 3, 1, 1},  {"down0_32to64_28to14", 32, 28, 64, 3, 2, 1},
    {"enc1_64to64_14x14", 64, 14, 64, 3, 1, 1},  {"dec2_128to64_7x7", 128, 7, 64, 3, 1, 1},
    {"skip_64to32_28x28_1x1", 64, 28, 32, 1, 1, 0},
};

enum Pass { kForward, kDx, kDw };
const char* kPassNames[] = {"fwd", "dX", "dW"};

void run_conv(benchmark::State& state, const Layer& l, int64_t N, Pass pass) {
    if (!cuda_available()) return state.SkipWithError(cuda_unavailable_reason().c_str());
    const int64_t O = (l.H + 2 * l.pad - l.k) / l.stride + 1;
    const ConvShape s{N, l.Cin, l.H, l.H, l.Cout, l.k, l.k, l.stride, l.pad, O, O};
    DeviceArray x(N * l.Cin * l.H * l.H, 1), w(l.Cout * l.Cin * l.k * l.k, 2), b(l.Cout, 3), y(N * l.Cout * O * O, 4),
        dx(N * l.Cin * l.H * l.H, 5), dw(l.Cout * l.Cin * l.k * l.k, 6), db(l.Cout, 7);
    const double flops = 2.0 * N * l.Cout * O * O * l.Cin * l.k * l.k;
    time_on_stream(state, flops, [&] {
        if (pass == kForward) cuda::conv2d_forward(y.p, x.p, w.p, b.p, s);
        if (pass == kDx) cuda::conv2d_backward(dx.p, nullptr, nullptr, y.p, x.p, w.p, s, GradWrite::Add);
        if (pass == kDw) cuda::conv2d_backward(nullptr, dw.p, db.p, y.p, x.p, w.p, s, GradWrite::Add);
    });
}

void register_all() {
    for (const GemmShape& s : gemm_shapes())
        for (bool use_cublas : {true, false})  // cuBLAS first, so ours can report vs_cublas
            benchmark::RegisterBenchmark(("sgemm/" + s.name + (use_cublas ? "/cublas" : "/ours")).c_str(),
                                         [s, use_cublas](benchmark::State& st) { run_gemm(st, s, use_cublas); })
                ->UseManualTime()
                ->Unit(benchmark::kMicrosecond);
    for (int64_t N : {64, 256})
        for (const Layer& l : kLayers)
            for (Pass pass : {kForward, kDx, kDw})
                benchmark::RegisterBenchmark(
                    ("conv/" + l.name + "/" + kPassNames[pass] + "/batch:" + std::to_string(N) + "/ours").c_str(),
                    [l, N, pass](benchmark::State& st) { run_conv(st, l, N, pass); })
                    ->UseManualTime()
                    ->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
