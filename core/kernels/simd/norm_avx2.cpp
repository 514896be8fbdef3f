// The AVX2 group_norm kernels: the shared bodies of norm_simd.inc on the AVX2 vector layer
// (vec_avx2.h). Only called after CPUID said the CPU has AVX2 (core/cpu.cpp).
//
// Scalar reference: core/kernels/ref/norm_ref.cpp; tested against it by tests/test_norm_simd.cpp.
#include <algorithm>
#include <cmath>

#include "core/kernels/simd/scratch.h"
#include "core/kernels/simd/simd.h"
#include "core/kernels/simd/vec_avx2.h"
#include "core/parallel.h"

namespace fw::avx2 {
#include "core/kernels/simd/norm_simd.inc"
}  // namespace fw::avx2
