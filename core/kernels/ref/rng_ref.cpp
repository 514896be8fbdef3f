// Scalar reference kernels for the Philox stream of core/rng.h: element i of a draw comes from
// block (offset + i/4), word i%4, of philox(counter = block, key = seed). The CUDA twin
// (core/cuda/rng_cuda.cu) computes each element from the same (seed, block, word).
#include <cmath>

#include "core/kernels/ref/ref.h"
#include "core/rng.h"

namespace fw::ref {

// A 32-bit word -> a float in [0, 1) with 24 random bits (all a float mantissa can hold).
static inline float to_unit(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

// out[i] = lo + (hi - lo) u,  u = to_unit(word i%4 of block offset + i/4)
void philox_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
    for (int64_t i = 0; i < n; ++i) {
        Philox4 b = philox_block(offset + (uint64_t)(i / 4), seed);
        out[i] = lo + (hi - lo) * to_unit(b.v[i % 4]);
    }
}

// Box-Muller: from u1 in (0, 1] and u2 in [0, 1),
//   r = sqrt(-2 ln u1),  z0 = r cos(2 pi u2),  z1 = r sin(2 pi u2)   are two independent N(0, 1).
// A block's 4 words make two (u1, u2) pairs, so block b gives normals 4b .. 4b+3:
//   lane 0 = pair (v0, v1) cos, lane 1 = pair (v0, v1) sin, lane 2 = (v2, v3) cos, lane 3 = (v2, v3) sin.
// Computed in double so the tails are right (u1 as small as 2^-24 gives |z| up to ~5.8).
void philox_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
    const double two_pi = 6.283185307179586;
    for (int64_t i = 0; i < n; ++i) {
        Philox4 b = philox_block(offset + (uint64_t)(i / 4), seed);
        int lane = (int)(i % 4), pair = lane / 2;
        double u1 = 1.0 - (double)to_unit(b.v[2 * pair]);  // (0, 1]: log is finite
        double u2 = (double)to_unit(b.v[2 * pair + 1]);
        double r = std::sqrt(-2.0 * std::log(u1));
        double z = (lane % 2 == 0) ? r * std::cos(two_pi * u2) : r * std::sin(two_pi * u2);
        out[i] = mean + std * (float)z;
    }
}

}  // namespace fw::ref
