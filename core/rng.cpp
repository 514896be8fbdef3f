#include "core/rng.h"

#include <cmath>

#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/kernels/ref/ref.h"

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

static int64_t blocks_for(int64_t n) { return (n + 3) / 4; }

// The math of both draws is in core/kernels/ref/rng_ref.cpp (and its CUDA twin); here the state.
void Generator::uniform(float* out, int64_t n, float lo, float hi) {
    ref::philox_uniform(out, n, seed_, offset_, lo, hi);
    offset_ += blocks_for(n);
}

void Generator::normal(float* out, int64_t n, float mean, float std) {
    ref::philox_normal(out, n, seed_, offset_, mean, std);
    offset_ += blocks_for(n);
}

// Into a tensor on any device: the same elements as the host overloads, then the same advance.
void Generator::uniform(Tensor& out, float lo, float hi) {
    kernels_for(out.device()).philox_uniform(out.data(), out.numel(), seed_, offset_, lo, hi);
    offset_ += blocks_for(out.numel());
}

void Generator::normal(Tensor& out, float mean, float std) {
    kernels_for(out.device()).philox_normal(out.data(), out.numel(), seed_, offset_, mean, std);
    offset_ += blocks_for(out.numel());
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

Tensor randn(const Shape& shape, Generator& gen, Device device) {
    Tensor t = Tensor::empty(shape, device);
    gen.normal(t);
    return t;
}

Tensor rand_uniform(const Shape& shape, Generator& gen, float lo, float hi, Device device) {
    Tensor t = Tensor::empty(shape, device);
    gen.uniform(t, lo, hi);
    return t;
}

}  // namespace fw
