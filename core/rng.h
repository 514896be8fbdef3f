// A seeded, counter-based random number generator: Philox4x32-10 (Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3", SC'11), the generator cuRAND and PyTorch use for this.
//
// Counter-based means: the n-th block of 4 random 32-bit words is a pure function
// philox(key = seed, counter = n). Nothing is carried from one draw to the next except the
// counter, so
//   * element i of a draw does not depend on how the work is split across threads, and
//   * the same (seed, counter) gives the same numbers on the CPU and (later) on a GPU.
// The Generator's whole state is (seed, offset): offset = how many blocks have been used.
// Saving and restoring those two numbers replays a run exactly.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace fw {

// One Philox4x32-10 block: 4 random words from a 128-bit counter and a 64-bit key
// (words little-end first, as in the Random123 reference and its known-answer tests).
struct Philox4 {
    uint32_t v[4];
};
Philox4 philox4x32_10(Philox4 counter, uint32_t key0, uint32_t key1);
// The generator's use: counter = (block index, 0, 0, 0), key = seed.
inline Philox4 philox_block(uint64_t block, uint64_t seed) {
    return philox4x32_10({{(uint32_t)block, (uint32_t)(block >> 32), 0u, 0u}}, (uint32_t)seed, (uint32_t)(seed >> 32));
}

class Generator {
public:
    explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}

    uint64_t seed() const { return seed_; }
    uint64_t offset() const { return offset_; }  // blocks consumed so far
    void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }

    // Fill n values; element i comes from block offset + i/4, word i%4 (normals: see rng.cpp).
    // Each call then advances offset past the blocks it used.
    void uniform(float* out, int64_t n, float lo = 0.0f, float hi = 1.0f);  // in [lo, hi)
    void normal(float* out, int64_t n, float mean = 0.0f, float std = 1.0f);
    void integers(int32_t* out, int64_t n, int32_t lo, int32_t hi);         // in [lo, hi)
    // The same draws into a tensor on any device (a CUDA tensor is filled by a CUDA kernel:
    // uniforms bit-identical to the CPU's, normals equal up to the last bits of double log/cos).
    void uniform(Tensor& out, float lo = 0.0f, float hi = 1.0f);
    void normal(Tensor& out, float mean = 0.0f, float std = 1.0f);

private:
    uint64_t seed_, offset_;
};

Tensor randn(const Shape& shape, Generator& gen, Device device = Device::CPU);  // N(0, 1)
Tensor rand_uniform(const Shape& shape, Generator& gen, float lo = 0.0f, float hi = 1.0f,
                    Device device = Device::CPU);

}  // namespace fw
