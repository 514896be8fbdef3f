// AVX2 + FMA GEMM micro-kernel: a 6 x 16 tile of C in 12 ymm registers.
// Compiled with -mavx2 -mfma; only called when CPUID reports AVX2 and FMA (core/cpu.cpp).
//
// Register plan (16 ymm available):
//   c[i][0], c[i][1]  (12 registers)  C rows i = 0..5, columns 0..7 and 8..15
//   b0, b1            (2 registers)   row k of the B panel: 16 floats
//   a                 (1 register)    A[i, k] broadcast to all 8 lanes
// Per k: 2 loads of B, 6 broadcasts of A, 12 FMAs, i.e. 192 flops, and while pf lasts one
// prefetch of a line the driver packs next (gemm_blocked.h).
//
// Scalar reference: core/kernels/ref/gemm_ref.cpp; tested against it by tests/test_gemm.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/kernels/simd/gemm_blocked.h"
#include "core/kernels/simd/scratch.h"
#include "core/kernels/simd/simd.h"
#include "core/kernels/simd/vec_avx2.h"
#include "core/parallel.h"

namespace fw::avx2 {

// The packing's transposes (gemm_blocked.inc) in tiles of kTransposeTile x kTransposeTile:
//   dst[c ldd + r] = src[r lds + c]    for r < rows (<= 8), c < 8
// Rows r >= rows are not read, and lanes r >= rows of dst not written (vtranspose: 24 shuffles
// for 64 floats).
constexpr int kTransposeTile = 8;

static void transpose_tile(const float* src, int64_t lds, int rows, float* dst, int64_t ldd) {
    Vec r[8];
    for (int i = 0; i < 8; ++i) r[i] = i < rows ? vload(src + i * lds) : vzero();
    vtranspose(r);  // the vector layer's shuffles (vec_avx2.h)
    for (int c = 0; c < 8; ++c) vstore(dst + c * ldd, r[c], rows);
}

#include "core/kernels/simd/gemm_blocked.inc"

// kAccumulate: C_tile += A B (the tile is loaded first); else C_tile = A B (never read).
// kPack: B's rows are read from the source matrix (row k at Bsrc + k ldb) and written to the
// packed panel B as they are used (the packing micro-kernel of gemm_blocked.h); else B is
// read packed (and never written: the plain kernels' const B is cast for this one signature).
template <bool kAccumulate, bool kPack>
static void microkernel_6x16_impl(int64_t K, const float* A, const float* Bsrc, int64_t ldb, float* B, float* C,
                                  int64_t ldc, const PrefetchRows& pf) {
    __m256 c[6][2];
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
        c[i][0] = kAccumulate ? _mm256_loadu_ps(C + i * ldc) : _mm256_setzero_ps();
        c[i][1] = kAccumulate ? _mm256_loadu_ps(C + i * ldc + 8) : _mm256_setzero_ps();
    }
    const float* pf_row = pf.first;  // the prefetch walk: line pf_line of row pf_row
    int64_t pf_line = 0;
    for (int64_t k = 0; k < K; ++k) {
        if (k < pf.count) {
            _mm_prefetch(reinterpret_cast<const char*>(pf_row + 16 * pf_line), _MM_HINT_T0);
            if (++pf_line == pf.lines) pf_line = 0, pf_row += pf.stride;
        }
        __m256 b0, b1;
        if (kPack) {  // row k of the source, copied into the panel on the way
            b0 = _mm256_loadu_ps(Bsrc + k * ldb);
            b1 = _mm256_loadu_ps(Bsrc + k * ldb + 8);
            _mm256_store_ps(B + 16 * k, b0);
            _mm256_store_ps(B + 16 * k + 8, b1);
        } else {
            b0 = _mm256_load_ps(B + 16 * k);
            b1 = _mm256_load_ps(B + 16 * k + 8);
        }
#pragma GCC unroll 6
        for (int i = 0; i < 6; ++i) {
            const __m256 a = _mm256_broadcast_ss(A + 6 * k + i);
            c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
        _mm256_storeu_ps(C + i * ldc, c[i][0]);
        _mm256_storeu_ps(C + i * ldc + 8, c[i][1]);
    }
}

template <bool kAccumulate>
static void microkernel_6x16(int64_t K, const float* A, const float* B, float* C, int64_t ldc, const PrefetchRows& pf) {
    microkernel_6x16_impl<kAccumulate, false>(K, A, nullptr, 0, const_cast<float*>(B), C, ldc, pf);
}

template <bool kAccumulate>
static void microkernel_6x16_pack(int64_t K, const float* A, const float* Bsrc, int64_t ldb, float* B, float* C,
                                  int64_t ldc, const PrefetchRows& pf) {
    microkernel_6x16_impl<kAccumulate, true>(K, A, Bsrc, ldb, B, C, ldc, pf);
}

// Edge tiles (mr <= 6 rows, nr <= 16 columns of C are real): the same loop, with the C loads
// and stores masked to the real columns (lane j of mask0/mask1 is all-ones if column j / 8+j
// < nr) and the rows past mr neither loaded nor stored.
static void microkernel_6x16_edge(int64_t K, const float* A, const float* B, float* C, int64_t ldc, int mr, int nr) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
    const __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
    __m256 c[6][2];
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
        c[i][0] = i < mr ? _mm256_maskload_ps(C + i * ldc, mask0) : _mm256_setzero_ps();
        c[i][1] = i < mr ? _mm256_maskload_ps(C + i * ldc + 8, mask1) : _mm256_setzero_ps();
    }
    for (int64_t k = 0; k < K; ++k) {
        const __m256 b0 = _mm256_load_ps(B + 16 * k);
        const __m256 b1 = _mm256_load_ps(B + 16 * k + 8);
#pragma GCC unroll 6
        for (int i = 0; i < 6; ++i) {
            const __m256 a = _mm256_broadcast_ss(A + 6 * k + i);
            c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);
        }
    }
    for (int i = 0; i < mr; ++i) {
        _mm256_maskstore_ps(C + i * ldc, mask0, c[i][0]);
        _mm256_maskstore_ps(C + i * ldc + 8, mask1, c[i][1]);
    }
}

// KC = 256: a 256 x 16 B panel is 16 KiB (L1); MC = 144: a 144 x 256 A block is 144 KiB (L2).
static const GemmBlocking kBlocking = {6, 16, 256, 144, microkernel_6x16<true>, microkernel_6x16_edge,
                                       microkernel_6x16<false>, microkernel_6x16_pack<true>, microkernel_6x16_pack<false>};

const GemmBlocking& gemm_blocking() { return kBlocking; }

// The conv driver (conv_simd.inc) uses the same 6 x 16 micro-kernel.
const GemmBlocking& conv_blocking() { return kBlocking; }

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
    gemm_blocked(kBlocking, trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace fw::avx2
