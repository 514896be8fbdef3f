// The AVX2 Adam, EMA and sum-of-squares kernels: the shared bodies of optim_simd.inc on the
// AVX2 vector layer (vec_avx2.h). Only called after CPUID said the CPU has AVX2 (core/cpu.cpp).
#include <algorithm>
#include <vector>

#include "core/kernels/simd.h"
#include "core/kernels/vec_avx2.h"
#include "core/parallel.h"

namespace fw::avx2 {
#include "core/kernels/optim_simd.inc"
}  // namespace fw::avx2
