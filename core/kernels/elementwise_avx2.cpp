// The AVX2 elementwise kernels: the shared bodies of elementwise_simd.inc on the AVX2 vector
// layer (vec_avx2.h). Only called after CPUID said the CPU has AVX2 + FMA (core/cpu.cpp).
#include <algorithm>
#include <vector>

#include "core/kernels/ref.h"
#include "core/kernels/simd.h"
#include "core/kernels/vec_avx2.h"
#include "core/parallel.h"

namespace fw::avx2 {
#include "core/kernels/elementwise_simd.inc"
}  // namespace fw::avx2
