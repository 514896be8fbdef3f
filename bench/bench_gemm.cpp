// sgemm: ours (scalar reference, AVX2, AVX-512) beside oneDNN and OpenBLAS, on a square 1024
// problem and on the GEMM shapes of the UNet-S convolutions at batch 64, at 1 and 2 threads.
// Counters: GFLOP/s and the fraction of the measured FMA peak (core/fma_peak.h).
//
// Shapes (row-major, C (M,N) = op(A) (M,K) op(B) (K,N)):
//   square      1024 x 1024 x 1024
//   enc0 fwd    M=32  K=288  N=784*64    conv 32->32 at 28x28 (y = W col)
//   enc0 dW     M=32  K=784*64 N=288      dW = dy col^T        (A * B^T)
//   enc0 dX     M=288 K=32   N=784*64    dcol = W^T dy         (A^T * B)
//   enc1 fwd    M=64  K=576  N=196*64    conv 64->64 at 14x14
//   dec2 fwd    M=64  K=1152 N=49*64     conv 128->64 at 7x7
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <dnnl.h>
#include <omp.h>

#include <string>
#include <vector>

#include "core/fma_peak.h"
#include "core/cpu.h"
#include "core/kernels/kernels.h"
#include "core/parallel.h"
#include "core/rng.h"

using namespace fw;

namespace {

struct Shape {
    const char* name;
    bool ta, tb;
    int64_t M, N, K;
};

const Shape kShapes[] = {
    {"square1024", false, false, 1024, 1024, 1024},
    {"enc0_fwd", false, false, 32, 784 * 64, 288},
    {"enc0_dW", false, true, 32, 288, 784 * 64},
    {"enc0_dX", true, false, 288, 784 * 64, 32},
    {"enc1_fwd", false, false, 64, 196 * 64, 576},
    {"dec2_fwd", false, false, 64, 49 * 64, 1152},
};

enum Impl { kScalar, kAvx2, kAvx512, kOneDnn, kOpenBlas };
const char* kImplNames[] = {"scalar", "avx2", "avx512", "onednn", "openblas"};

struct Buffers {
    std::vector<float> A, B, C;
    explicit Buffers(const Shape& s) : A(s.M * s.K), B(s.K * s.N), C(s.M * s.N) {
        Generator g(1);
        g.uniform(A.data(), A.size(), -1, 1);
        g.uniform(B.data(), B.size(), -1, 1);
    }
};

void run_gemm(benchmark::State& state, const Shape& s, Impl impl, int threads) {
    Buffers buf(s);
    const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
    set_num_threads(threads);
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    for (auto _ : state) {
        switch (impl) {
            case kScalar: case kAvx2: case kAvx512: {
                CpuPath p = impl == kScalar ? CpuPath::Scalar : impl == kAvx2 ? CpuPath::Avx2 : CpuPath::Avx512;
                cpu_kernels(p).gemm(s.ta, s.tb, s.M, s.N, s.K, buf.A.data(), lda, buf.B.data(), ldb, 0.0f, buf.C.data(), s.N);
                break;
            }
            case kOneDnn:
                dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M, s.N, s.K, 1.0f, buf.A.data(), lda, buf.B.data(), ldb,
                           0.0f, buf.C.data(), s.N);
                break;
            case kOpenBlas:
                cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.M, s.N,
                            s.K, 1.0f, buf.A.data(), lda, buf.B.data(), ldb, 0.0f, buf.C.data(), s.N);
                break;
        }
        benchmark::DoNotOptimize(buf.C.data());
        benchmark::ClobberMemory();
    }
    const double flops = 2.0 * s.M * s.N * s.K;
    state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    // Fraction of the FMA peak measured in this same run (core/fma_peak.h).
    state.counters["peak_frac"] = benchmark::Counter(flops / 1e9 / measure_fma_peak_gflops(threads),
                                                     benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
    for (int threads : {1, 2}) {
        benchmark::RegisterBenchmark(("fma_peak/threads:" + std::to_string(threads)).c_str(),
                                     [threads](benchmark::State& st) {
                                         double peak = 0;
                                         for (auto _ : st) peak = measure_fma_peak_gflops(threads);
                                         st.counters["GFLOP/s"] = peak;
                                     })
            ->Iterations(1)
            ->UseRealTime();
        for (const Shape& s : kShapes)
            for (Impl impl : {kScalar, kAvx2, kAvx512, kOneDnn, kOpenBlas}) {
                if (impl == kScalar && (threads == 2 || std::string(s.name) != "square1024")) continue;  // ~1 GFLOP/s: once is enough
                if (impl == kAvx2 && !cpu_path_supported(CpuPath::Avx2)) continue;
                if (impl == kAvx512 && !cpu_path_supported(CpuPath::Avx512)) continue;
                std::string name = std::string("sgemm/") + s.name + "/" + kImplNames[impl] + "/threads:" + std::to_string(threads);
                benchmark::RegisterBenchmark(name.c_str(), [s, impl, threads](benchmark::State& st) { run_gemm(st, s, impl, threads); })
                    ->UseRealTime()
                    ->Unit(benchmark::kMillisecond);
            }
    }
}

}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
