// Claims about the Philox generator: known answers, reproducibility, position independence,
// and the statistics of uniform, normal and integer draws.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/kernels/ref/ref.h"
#include "core/kernels/rng_blocks.h"
#include "core/parallel.h"
#include "core/rng.h"

using namespace fw;

TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors") {
    // From Random123's kat_vectors (philox4x32 10 rounds): counter, key -> output.
    Philox4 z = philox4x32_10({{0, 0, 0, 0}}, 0, 0);
    CHECK(z.v[0] == 0x6627e8d5u);
    CHECK(z.v[1] == 0xe169c58du);
    CHECK(z.v[2] == 0xbc57ac4cu);
    CHECK(z.v[3] == 0x9b00dbd8u);
    Philox4 f = philox4x32_10({{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu);
    CHECK(f.v[0] == 0x408f276du);
    CHECK(f.v[1] == 0x41c83b0eu);
    CHECK(f.v[2] == 0xa20bc7c6u);
    CHECK(f.v[3] == 0x6d5451fdu);
    Philox4 p = philox4x32_10({{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u);
    CHECK(p.v[0] == 0xd16cfe09u);
    CHECK(p.v[1] == 0x94fdccebu);
    CHECK(p.v[2] == 0x5001e420u);
    CHECK(p.v[3] == 0x24126ea1u);
}

TEST_CASE("the same seed gives the same numbers; another seed gives others") {
    Generator a(42), b(42), c(43);
    std::vector<float> x(10), y(10), z(10);
    a.normal(x.data(), 10);
    b.normal(y.data(), 10);
    c.normal(z.data(), 10);
    CHECK(x == y);
    CHECK(x != z);
}

TEST_CASE("element i does not depend on how many are drawn in the call (counter-based)") {
    Generator a(5), b(5);
    std::vector<float> few(7), many(1001);
    a.normal(few.data(), 7);
    b.normal(many.data(), 1001);
    for (int i = 0; i < 7; ++i) CHECK(few[i] == many[i]);
}

TEST_CASE("saving (seed, offset) and restoring it replays the stream") {
    Generator a(9);
    std::vector<float> first(5), second(5), replay(5);
    a.uniform(first.data(), 5);
    uint64_t seed = a.seed(), offset = a.offset();
    a.uniform(second.data(), 5);
    Generator b(0);
    b.set_state(seed, offset);
    b.uniform(replay.data(), 5);
    CHECK(second == replay);
    CHECK(offset == 2);  // 5 values used ceil(5/4) = 2 blocks
}

TEST_CASE("uniform draws have mean 1/2 and variance 1/12 within 5 standard errors") {
    const int n = 200000;
    Generator g(1);
    std::vector<float> u(n);
    g.uniform(u.data(), n);
    double s = 0, s2 = 0;
    int outside = 0;
    for (float v : u) {
        outside += !(v >= 0.0f && v < 1.0f);
        s += v;
        s2 += (double)v * v;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    CHECK(outside == 0);
    CHECK(std::fabs(mean - 0.5) < 5 * std::sqrt(1.0 / 12 / n));  // SE of the mean = sqrt(var/n)
    // SE of the variance of U(0,1) = sqrt((mu4 - var^2)/n), mu4 = 1/80
    CHECK(std::fabs(var - 1.0 / 12) < 5 * std::sqrt((1.0 / 80 - 1.0 / 144) / n));
}

TEST_CASE("normal draws have mean 0, variance 1 and kurtosis 3 within 5 standard errors") {
    const int n = 200000;
    Generator g(2);
    Tensor z = randn({n}, g);
    double s = 0, s2 = 0, s4 = 0;
    for (int64_t i = 0; i < n; ++i) {
        double v = z.data()[i];
        s += v;
        s2 += v * v;
        s4 += v * v * v * v;
    }
    CHECK(std::fabs(s / n) < 5 * std::sqrt(1.0 / n));          // SE(mean) = 1/sqrt(n)
    CHECK(std::fabs(s2 / n - 1.0) < 5 * std::sqrt(2.0 / n));   // SE(E z^2) = sqrt(2/n)
    CHECK(std::fabs(s4 / n - 3.0) < 5 * std::sqrt(96.0 / n));  // SE(E z^4) = sqrt((105 - 9)/n)
}

TEST_CASE("integers cover [lo, hi) evenly (chi-square over 10 bins)") {
    const int n = 100000, bins = 10;
    Generator g(3);
    std::vector<int32_t> k(n);
    g.integers(k.data(), n, 1, 11);
    std::vector<int> count(bins, 0);
    int outside = 0;
    for (int32_t v : k) {
        if (v >= 1 && v <= 10) ++count[v - 1];
        else ++outside;
    }
    CHECK(outside == 0);
    double chi2 = 0, expected = (double)n / bins;
    for (int c : count) chi2 += (c - expected) * (c - expected) / expected;
    CHECK(chi2 < 27.9);  // chi-square with 9 degrees of freedom: P(> 27.9) = 0.001
    CHECK_THROWS_AS(g.integers(k.data(), 1, 5, 5), Error);
}

TEST_CASE("the CPU tables' block-wise draws equal the reference bit for bit, on 1 and 2 threads") {
    // rng_blocks.cpp computes each block once and splits the blocks over the threads; the
    // operations per element are the reference's, so every float must match exactly. Odd sizes
    // (a last block with 1, 2 or 3 elements), offsets past 2^32 (the counter's high word), and a
    // guard after the n values that must stay untouched.
    const int64_t sizes[] = {1, 2, 3, 5, 7, 13, 4097, 16387, 50001};
    const uint64_t offsets[] = {0, 3, (uint64_t(1) << 33) + 5};
    const int threads_before = num_threads();
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        for (int64_t n : sizes)
            for (uint64_t offset : offsets) {
                CAPTURE(threads);
                CAPTURE(n);
                CAPTURE(offset);
                std::vector<float> ref_u((size_t)n), ref_z((size_t)n), u((size_t)n + 1, -7.0f), z((size_t)n + 1, -7.0f);
                ref::philox_uniform(ref_u.data(), n, 42, offset, -1.0f, 3.0f);
                ref::philox_normal(ref_z.data(), n, 42, offset, 0.5f, 2.0f);
                philox_uniform_blocks(u.data(), n, 42, offset, -1.0f, 3.0f);
                philox_normal_blocks(z.data(), n, 42, offset, 0.5f, 2.0f);
                CHECK(std::memcmp(u.data(), ref_u.data(), (size_t)n * sizeof(float)) == 0);
                CHECK(std::memcmp(z.data(), ref_z.data(), (size_t)n * sizeof(float)) == 0);
                CHECK(u[(size_t)n] == -7.0f);
                CHECK(z[(size_t)n] == -7.0f);
            }
    }
    set_num_threads(threads_before);
}
