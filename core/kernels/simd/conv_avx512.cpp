// The AVX-512 conv2d kernels: the shared bodies of conv_simd.inc on the AVX-512 vector layer
// (vec_avx512.h) and this path's GEMM micro-kernel. Only called after CPUID said the CPU has AVX-512
// (core/cpu.cpp).
//
// Scalar reference: core/kernels/ref/conv_ref.cpp (the direct sum); tested against it by
// tests/test_conv_simd.cpp.
#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "core/kernels/simd/conv_gemm.h"
#include "core/kernels/simd/gemm_blocked.h"
#include "core/kernels/simd/scratch.h"
#include "core/kernels/simd/simd.h"
#include "core/kernels/simd/vec_avx512.h"
#include "core/parallel.h"

namespace fw::avx512 {
#include "core/kernels/simd/conv_simd.inc"
}  // namespace fw::avx512
