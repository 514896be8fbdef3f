// AVX-512 GEMM micro-kernel: a 12 x 32 tile of C in 24 zmm registers.
// Compiled with -mavx512f -mfma; only called when CPUID reports AVX-512F (core/cpu.cpp).
//
// Register plan (32 zmm available):
//   c[i][0], c[i][1]  (24 registers)  C rows i = 0..11, columns 0..15 and 16..31
//   b0, b1            (2 registers)   row k of the B panel: 32 floats
//   a                 (1 register)    A[i, k] broadcast to all 16 lanes
// Per k: 2 loads of B, 12 broadcasts of A, 24 FMAs (c += a * b), i.e. 768 flops.
#include <immintrin.h>

#include "core/kernels/gemm_blocked.h"
#include "core/kernels/simd.h"

namespace fw::avx512 {

static void microkernel_12x32(int64_t K, const float* A, const float* B, float* C, int64_t ldc) {
    __m512 c[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) {
        c[i][0] = _mm512_loadu_ps(C + i * ldc);
        c[i][1] = _mm512_loadu_ps(C + i * ldc + 16);
    }
    for (int64_t k = 0; k < K; ++k) {
        const __m512 b0 = _mm512_load_ps(B + 32 * k);
        const __m512 b1 = _mm512_load_ps(B + 32 * k + 16);
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) {
            const __m512 a = _mm512_set1_ps(A[12 * k + i]);
            c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) {
        _mm512_storeu_ps(C + i * ldc, c[i][0]);
        _mm512_storeu_ps(C + i * ldc + 16, c[i][1]);
    }
}

// KC = 256: a 256 x 32 B panel is 32 KiB (L1); MC = 192: a 192 x 256 A block is 192 KiB (L2).
static const GemmBlocking kBlocking = {12, 32, 256, 192, microkernel_12x32};

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
    gemm_blocked(kBlocking, trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace fw::avx512
