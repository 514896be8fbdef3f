// The machine's FMA peak, measured rather than assumed: each thread runs a loop of independent
// AVX-512 (or AVX2) FMAs on registers, enough chains (12) to cover the FMA latency. The
// benchmarks and the profiler (core/watch.h) report their GFLOP/s as a fraction of this number.
#pragma once

namespace fw {

double measure_fma_peak_gflops(int threads);  // cached per thread count

}  // namespace fw
