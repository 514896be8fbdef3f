// The AVX-512 group_norm kernels: the shared bodies of norm_simd.inc on the AVX-512 vector layer
// (vec_avx512.h). Only called after CPUID said the CPU has AVX-512 (core/cpu.cpp).
//
// Scalar reference: core/kernels/ref/norm_ref.cpp; tested against it by tests/test_norm_simd.cpp.
#include <algorithm>
#include <cmath>

#include "core/kernels/simd/scratch.h"
#include "core/kernels/simd/simd.h"
#include "core/kernels/simd/vec_avx512.h"
#include "core/parallel.h"

namespace fw::avx512 {
#include "core/kernels/simd/norm_simd.inc"
}  // namespace fw::avx512
