// Threads: a thin layer over OpenMP. Work is split by OUTPUT blocks (each output element is
// written by exactly one task, in the same arithmetic order whatever the thread count), so a
// result is bitwise identical for 1 and 2 threads.
//
// The thread count comes from set_num_threads(), else OMP_NUM_THREADS, else all cores.
#pragma once

#include <cstdint>

namespace fw {

void set_num_threads(int n);  // n >= 1
int num_threads();

// Runs fn(i) for i in [0, n) over the threads, each task handed to whichever thread is free
// next (dynamic schedule: a thread that lost its core to another process does not hold the
// others up; which thread runs a task never changes its arithmetic). Serial when n is 1, when
// one thread is set, or when already inside a parallel region.
template <typename Fn>
void parallel_for(int64_t n, Fn&& fn) {
#if defined(_OPENMP)
    const bool parallel = n > 1 && num_threads() > 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(num_threads()) if (parallel)
    for (int64_t i = 0; i < n; ++i) fn(i);
#else
    for (int64_t i = 0; i < n; ++i) fn(i);
#endif
}

}  // namespace fw
