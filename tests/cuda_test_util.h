// Shared by the CUDA tests: whether to skip them (with one line saying why, printed once), and
// host <-> device helpers. Without a usable GPU every test case marked `* cuda_only()` is skipped
// (doctest counts it as skipped, never failed); the cases without it run on any machine.
#pragma once

#include <cstdio>
#include <vector>

#include <doctest/doctest.h>

#include "core/cuda/backend.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace fw::test {

// Evaluated while doctest registers the test cases (before main): asks the driver once.
inline bool cuda_missing() {
    static const bool missing = [] {
        const bool m = !cuda_available();
        if (m) std::printf("[cuda] skipping the GPU test cases (test suite 'cuda'): %s\n", cuda_unavailable_reason().c_str());
        return m;
    }();
    return missing;
}
inline doctest::skip cuda_only() { return doctest::skip(cuda_missing()); }

inline Tensor on_gpu(const std::vector<float>& v) { return Tensor::from_vector({(int64_t)v.size()}, v, Device::CUDA); }

// n values from the CPU Philox stream, uniform in [lo, hi)
inline std::vector<float> random_values(int64_t n, uint64_t seed, float lo = -2.0f, float hi = 2.0f) {
    std::vector<float> v((size_t)n);
    Generator g(seed);
    g.uniform(v.data(), n, lo, hi);
    return v;
}

}  // namespace fw::test
