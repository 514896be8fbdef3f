// Memory-bound kernels: ours on the scalar reference, AVX2 and AVX-512 paths, 1 and 2 threads, on
// one UNet-S activation at batch 64: x (N, C, H, W) = (64, 32, 28, 28) = 1,605,632 floats (6.4 MB,
// larger than the L2 cache, so these measure streaming from L3/memory).
// Counter: GB/s = the bytes each kernel must move at least (each input read once, each output
// written once; a backward that accumulates reads its gradient too), per second:
//   silu_fwd     y = x s(x)                      read x, write y             8 B / element
//   silu_bwd     dx += dy s(x)(1 + x(1 - s(x)))  read dy, x, dx, write dx   16 B
//   exp          y = e^x                         read x, write y             8 B
//   axpy         y += s x                        read x, y, write y         12 B
//   add          y = a + b, same shape           read a, b, write y         12 B
//   add_bias     y = a + b, b (1, C, 1, 1)       read a, write y             8 B
//   group_norm_fwd (8 groups, with mean/rstd)    read x, write y             8 B
//   group_norm_bwd dx += ..., dw, db             read dy, x, dx, write dx   16 B
//   adam         p, m, v from g (lr 1e-3)         read p, g, m, v, write p, m, v   28 B
// There is no outside reference here: PyTorch's versions of these run inside its training step.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/kernels/kernels.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/shape.h"

using namespace fw;

namespace {

constexpr int64_t N = 64, C = 32, H = 28, W = 28, G = 8, kNumel = N * C * H * W;

enum Op { kSiluFwd, kSiluBwd, kExp, kAxpy, kAdd, kAddBias, kGroupNormFwd, kGroupNormBwd, kAdam };
const char* kOpNames[] = {"silu_fwd",       "silu_bwd",       "exp", "axpy", "add", "add_bias",
                          "group_norm_fwd", "group_norm_bwd", "adam"};
const double kBytesPerElement[] = {8, 16, 8, 12, 12, 8, 8, 16, 28};

std::vector<float> random_floats(int64_t n, uint64_t seed, float lo = -2, float hi = 2) {
    std::vector<float> v((size_t)n);
    Generator g(seed);
    g.uniform(v.data(), n, lo, hi);
    return v;
}

void run(benchmark::State& state, Op op, CpuPath path, int threads) {
    const Kernels& k = cpu_kernels(path);
    set_num_threads(threads);
    std::vector<float> x = random_floats(kNumel, 1), b = random_floats(kNumel, 2), dy = random_floats(kNumel, 3),
                       y(kNumel), dx(kNumel);
    std::vector<float> gamma = random_floats(C, 4, 0.5f, 1.5f), beta = random_floats(C, 5), mean(N * G), rstd(N * G),
                       dgamma(C), dbeta(C);
    const Shape shape = {N, C, H, W}, bias_shape = {1, C, 1, 1};
    const BroadcastMap same = make_broadcast_map(shape, shape), bias = make_broadcast_map(bias_shape, shape);
    const GroupNormShape gs{N, C, H * W, G, 1e-5f};
    std::vector<float> adam_m = random_floats(kNumel, 6, -0.01f, 0.01f), adam_v = random_floats(kNumel, 7, 0, 1e-4f);
    const AdamStep adam{1e-3f, 0.0f, 1e-8f, 0.9f, 0.999f, 1e-2f, 0.1f, false};  // a step's constants (step ~10)
    k.group_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), gamma.data(), beta.data(), gs);  // for bwd
    for (auto _ : state) {
        switch (op) {
            case kSiluFwd: k.silu_forward(y.data(), x.data(), kNumel); break;
            case kSiluBwd: k.silu_backward(dx.data(), dy.data(), x.data(), kNumel); break;
            case kExp: k.exp_forward(y.data(), x.data(), kNumel); break;
            case kAxpy: k.axpy(y.data(), x.data(), 1e-3f, kNumel); break;
            case kAdd: k.add_forward(y.data(), x.data(), same, b.data(), same); break;
            case kAddBias: k.add_forward(y.data(), x.data(), same, b.data(), bias); break;
            case kGroupNormFwd:
                k.group_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), gamma.data(), beta.data(), gs);
                break;
            case kGroupNormBwd:
                k.group_norm_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(), mean.data(),
                                      rstd.data(), gamma.data(), gs);
                break;
            case kAdam: {
                float *p = x.data(), *m = adam_m.data(), *v = adam_v.data();
                const float* g = dy.data();
                k.adam_update(&p, &g, &m, &v, &kNumel, 1, adam);
                break;
            }
        }
        benchmark::DoNotOptimize(y.data());
        benchmark::DoNotOptimize(dx.data());
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] =
        benchmark::Counter(kBytesPerElement[op] * kNumel / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
    for (int threads : {1, 2})
        for (Op op : {kSiluFwd, kSiluBwd, kExp, kAxpy, kAdd, kAddBias, kGroupNormFwd, kGroupNormBwd, kAdam})
            for (CpuPath path : supported_cpu_paths()) {
                std::string name = std::string("elementwise/") + kOpNames[op] + "/" + cpu_path_name(path) +
                                   "/threads:" + std::to_string(threads);
                benchmark::RegisterBenchmark(name.c_str(),
                                             [op, path, threads](benchmark::State& st) { run(st, op, path, threads); })
                    ->UseRealTime()
                    ->Unit(benchmark::kMicrosecond);
            }
}

}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
