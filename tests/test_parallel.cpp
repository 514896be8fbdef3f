// Claims about the thread pool behind parallel_for (core/parallel.h): every index runs exactly
// once for any n and thread count (more threads than cores included), a parallel_for inside a
// task runs serially on that thread, a task's exception reaches the caller (and the pool works
// afterwards), two program threads may call parallel_for at once, and the writes of every task
// are visible to the caller when parallel_for returns.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"

using namespace fw;

namespace {

// Restores the thread count a test changed.
struct ThreadsGuard {
    int saved = num_threads();
    ~ThreadsGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("parallel_for: every index exactly once, for any n and thread count") {
    ThreadsGuard guard;
    for (int threads : {1, 2, 3, 5}) {
        set_num_threads(threads);
        for (int64_t n : {0, 1, 2, 3, 17, 1000, 4099}) {
            std::vector<std::atomic<int>> hits((size_t)n);
            for (auto& h : hits) h.store(0);
            parallel_for(n, [&](int64_t i) { hits[(size_t)i].fetch_add(1); });
            int wrong = 0;
            for (auto& h : hits) wrong += h.load() != 1;
            CHECK_MESSAGE(wrong == 0, threads, " threads, n = ", n);
        }
    }
}

TEST_CASE("parallel_for: many short jobs in a row, each task's plain writes seen by the caller") {
    ThreadsGuard guard;
    set_num_threads(2);
    std::vector<int64_t> out(64);
    int64_t bad = 0;
    for (int job = 0; job < 3000; ++job) {  // back to back: the pool threads spin, sleep and wake
        parallel_for((int64_t)out.size(), [&](int64_t i) { out[(size_t)i] = job * 1000 + i; });
        for (size_t i = 0; i < out.size(); ++i) bad += out[i] != job * 1000 + (int64_t)i;
    }
    CHECK(bad == 0);
}

TEST_CASE("parallel_for: a parallel_for inside a task runs serially on that task's thread") {
    ThreadsGuard guard;
    set_num_threads(2);
    std::vector<std::atomic<int>> hits(8 * 9);
    for (auto& h : hits) h.store(0);
    std::atomic<int> foreign{0};
    parallel_for(8, [&](int64_t i) {
        const std::thread::id outer = std::this_thread::get_id();
        parallel_for(9, [&](int64_t j) {
            if (std::this_thread::get_id() != outer) foreign.fetch_add(1);
            hits[(size_t)(i * 9 + j)].fetch_add(1);
        });
    });
    int wrong = 0;
    for (auto& h : hits) wrong += h.load() != 1;
    CHECK(wrong == 0);
    CHECK(foreign.load() == 0);
}

TEST_CASE("parallel_for: a task's exception reaches the caller, and the pool works afterwards") {
    ThreadsGuard guard;
    set_num_threads(2);
    for (int64_t bad : {0, 5, 99}) {
        std::atomic<int> ran{0};
        CHECK_THROWS_WITH_AS(parallel_for(100, [&](int64_t i) {
                                 ran.fetch_add(1);
                                 if (i == bad) fail("task ", i, " failed");
                             }),
                             ("task " + std::to_string(bad) + " failed").c_str(), Error);
        CHECK(ran.load() <= 100);
    }
    std::atomic<int64_t> sum{0};
    parallel_for(100, [&](int64_t i) { sum.fetch_add(i); });
    CHECK(sum.load() == 4950);
}

TEST_CASE("parallel_for: two program threads at once (one of them gets the pool, the other runs serially)") {
    ThreadsGuard guard;
    set_num_threads(2);
    std::vector<int64_t> a(5000, 0), b(5000, 0);
    auto fill = [](std::vector<int64_t>& v, int64_t k) {
        for (int rep = 0; rep < 200; ++rep) parallel_for((int64_t)v.size(), [&](int64_t i) { v[(size_t)i] += i * k; });
    };
    std::thread other([&] { fill(b, 3); });
    fill(a, 2);
    other.join();
    int64_t bad = 0;
    for (size_t i = 0; i < a.size(); ++i) bad += a[i] != 200 * 2 * (int64_t)i || b[i] != 200 * 3 * (int64_t)i;
    CHECK(bad == 0);
}

TEST_CASE("set_num_threads: fewer than one thread is an error naming the count") {
    ThreadsGuard guard;
    CHECK_THROWS_WITH_AS(set_num_threads(0), "set_num_threads: need at least 1 thread, got 0", Error);
}
