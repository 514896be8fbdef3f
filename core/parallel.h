// Threads: a small pool of our own (core/parallel.cpp). Work is split by OUTPUT blocks (each
// output element is written by exactly one task, in the same arithmetic order whatever the thread
// count), so a result is bitwise identical for 1 and 2 threads.
//
// The thread count comes from set_num_threads(), else OMP_NUM_THREADS (the variable every
// numeric library reads), else the cores this process may run on.
//
// Why not OpenMP (which this file wrapped before): libgomp's waiting threads spin for ~300,000
// rounds before they sleep, and a program cannot change that (OMP_WAIT_POLICY is read from the
// environment when the library loads). With one other busy process on a 2-core machine, a thread
// spinning at the end of a parallel loop holds the core its descheduled partner needs: the 2-thread
// training step kept 37-39% of its idle speed. The pool's threads spin for at most 50 us and then
// sleep, which frees the core: 63% kept (numbers in parallel.cpp).
#pragma once

#include <cstdint>
#include <type_traits>

namespace fw {

void set_num_threads(int n);  // n >= 1
int num_threads();

namespace parallel_detail {
using Task = void (*)(void* context, int64_t i);
// Runs task(context, i) for every i in [0, n) on `threads` threads, the caller being one of them;
// returns when all are done. An exception thrown by a task stops the handing out of further tasks
// and is rethrown here, once the tasks already running have finished.
void run(int64_t n, Task task, void* context, int threads);
bool inside_parallel_region();  // on a pool thread, or in a caller during run()
}  // namespace parallel_detail

// Runs fn(i) for i in [0, n) over the threads, each task handed to whichever thread is free
// next (dynamic schedule: a thread that lost its core to another process does not hold the
// others up; which thread runs a task never changes its arithmetic). Serial when n is 1, when
// one thread is set, or when already inside a parallel region.
template <typename Fn>
void parallel_for(int64_t n, Fn&& fn) {
    const int threads = num_threads();
    if (n <= 1 || threads <= 1 || parallel_detail::inside_parallel_region()) {
        for (int64_t i = 0; i < n; ++i) fn(i);
        return;
    }
    using F = std::remove_reference_t<Fn>;
    parallel_detail::run(
        n, [](void* context, int64_t i) { (*static_cast<F*>(context))(i); },
        const_cast<void*>(static_cast<const void*>(&fn)), threads);
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
