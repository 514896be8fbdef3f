// AVX-512 GEMM micro-kernel: a 12 x 32 tile of C in 24 zmm registers.
// Compiled with -mavx512f -mfma; only called when CPUID reports AVX-512F (core/cpu.cpp).
//
// Register plan (32 zmm available):
//   c[i][0], c[i][1]  (24 registers)  C rows i = 0..11, columns 0..15 and 16..31
//   b0, b1            (2 registers)   row k of the B panel: 32 floats
//   a                 (1 register)    A[i, k] broadcast to all 16 lanes
// Per k: 2 loads of B, 12 broadcasts of A, 24 FMAs (c += a * b), i.e. 768 flops, and while
// pf lasts one prefetch of a line the driver packs next (gemm_blocked.h).
//
// Scalar reference: core/kernels/ref/gemm_ref.cpp; tested against it by tests/test_gemm.cpp.
//
// Measurements (speed; the code comments say what and why, the numbers are here):
//   - KC of the 12 x 32 tile, square 1024, 1 thread: KC = 256 / 512 / 1024 gave 91 / 98 /
//     102 GFLOP/s.
//   - the choice of tile in gemm(): on the dX shape M = 288, K = 32 (K fits one K block of
//     8 x 48) 8 x 48 ran ~10% faster; on square 1024 12 x 32 is ~15% faster.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/kernels/simd/gemm_blocked.h"
#include "core/kernels/simd/scratch.h"
#include "core/kernels/simd/simd.h"
#include "core/kernels/simd/vec_avx512.h"
#include "core/parallel.h"

