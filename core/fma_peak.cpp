#include <immintrin.h>

#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "core/fma_peak.h"
#include "core/cpu.h"

namespace fw {

// 12 independent chains of c = c * a + b: 12 FMAs of 16 lanes per iteration, 2 flops each.
__attribute__((target("avx512f,fma"))) static double fma_loop_avx512(long iters) {
    __m512 c[12];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; ++i) c[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; ++it)
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) c[i] = _mm512_fmadd_ps(c[i], a, b);
    __m512 s = c[0];
    for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, c[i]);
    float out[16];
    _mm512_storeu_ps(out, s);  // (not _mm512_reduce_add_ps: g++ 12 warns inside its header)
    return out[0];             // keep the result alive
}

__attribute__((target("avx2,fma"))) static double fma_loop_avx2(long iters) {
    __m256 c[12];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; ++i) c[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iters; ++it)
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) c[i] = _mm256_fmadd_ps(c[i], a, b);
    float out[8];
    __m256 s = c[0];
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, c[i]);
    _mm256_storeu_ps(out, s);
    return out[0];
}

double measure_fma_peak_gflops(int threads) {
    static std::map<int, double> cache;
    if (cache.count(threads)) return cache[threads];
    const bool wide = cpu_path_supported(CpuPath::Avx512);
    const long iters = 50'000'000;
    const double lanes = wide ? 16 : 8;
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
        // one loop per thread, all at once (the caller runs one of them)
        std::vector<double> sink((size_t)threads);
        auto loop = [&](int t) { sink[(size_t)t] = wide ? fma_loop_avx512(iters) : fma_loop_avx2(iters); };
        auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> others;
        for (int t = 1; t < threads; ++t) others.emplace_back(loop, t);
        loop(0);
        for (std::thread& th : others) th.join();
        volatile double keep = 0;  // the loops' results are used, so the loops cannot be dropped
        for (double v : sink) keep = keep + v;
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double gflops = threads * 12.0 * lanes * 2.0 * iters / s / 1e9;
        if (gflops > best) best = gflops;
    }
    return cache[threads] = best;
}

}  // namespace fw
