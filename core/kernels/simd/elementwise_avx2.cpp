// The AVX2 elementwise kernels: the shared bodies of elementwise_simd.inc on the AVX2 vector
// layer (vec_avx2.h). Only called after CPUID said the CPU has AVX2 + FMA (core/cpu.cpp).
//
// Scalar reference: core/kernels/ref/elementwise_ref.cpp, activation_ref.cpp, binary_ref.cpp,
// optim_ref.cpp; tested against them by tests/test_elementwise_simd.cpp.
#include <algorithm>
#include <vector>

#include "core/kernels/ref/ref.h"
#include "core/kernels/simd/simd.h"
#include "core/kernels/simd/vec_avx2.h"
#include "core/parallel.h"

namespace fw::avx2 {
#include "core/kernels/simd/elementwise_simd.inc"
}  // namespace fw::avx2