namespace fw::avx512 {

// The packing's transposes (gemm_blocked.inc) in tiles of kTransposeTile x kTransposeTile:
//   dst[c ldd + r] = src[r lds + c]    for r < rows (<= 16), c < 16
// Rows r >= rows are not read, and lanes r >= rows of dst not written. vtranspose's 64 shuffles
// move the 256 floats, where the scalar loop did 256 single stores.
constexpr int kTransposeTile = 16;

static void transpose_tile(const float* src, int64_t lds, int rows, float* dst, int64_t ldd) {
    Vec r[16];
    for (int i = 0; i < 16; ++i) r[i] = i < rows ? vload(src + i * lds) : vzero();
    vtranspose(r);  // the vector layer's shuffles (vec_avx512.h)
    for (int c = 0; c < 16; ++c) vstore(dst + c * ldd, r[c], rows);
}

#include "core/kernels/simd/gemm_blocked.inc"

// kAccumulate: C_tile += A B (the tile is loaded first); else C_tile = A B (never read).
// kPack: B's rows are read from the source matrix (row k at Bsrc + k ldb) and written to the
// packed panel B as they are used (the packing micro-kernel of gemm_blocked.h); else B is
// read packed (and never written: the plain kernels' const B is cast for this one signature).
template <bool kAccumulate, bool kPack>
static void microkernel_12x32_impl(int64_t K, const float* A, const float* Bsrc, int64_t ldb, float* B, float* C,
                                   int64_t ldc, const PrefetchRows& pf) {
    __m512 c[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) {
        c[i][0] = kAccumulate ? _mm512_loadu_ps(C + i * ldc) : _mm512_setzero_ps();
        c[i][1] = kAccumulate ? _mm512_loadu_ps(C + i * ldc + 16) : _mm512_setzero_ps();
    }
    const float* pf_row = pf.first;  // the prefetch walk: line pf_line of row pf_row
    int64_t pf_line = 0;
    for (int64_t k = 0; k < K; ++k) {
        if (k < pf.count) {
            _mm_prefetch(reinterpret_cast<const char*>(pf_row + 16 * pf_line), _MM_HINT_T0);
            if (++pf_line == pf.lines) pf_line = 0, pf_row += pf.stride;
        }
        __m512 b0, b1;
        if (kPack) {  // row k of the source, copied into the panel on the way
            b0 = _mm512_loadu_ps(Bsrc + k * ldb);
            b1 = _mm512_loadu_ps(Bsrc + k * ldb + 16);
            _mm512_store_ps(B + 32 * k, b0);
            _mm512_store_ps(B + 32 * k + 16, b1);
        } else {
            b0 = _mm512_load_ps(B + 32 * k);
            b1 = _mm512_load_ps(B + 32 * k + 16);
        }
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

template <bool kAccumulate>
static void microkernel_12x32(int64_t K, const float* A, const float* B, float* C, int64_t ldc, const PrefetchRows& pf) {
    microkernel_12x32_impl<kAccumulate, false>(K, A, nullptr, 0, const_cast<float*>(B), C, ldc, pf);
}

template <bool kAccumulate>
static void microkernel_12x32_pack(int64_t K, const float* A, const float* Bsrc, int64_t ldb, float* B, float* C,
                                   int64_t ldc, const PrefetchRows& pf) {
    microkernel_12x32_impl<kAccumulate, true>(K, A, Bsrc, ldb, B, C, ldc, pf);
}

// Edge tiles (mr <= 12 rows, nr <= 32 columns of C are real): the same loop, with the C loads
// and stores masked to the real columns (lane j of mask0/mask1 is on if column j / 16+j < nr)
// and the rows past mr neither loaded nor stored. A masked-off load reads nothing, so the tile
// may end at the edge of C's allocation.
static void microkernel_12x32_edge(int64_t K, const float* A, const float* B, float* C, int64_t ldc, int mr, int nr) {
    const __mmask16 mask0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 mask1 = nr >= 32 ? (__mmask16)0xFFFF : nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1);
    __m512 c[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) {
        c[i][0] = i < mr ? _mm512_maskz_loadu_ps(mask0, C + i * ldc) : _mm512_setzero_ps();
        c[i][1] = i < mr ? _mm512_maskz_loadu_ps(mask1, C + i * ldc + 16) : _mm512_setzero_ps();
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
    for (int i = 0; i < mr; ++i) {
        _mm512_mask_storeu_ps(C + i * ldc, mask0, c[i][0]);
        _mm512_mask_storeu_ps(C + i * ldc + 16, mask1, c[i][1]);
    }
}

// KC = 1024: every K block loads and stores the C tiles once more, and for a C larger than L2
// that is a trip to L3 per tile (Measurements: KC); a 1024 x 32 B panel (128 KiB) is then read
// from L2, which at 2 loads per 24 FMAs costs nothing. MC = 192: a 192 x 1024 A block is
// 768 KiB (L2, 1 MiB).
static const GemmBlocking kBlocking = {12, 32, 1024, 192, microkernel_12x32<true>, microkernel_12x32_edge,
                                       microkernel_12x32<false>, microkernel_12x32_pack<true>,
                                       microkernel_12x32_pack<false>};

const GemmBlocking& gemm_blocking() { return kBlocking; }

// The conv driver's micro-kernel (conv_simd.inc): an 8 x 48 tile of C in 24 zmm registers.
// The conv GEMMs have M = 32, 64, 96 or 128 filters (or input channels): multiples of 8, where
// 12 rows would pad 32 to 36 and 64 to 72. Per k it also loads less: 3 B vectors and 8
// broadcasts for 24 FMAs (the 12 x 32 tile: 2 and 12).
// Register plan:
//   c[i][0..2]   (24 registers)  C rows i = 0..7, columns 0..15, 16..31, 32..47
//   b0, b1, b2   (3 registers)   row k of the B panel: 48 floats
//   a            (1 register)    A[i, k] broadcast to all 16 lanes
// The conv driver pads its tile buffer to whole 8 x 48 tiles, so there is no edge twin.
// kAccumulate: C_tile += A B (the tile is loaded first); else C_tile = A B (never read).
// kPack: B's rows are read from the source matrix (row k at Bsrc + k ldb) and written to the
// packed panel B as they are used (the packing micro-kernel of gemm_blocked.h); else B is
// read packed (and never written: the plain kernels' const B is cast for this one signature).
template <bool kAccumulate, bool kPack>
static void microkernel_8x48_impl(int64_t K, const float* A, const float* Bsrc, int64_t ldb, float* B, float* C,
                                  int64_t ldc, const PrefetchRows& pf) {
    __m512 c[8][3];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
        c[i][0] = kAccumulate ? _mm512_loadu_ps(C + i * ldc) : _mm512_setzero_ps();
        c[i][1] = kAccumulate ? _mm512_loadu_ps(C + i * ldc + 16) : _mm512_setzero_ps();
        c[i][2] = kAccumulate ? _mm512_loadu_ps(C + i * ldc + 32) : _mm512_setzero_ps();
    }
    const float* pf_row = pf.first;  // the prefetch walk: line pf_line of row pf_row
    int64_t pf_line = 0;
    for (int64_t k = 0; k < K; ++k) {
        if (k < pf.count) {
            _mm_prefetch(reinterpret_cast<const char*>(pf_row + 16 * pf_line), _MM_HINT_T0);
            if (++pf_line == pf.lines) pf_line = 0, pf_row += pf.stride;
        }
        __m512 b0, b1, b2;
        if (kPack) {  // row k of the source, copied into the panel on the way
            b0 = _mm512_loadu_ps(Bsrc + k * ldb);
            b1 = _mm512_loadu_ps(Bsrc + k * ldb + 16);
            b2 = _mm512_loadu_ps(Bsrc + k * ldb + 32);
            _mm512_store_ps(B + 48 * k, b0);
            _mm512_store_ps(B + 48 * k + 16, b1);
            _mm512_store_ps(B + 48 * k + 32, b2);
        } else {
            b0 = _mm512_load_ps(B + 48 * k);
            b1 = _mm512_load_ps(B + 48 * k + 16);
            b2 = _mm512_load_ps(B + 48 * k + 32);
        }
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) {
            const __m512 a = _mm512_set1_ps(A[8 * k + i]);
            c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
            c[i][2] = _mm512_fmadd_ps(a, b2, c[i][2]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
        _mm512_storeu_ps(C + i * ldc, c[i][0]);
        _mm512_storeu_ps(C + i * ldc + 16, c[i][1]);
        _mm512_storeu_ps(C + i * ldc + 32, c[i][2]);
    }
}

template <bool kAccumulate>
static void microkernel_8x48(int64_t K, const float* A, const float* B, float* C, int64_t ldc, const PrefetchRows& pf) {
    microkernel_8x48_impl<kAccumulate, false>(K, A, nullptr, 0, const_cast<float*>(B), C, ldc, pf);
}

template <bool kAccumulate>
static void microkernel_8x48_pack(int64_t K, const float* A, const float* Bsrc, int64_t ldb, float* B, float* C,
                                  int64_t ldc, const PrefetchRows& pf) {
    microkernel_8x48_impl<kAccumulate, true>(K, A, Bsrc, ldb, B, C, ldc, pf);
}

// KC = 160: a 160 x 48 B slice is 30 KiB (L1, 32 KiB); MC = 192: a 192 x 160 A block is 120 KiB (L2).
static const GemmBlocking kConvBlocking = {8, 48, 160, 192, microkernel_8x48<true>, nullptr, microkernel_8x48<false>,
                                           microkernel_8x48_pack<true>, microkernel_8x48_pack<false>};

const GemmBlocking& conv_blocking() { return kConvBlocking; }

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
    // The 8 x 48 tile when M is a multiple of 8 and 12-row tiles would pad M by more than 5%
    // (M = 32 or 64: 12.5%), or K fits one of its K blocks; for large M and K the padding is
    // small and 12 x 32 with its KC = 1024 is faster (Measurements: the choice of tile).
    const int64_t pad12 = (M + 11) / 12 * 12 - M;
    const GemmBlocking& blk = M % 8 == 0 && (pad12 * 20 > M || K <= kConvBlocking.KC) ? kConvBlocking : kBlocking;
    gemm_blocked(blk, trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace fw::avx512
