#include "core/rng.h"

#include <cmath>

#include "core/error.h"

namespace fw {

// Philox4x32-10: ten rounds of two 32x32->64 multiplies and xors, bumping the key each round.
// Constants from the paper (and from cuRAND's curand_philox4x32_x.h).
Philox4 philox4x32_10(Philox4 counter, uint32_t k0, uint32_t k1) {
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;  // multipliers
    const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;  // key bumps (golden ratio, sqrt(3)-1)
    uint32_t c0 = counter.v[0], c1 = counter.v[1], c2 = counter.v[2], c3 = counter.v[3];
    for (int round = 0; round < 10; ++round) {
        uint64_t p0 = (uint64_t)M0 * c0;
        uint64_t p1 = (uint64_t)M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += W0;
        k1 += W1;
    }
    return {{c0, c1, c2, c3}};
}

// A 32-bit word -> a float in [0, 1) with 24 random bits (all a float mantissa can hold).
static inline float to_unit(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

static int64_t blocks_for(int64_t n) { return (n + 3) / 4; }

void Generator::uniform(float* out, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; ++i) {
        Philox4 b = philox_block(offset_ + (uint64_t)(i / 4), seed_);
        out[i] = lo + (hi - lo) * to_unit(b.v[i % 4]);
    }
    offset_ += blocks_for(n);
}

// Box-Muller: from u1 in (0, 1] and u2 in [0, 1),
//   r = sqrt(-2 ln u1),  z0 = r cos(2 pi u2),  z1 = r sin(2 pi u2)   are two independent N(0, 1).
// A block's 4 words make two (u1, u2) pairs, so block b gives normals 4b .. 4b+3:
//   lane 0 = pair (v0, v1) cos, lane 1 = pair (v0, v1) sin, lane 2 = (v2, v3) cos, lane 3 = (v2, v3) sin.
// Computed in double so the tails are right (u1 as small as 2^-24 gives |z| up to ~5.8).
void Generator::normal(float* out, int64_t n, float mean, float std) {
    const double two_pi = 6.283185307179586;
    for (int64_t i = 0; i < n; ++i) {
        Philox4 b = philox_block(offset_ + (uint64_t)(i / 4), seed_);
        int lane = (int)(i % 4), pair = lane / 2;
        double u1 = 1.0 - (double)to_unit(b.v[2 * pair]);  // (0, 1]: log is finite
        double u2 = (double)to_unit(b.v[2 * pair + 1]);
        double r = std::sqrt(-2.0 * std::log(u1));
        double z = (lane % 2 == 0) ? r * std::cos(two_pi * u2) : r * std::sin(two_pi * u2);
        out[i] = mean + std * (float)z;
    }
    offset_ += blocks_for(n);
}

// Lemire's multiply-shift: floor(w * range / 2^32). Its bias is at most range / 2^32
// (2.3e-7 for range = 1000), far below anything a test or a training run can see.
void Generator::integers(int32_t* out, int64_t n, int32_t lo, int32_t hi) {
    if (hi <= lo) fail("Generator::integers: empty range [", lo, ", ", hi, ")");
    uint64_t range = (uint64_t)((int64_t)hi - lo);
    for (int64_t i = 0; i < n; ++i) {
        Philox4 b = philox_block(offset_ + (uint64_t)(i / 4), seed_);
        out[i] = lo + (int32_t)(((uint64_t)b.v[i % 4] * range) >> 32);
    }
    offset_ += blocks_for(n);
}

Tensor randn(const Shape& shape, Generator& gen) {
    Tensor t = Tensor::empty(shape);
    gen.normal(t.data(), t.numel());
    return t;
}

Tensor rand_uniform(const Shape& shape, Generator& gen, float lo, float hi) {
    Tensor t = Tensor::empty(shape);
    gen.uniform(t.data(), t.numel(), lo, hi);
    return t;
}

}  // namespace fw
