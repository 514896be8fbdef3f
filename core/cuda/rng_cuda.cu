// CUDA twin of core/kernels/ref/rng_ref.cpp: the Philox4x32-10 stream of core/rng.h on the device.
// Element i of a draw comes from block (offset + i/4), word i%4, of philox(counter = block,
// key = seed), exactly as on the CPU; one thread computes one block and writes its 4 elements.
//
// Uniforms are bitwise equal to the CPU's: the word -> float conversion is exact and the affine
// map is written with __fmul_rn/__fadd_rn, which the compiler may not fuse into an FMA (the CPU
// rounds the product and the sum separately). Normals use double log/sqrt/cos/sin like the CPU;
// CUDA's double functions are within 1-2 double ulps of glibc's, so after rounding to float the
// values are equal or (rarely) one float ulp apart.
#include "core/cuda/kernels_cuda.h"

namespace fw::cuda {

// Philox4x32-10, as in core/rng.cpp: ten rounds of two 32x32->64 multiplies and xors.
__device__ inline uint4 philox_block(uint64_t block, uint64_t seed) {
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;  // multipliers
    const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;  // key bumps
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32), c2 = 0u, c3 = 0u;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        const uint64_t p0 = (uint64_t)M0 * c0;
        const uint64_t p1 = (uint64_t)M1 * c2;
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        const uint32_t n1 = (uint32_t)p1;
        const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        const uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += W0;
        k1 += W1;
    }
    return make_uint4(c0, c1, c2, c3);
}

// A 32-bit word -> a float in [0, 1) with 24 random bits (exact: 24 bits times a power of 2).
__device__ inline float to_unit(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

// thread = block number b of this draw: elements 4b .. 4b+3 (those below n)
__global__ void philox_uniform_kernel(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
    const int64_t b = global_index();
    if (b * 4 >= n) return;
    const uint4 r = philox_block(offset + (uint64_t)b, seed);
    const uint32_t words[4] = {r.x, r.y, r.z, r.w};
    for (int lane = 0; lane < 4 && b * 4 + lane < n; ++lane)
        out[b * 4 + lane] = __fadd_rn(lo, __fmul_rn(hi - lo, to_unit(words[lane])));  // lo + (hi - lo) u
}

// Box-Muller on the pairs (v0, v1) and (v2, v3): lane 0 = r cos, lane 1 = r sin of the first pair,
// lanes 2, 3 likewise of the second;  r = sqrt(-2 ln u1), angle 2 pi u2, u1 = 1 - unit in (0, 1].
__global__ void philox_normal_kernel(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
    const int64_t b = global_index();
    if (b * 4 >= n) return;
    const double two_pi = 6.283185307179586;
    const uint4 r4 = philox_block(offset + (uint64_t)b, seed);
    const uint32_t words[4] = {r4.x, r4.y, r4.z, r4.w};
    for (int lane = 0; lane < 4 && b * 4 + lane < n; ++lane) {
        const int pair = lane / 2;
        const double u1 = 1.0 - (double)to_unit(words[2 * pair]);
        const double u2 = (double)to_unit(words[2 * pair + 1]);
        const double r = sqrt(-2.0 * log(u1));
        const double z = (lane % 2 == 0) ? r * cos(two_pi * u2) : r * sin(two_pi * u2);
        out[b * 4 + lane] = __fadd_rn(mean, __fmul_rn(std, (float)z));  // mean + std z, unfused
    }
}

void philox_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
    const int64_t blocks = (n + 3) / 4;
    FW_LAUNCH_1D(philox_uniform_kernel, blocks, out, n, seed, offset, lo, hi);
}
void philox_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
    const int64_t blocks = (n + 3) / 4;
    FW_LAUNCH_1D(philox_normal_kernel, blocks, out, n, seed, offset, mean, std);
}

}  // namespace fw::cuda
