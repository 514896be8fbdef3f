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

// parallel_for over n small items, `per_task` consecutive items to a task (the last task may have
// fewer), fn(i) still called once per item in order: for items too small to be worth a dispatch
// each. Handing out one task costs an atomic on a cache line both cores share (~0.2 us here);
// 8192 planes of 7 x 7 as single tasks made upsample2x 3x slower on 2 threads than on 1.
template <typename Fn>
void parallel_for_grouped(int64_t n, int64_t per_task, Fn&& fn) {
    per_task = per_task < 1 ? 1 : per_task;
    parallel_for((n + per_task - 1) / per_task, [&](int64_t t) {
        const int64_t end = (t + 1) * per_task < n ? (t + 1) * per_task : n;
        for (int64_t i = t * per_task; i < end; ++i) fn(i);
    });
}

// Floats of work worth one task of parallel_for_grouped: 64 KiB, as the elementwise kernels' chunks.
constexpr int64_t kTaskFloats = 16384;

}  // namespace fw
