// The AVX-512 concat/slice copies and nearest upsampling: the shared bodies of layout_simd.inc on the
// AVX-512 vector layer (vec_avx512.h). Only called after CPUID said the CPU has AVX-512 (core/cpu.cpp).
//
// Scalar reference: core/kernels/ref/layout_ref.cpp; tested against it by
// tests/test_elementwise_simd.cpp.
#include <algorithm>

#include "core/kernels/simd/simd.h"
#include "core/kernels/simd/vec_avx512.h"
#include "core/parallel.h"

namespace fw::avx512 {
#include "core/kernels/simd/layout_simd.inc"
}  // namespace fw::avx512
