// Shared by the CUDA tests: the mark of the cases that need a GPU, and host <-> device helpers.
// A case marked `* cuda_only()` joins the suite "cuda-gpu"; without a usable GPU, tests/main.cpp
// excludes that suite (doctest counts its cases as skipped, never failed) and prints one line
// saying why. The device is asked in main(), not while the cases register: the CUDA runtime may
// not be called before main. The cases without the mark run on any machine.
#pragma once

#include <vector>

#include <doctest/doctest.h>

#include "core/cuda/backend.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace fw::test {

constexpr const char* kGpuSuite = "cuda-gpu";  // `run_tests -ts='cuda*'` runs it with the suite "cuda"
inline doctest::test_suite cuda_only() { return doctest::test_suite(kGpuSuite); }

inline Tensor on_gpu(const std::vector<float>& v) { return Tensor::from_vector({(int64_t)v.size()}, v, Device::CUDA); }

// n values from the CPU Philox stream, uniform in [lo, hi)
inline std::vector<float> random_values(int64_t n, uint64_t seed, float lo = -2.0f, float hi = 2.0f) {
    std::vector<float> v((size_t)n);
    Generator g(seed);
    g.uniform(v.data(), n, lo, hi);
    return v;
}

}  // namespace fw::test
