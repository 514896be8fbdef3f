// A growable, 64-byte aligned scratch buffer. Kernels keep one per thread (thread_local) and
// reuse it across calls, so the steady state of a training step allocates nothing here.
//
// Scalar reference: none of its own (a buffer); the kernels built on it are tested against theirs
// by tests/test_*_simd.cpp, tests/test_gemm.cpp and tests/test_winograd_ref.cpp.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace fw {

class Scratch {
public:
    Scratch() = default;
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch() { std::free(p_); }

    // At least n floats; the contents are NOT preserved when it grows.
    float* get(size_t n) {
        if (n > n_) {
            std::free(p_);
            n_ = (n + 15) / 16 * 16;
            p_ = static_cast<float*>(std::aligned_alloc(64, n_ * sizeof(float)));
            if (!p_) throw std::bad_alloc();
        }
        return p_;
    }

private:
    float* p_ = nullptr;
    size_t n_ = 0;
};

}  // namespace fw
