// The SIMD kernels, one namespace per instruction set. Each lives in a file compiled with that
// instruction set's flags (see the Makefile), and is only called after CPUID said it can run.
#pragma once

#include <cstdint>

#include "core/kernels/kernels.h"

namespace fw::avx512 {
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc);
}  // namespace fw::avx512

namespace fw::avx2 {
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc);
}  // namespace fw::avx2
