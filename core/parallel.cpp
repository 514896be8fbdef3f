// The thread pool behind parallel_for (core/parallel.h).
//
// One job at a time: the caller publishes (task, n) and a new generation number, works on the
// tasks itself, and waits until every pool thread that joined the job has left it. Tasks are
// handed out by one atomic counter (dynamic schedule). Waiting, on both sides, is a short spin
// followed by sleeping on a condition variable:
//   - a pool thread spins up to kSpinMicroseconds for the next job (ops follow each other within
//     microseconds in a training step, and waking a sleeping thread costs a system call on one
//     side and a scheduler wake-up, tens of microseconds on this VM, on the other);
//   - the caller, done with its tasks, spins up to kSpinMicroseconds for the pool threads' last
//     tasks, then sleeps. Sleeping leaves the core idle, so the kernel moves a descheduled partner
//     onto it; a spinning waiter (OpenMP's default) keeps that core busy doing nothing.
#include "core/parallel.h"

#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "core/error.h"

namespace fw {

namespace {

// How long a waiting thread spins before it sleeps. Measured with it (2-core AMD EPYC VM, FMA peak
// ~450 GFLOP/s at 2 threads; bench_train_step, two alternating runs of each build):
//                                          OpenMP (libgomp)   this pool
//   training step, 2 threads, idle           291, 329           327, 324   images/s
//   the same, one other process busy         127, 118           206, 199   (PyTorch: 142 -> 53)
//   DDPM sampling step, 2 threads            53.6, 60.9         60.8, 60.5 s / 1000 steps
//   2000 jobs of 16 tasks of ~1 us           11.6-16.9          8.7-9.7    us per job
constexpr int kSpinMicroseconds = 50;

thread_local bool t_inside = false;  // this thread is a pool thread or a caller inside run()

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
}

// Spins until done() or kSpinMicroseconds have passed; returns done().
template <typename Done>
bool spin_until(Done&& done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicroseconds);
    for (;;) {
        for (int k = 0; k < 64; ++k) {
            if (done()) return true;
            cpu_relax();
        }
        if (std::chrono::steady_clock::now() >= until) return done();
    }
}

class Pool {
public:
    void run(int64_t n, parallel_detail::Task task, void* context, int threads) {
        std::unique_lock<std::mutex> one_job(job_mu_, std::try_to_lock);
        if (!one_job.owns_lock()) {  // another thread of the program is using the pool: run serially
            for (int64_t i = 0; i < n; ++i) task(context, i);
            return;
        }
        start_workers(threads - 1);
        bool wake = false;
        {
            std::lock_guard<std::mutex> lock(mu_);
            task_ = task;
            context_ = context;
            n_ = n;
            wanted_ = threads - 1;
            open_ = true;
            error_ = nullptr;
            next_.store(0, std::memory_order_relaxed);
            generation_.fetch_add(1, std::memory_order_release);
            wake = sleeping_ > 0;
        }
        if (wake) work_cv_.notify_all();

        t_inside = true;
        work(task, context, n);
        t_inside = false;

        // the pool threads' last tasks: spin a little, then sleep until they have left the job
        spin_until([&] { return active_.load(std::memory_order_acquire) == 0; });
        std::exception_ptr error;
        {
            std::unique_lock<std::mutex> lock(mu_);
            open_ = false;  // a thread waking up late no longer joins
            done_cv_.wait(lock, [&] { return active_.load(std::memory_order_relaxed) == 0; });
            error = error_;
            error_ = nullptr;
        }
        if (error) std::rethrow_exception(error);
    }

private:
    // Tasks from the shared counter until none are left.
    void work(parallel_detail::Task task, void* context, int64_t n) {
        for (int64_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < n;) {
            try {
                task(context, i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu_);
                if (!error_) error_ = std::current_exception();
                next_.store(n, std::memory_order_relaxed);  // hand out nothing more
            }
        }
    }

    void start_workers(int count) {
        while ((int)workers_.size() < count) {
            const int index = (int)workers_.size();
            workers_.emplace_back([this, index] { worker(index); });
        }
    }

    void worker(int index) {
        t_inside = true;
        uint64_t seen = 0;
        for (;;) {
            spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
            std::unique_lock<std::mutex> lock(mu_);
            while (generation_.load(std::memory_order_relaxed) == seen) {
                ++sleeping_;
                work_cv_.wait(lock);
                --sleeping_;
            }
            seen = generation_.load(std::memory_order_relaxed);
            if (!open_ || index >= wanted_) continue;  // this job is over, or wants fewer threads
            const parallel_detail::Task task = task_;
            void* const context = context_;
            const int64_t n = n_;
            active_.fetch_add(1, std::memory_order_relaxed);
            lock.unlock();
            work(task, context, n);
            lock.lock();
            if (active_.fetch_sub(1, std::memory_order_release) == 1) done_cv_.notify_all();
        }
    }

    std::mutex job_mu_;  // held by the caller for a whole job
    std::mutex mu_;      // guards the job's description below and the sleep/wake handshakes
    std::condition_variable work_cv_, done_cv_;
    std::vector<std::thread> workers_;  // never joined: the pool lives as long as the program
    std::atomic<uint64_t> generation_{0};  // one more per job
    parallel_detail::Task task_ = nullptr;
    void* context_ = nullptr;
    int64_t n_ = 0;
    int wanted_ = 0;    // pool threads this job may use (threads - 1)
    bool open_ = false;  // pool threads may still join the job
    int sleeping_ = 0;   // pool threads waiting on work_cv_
    std::atomic<int64_t> next_{0};  // the next task to hand out
    std::atomic<int> active_{0};    // pool threads inside the job
    std::exception_ptr error_;      // the first exception a task threw
};

// Never destroyed: pool threads sleeping at exit end with the process, and a program that exits
// from inside a task (a signal handler's _exit, std::exit in a test) does not wait for them.
Pool& pool() {
    static Pool* p = new Pool;
    return *p;
}

int g_threads = 0;  // 0 = not set: OMP_NUM_THREADS, else the cores this process may use

int default_threads() {
    if (const char* env = std::getenv("OMP_NUM_THREADS")) {
        char* end = nullptr;
        const long v = std::strtol(env, &end, 10);
        if (end == env || *end != '\0' || v < 1 || v > 1024)
            fail("OMP_NUM_THREADS='", env, "': expected a whole number of threads from 1 to 1024");
        return (int)v;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    const unsigned hw = std::thread::hardware_concurrency();
    return hw > 0 ? (int)hw : 1;
}

}  // namespace

void set_num_threads(int n) {
    if (n < 1) fail("set_num_threads: need at least 1 thread, got ", n);
    g_threads = n;
}

int num_threads() {
    static const int fallback = default_threads();
    return g_threads > 0 ? g_threads : fallback;
}

namespace parallel_detail {

void run(int64_t n, Task task, void* context, int threads) { pool().run(n, task, context, threads); }

bool inside_parallel_region() { return t_inside; }

}  // namespace parallel_detail

}  // namespace fw
