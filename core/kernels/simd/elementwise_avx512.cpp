// The AVX-512 elementwise kernels: the shared bodies of elementwise_simd.inc on the AVX-512 vector
// layer (vec_avx512.h). Only called after CPUID said the CPU has AVX-512 (core/cpu.cpp).
//
// Scalar reference: core/kernels/ref/elementwise_ref.cpp, activation_ref.cpp, binary_ref.cpp,
// optim_ref.cpp; tested against them by tests/test_elementwise_simd.cpp.
#include <algorithm>
#include <vector>

#include "core/kernels/ref/ref.h"
#include "core/kernels/simd/simd.h"
#include "core/kernels/simd/vec_avx512.h"
#include "core/parallel.h"

namespace fw::avx512 {
#include "core/kernels/simd/elementwise_simd.inc"
}  // namespace fw::avx512
