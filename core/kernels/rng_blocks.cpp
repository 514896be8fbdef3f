#include "core/kernels/rng_blocks.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "core/rng.h"

namespace fw {

// As rng_ref.cpp's: a 32-bit word -> a float in [0, 1) with 24 random bits.
static inline float to_unit(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

// Blocks per task: 4096 blocks are 16,384 floats, the elementwise kernels' task size (kTaskFloats).
constexpr int64_t kBlocksPerTask = kTaskFloats / 4;

// out[4 b + j] = lo + (hi - lo) u_j for the 4 words u_j of block offset + b (the last block's
// words past n unused)
void philox_uniform_blocks(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
    parallel_for_grouped((n + 3) / 4, kBlocksPerTask, [&](int64_t b) {
        const Philox4 w = philox_block(offset + (uint64_t)b, seed);
        const int64_t i0 = 4 * b, words = std::min<int64_t>(4, n - i0);
        for (int64_t j = 0; j < words; ++j) out[i0 + j] = lo + (hi - lo) * to_unit(w.v[j]);
    });
}

// Block offset + b gives normals 4 b .. 4 b + 3 by Box-Muller on its two pairs of words
// (rng_ref.cpp): lane 2 p = r cos(2 pi u2), lane 2 p + 1 = r sin(2 pi u2), r = sqrt(-2 ln u1).
void philox_normal_blocks(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
    const double two_pi = 6.283185307179586;
    parallel_for_grouped((n + 3) / 4, kBlocksPerTask, [&](int64_t b) {
        const Philox4 w = philox_block(offset + (uint64_t)b, seed);
        for (int64_t pair = 0; pair < 2; ++pair) {
            const int64_t i = 4 * b + 2 * pair;
            if (i >= n) break;
            const double u1 = 1.0 - (double)to_unit(w.v[2 * pair]);  // (0, 1]: log is finite
            const double u2 = (double)to_unit(w.v[2 * pair + 1]);
            const double r = std::sqrt(-2.0 * std::log(u1));
            out[i] = mean + std * (float)(r * std::cos(two_pi * u2));
            if (i + 1 < n) out[i + 1] = mean + std * (float)(r * std::sin(two_pi * u2));
        }
    });
}

}  // namespace fw
