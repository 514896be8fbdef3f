// The Philox draws of core/kernels/ref/rng_ref.cpp, a block at a time and over the threads: the
// CPU kernel tables' philox_uniform and philox_normal (core/kernels/simd/simd_table.inc).
//
// The reference computes element i on its own: block offset + i/4 (all 10 Philox rounds) and, for
// a normal, the log and sqrt of its (u1, u2) pair, so each block is computed 4 times and each
// radius twice. Here each block is computed once and its 4 elements written from it; each pair's
// radius once for its cos and sin. The operations per element are the reference's, in the same
// order (libm's log, sqrt, cos and sin in double), so the results are the same bits; and an element
// depends only on (seed, offset + i / 4), so the split over threads changes nothing either.
//
// Scalar reference: core/kernels/ref/rng_ref.cpp; tested against it bit for bit by
// tests/test_rng.cpp (odd sizes, odd offsets).
//
// Measurements: the 50,176 normals of one DDPM sampling step (64 images) or of a training step's
// noise, 2-core AMD EPYC (Zen 5), best of 200: the reference 2.40 ms, this 1.05 ms on 1 thread and
// 0.67 ms on 2 (a sampling step of UNet-S takes ~50 ms on 2 threads).
#pragma once

#include <cstdint>

namespace fw {

void philox_uniform_blocks(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi);
void philox_normal_blocks(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);

}  // namespace fw
