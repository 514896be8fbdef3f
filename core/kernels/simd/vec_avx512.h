// The AVX-512 vector layer: a Vec holds 16 floats (one zmm register), a VecD 8 doubles. A thin
// set of named inline functions, so the kernels in elementwise_simd.inc and norm_simd.inc read
// as math and are written once for both instruction sets (the AVX2 layer, vec_avx2.h, has the
// same names). Include only from *_avx512.cpp files: they are compiled with -mavx512f etc.
//
// Scalar reference: std::exp, std::tanh, ... for the math functions (their accuracy is stated
// below); the kernels built on this layer are tested by tests/test_*_simd.cpp, tests/test_gemm.cpp
// and tests/test_winograd_ref.cpp.
#pragma once

#include <immintrin.h>

#include <cstdint>

// GCC 12 warns "__Y may be used uninitialized" inside its own _mm512_undefined_ps() (used by
// _mm512_sqrt_ps, _mm512_min_ps, ...), and "__Y is used uninitialized" inside
// _mm512_extractf64x4_pd (used by _mm512_reduce_add_pd, depending on inlining): known false
// positives of the header, silenced for the files that include this layer.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace fw::avx512 {

// FW_EACH(j, U) statement: the statement for j = 0 .. U - 1, unrolled (vexp_n and the kernels'
// blocks of U vectors: one step for every vector of the block, then the next step).
#ifndef FW_EACH
#define FW_EACH(j, U) _Pragma("GCC unroll 16") for (int j = 0; j < (U); ++j)
#endif

constexpr int64_t kW = 16;  // floats per Vec
using Vec = __m512;
using VecD = __m512d;

// lanes [0, k) set, k <= 16
inline __mmask16 lanes(int64_t k) { return (__mmask16)((1u << k) - 1u); }

// k = kW: a full load/store; k < kW: only the first k lanes touch memory, loaded lanes >= k are 0.
inline Vec vload(const float* p, int64_t k = kW) {
    return k == kW ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(lanes(k), p);
}
inline void vstore(float* p, Vec v, int64_t k = kW) {
    if (k == kW) _mm512_storeu_ps(p, v);
    else _mm512_mask_storeu_ps(p, lanes(k), v);
}
inline Vec vkeep(Vec v, int64_t k) { return k == kW ? v : _mm512_maskz_mov_ps(lanes(k), v); }  // lanes >= k := 0
// A lane mask from a vector (lane l on where m[l] > 0), and a load of only the lanes that are on:
// the others are 0 and their memory is not touched (so they may lie outside the buffer).
using VMask = __mmask16;
inline VMask vmask_gt0(Vec m) { return _mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ); }
inline Vec vload_masked(const float* p, VMask m) { return _mm512_maskz_loadu_ps(m, p); }
inline Vec vload_merge(Vec v, const float* p, VMask m) { return _mm512_mask_loadu_ps(v, m, p); }  // off lanes: v
inline void vstore_masked(float* p, Vec v, VMask m) { _mm512_mask_storeu_ps(p, m, v); }  // off lanes untouched
// A whole-vector store that bypasses the caches (p 64-byte aligned): no read of the line first.
// Weakly ordered: vstream_fence() before another thread may read what was streamed.
inline void vstream(float* p, Vec v) { _mm512_stream_ps(p, v); }
inline void vstream_fence() { _mm_sfence(); }
inline VMask vmask_bits(unsigned bits) { return (VMask)bits; }  // lane l on where bit l is set

// Lanes of a pair of vectors (a = lanes 0..15, b = 16..31 of a 32-float row) taken apart or put
// together two by two:
//   vevens(a, b) = a0 a2 .. a14 b0 b2 .. b14      vodds(a, b) = a1 a3 .. a15 b1 .. b15
//   vzip_lo(a, b) = a0 b0 a1 b1 .. a7 b7          vzip_hi(a, b) = a8 b8 .. a15 b15
inline Vec vevens(Vec a, Vec b) {
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
}
inline Vec vodds(Vec a, Vec b) {
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
}
inline Vec vzip_lo(Vec a, Vec b) {
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), b);
}
inline Vec vzip_hi(Vec a, Vec b) {
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), b);
}

inline Vec vset1(float s) { return _mm512_set1_ps(s); }
inline Vec vzero() { return _mm512_setzero_ps(); }
inline Vec vadd(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec vsub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
inline Vec vmul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
inline Vec vdiv(Vec a, Vec b) { return _mm512_div_ps(a, b); }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }    // a b + c, one rounding
inline Vec vfnmadd(Vec a, Vec b, Vec c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a b, one rounding
inline Vec vsqrt(Vec a) { return _mm512_sqrt_ps(a); }                          // correctly rounded
inline Vec vneg(Vec a) { return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f)); }
inline Vec vabs(Vec a) { return _mm512_abs_ps(a); }
// copy the sign bit of s onto |m|
inline Vec vcopysign(Vec m, Vec s) {
    const Vec sign = _mm512_set1_ps(-0.0f);
    return _mm512_or_ps(_mm512_andnot_ps(sign, m), _mm512_and_ps(sign, s));
}
// min/max with the NaN rule of the instruction: if either is NaN, the SECOND operand is returned.
inline Vec vmin(Vec a, Vec b) { return _mm512_min_ps(a, b); }
inline Vec vmax(Vec a, Vec b) { return _mm512_max_ps(a, b); }
// x > 0 ? a : b   and   x >= 0 ? a : b   (NaN x picks b, like the scalar comparison)
inline Vec vselect_gt0(Vec x, Vec a, Vec b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ), b, a);
}
inline Vec vselect_ge0(Vec x, Vec a, Vec b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), b, a);
}
// x < t ? a : b
inline Vec vselect_lt(Vec x, float t, Vec a, Vec b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(t), _CMP_LT_OQ), b, a);
}
inline float vhsum(Vec v) { return _mm512_reduce_add_ps(v); }  // a fixed tree order: deterministic

// r[i][j] <-> r[j][i]: the 16 x 16 tile transposed in registers. Four rounds of shuffles (32-bit,
// 64-bit, then twice 128-bit lanes), 64 shuffles for 256 floats.
inline void vtranspose(Vec (&r)[16]) {
    Vec t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {  // pairs of rows, interleaved by 32 bits
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {  // then by 64 bits: each 128-bit lane holds one column of 4 rows
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h)  // 128-bit lanes of rows 0-3 with 4-7 (8-11 with 12-15)
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
            t[8 * h + i] = _mm512_shuffle_f32x4(r[8 * h + i], r[8 * h + 4 + i], 0x88);
            t[8 * h + 4 + i] = _mm512_shuffle_f32x4(r[8 * h + i], r[8 * h + 4 + i], 0xdd);
        }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {  // and of rows 0-7 with 8-15
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
    }
}

// doubles: the group_norm statistics, the Winograd filter transforms
inline VecD vzerod() { return _mm512_setzero_pd(); }
inline VecD vset1d(double s) { return _mm512_set1_pd(s); }
inline VecD vlo(Vec v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }  // lanes 0..7 as doubles
inline VecD vhi(Vec v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }  // lanes 8..15
inline VecD vaddd(VecD a, VecD b) { return _mm512_add_pd(a, b); }
inline VecD vsubd(VecD a, VecD b) { return _mm512_sub_pd(a, b); }
inline VecD vfmaddd(VecD a, VecD b, VecD c) { return _mm512_fmadd_pd(a, b, c); }
inline VecD vloadd(const double* p) { return _mm512_loadu_pd(p); }
inline void vstored_as_float(float* p, VecD v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }  // 8 floats, each rounded once
inline double vhsumd(VecD v) { return _mm512_reduce_add_pd(v); }

// ---------------------------------------------------------------------------------------------
// e^x, 16 lanes (Cephes expf; the same polynomial as vexp in vec_avx2.h).
//   x = n ln2 + r,  n = round(x / ln2),  |r| <= ln2 / 2
//   e^r ~ 1 + r + r^2 P(r)      (P: degree-5 minimax polynomial, Cephes)
//   e^x = e^r 2^n               (vscalefps: exact scaling, overflows to +inf and rounds
//                                gradually into denormals/0, all in one instruction)
// ln2 is split into C1 + C2 (C1 has few bits so n C1 is exact for |n| <= 150): r keeps full precision.
// Inputs are clamped to [-104, 89] first (e^-104 rounds to 0, e^89 overflows), so +-inf give
// +inf and 0; the clamp is written so a NaN passes through (vmin/vmax return their second
// operand on NaN), and NaN in gives NaN out.
// Accuracy, measured against std::exp (double, rounded to float) over every 1/4096 step of
// [-87, 88], 716,800 points (tests/test_elementwise_simd.cpp checks it): max error 1 ulp, max
// relative error 8.3e-8; 90.5% of the results are the correctly rounded float. Denormal
// results (x in [-103, -87.34]) are within 1 denormal ulp (1.4e-45).
// vexp_n replaces each of U vectors x[j] by e^x[j] (vexp is U = 1). Each step is done for all U
// vectors before the next (FW_EACH), so U independent chains of ~15 dependent operations sit side
// by side in program order and the core overlaps them; one chain after another leaves it waiting
// on latencies (measured in norm_simd.inc's Measurements).
template <int U>
__attribute__((always_inline)) inline void vexp_n(Vec (&x)[U]) {
    Vec n[U], r[U], p[U];
    FW_EACH(j, U) x[j] = vmax(vset1(-104.0f), vmin(vset1(89.0f), x[j]));
    FW_EACH(j, U) n[j] = _mm512_roundscale_ps(vmul(x[j], vset1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    FW_EACH(j, U) r[j] = vfnmadd(n[j], vset1(0.693359375f), x[j]);  // x - n C1   (exact)
    FW_EACH(j, U) r[j] = vfnmadd(n[j], vset1(-2.12194440e-4f), r[j]);  // ... - n C2
    FW_EACH(j, U) p[j] = vfmadd(vset1(1.9875691500e-4f), r[j], vset1(1.3981999507e-3f));
    FW_EACH(j, U) p[j] = vfmadd(p[j], r[j], vset1(8.3334519073e-3f));
    FW_EACH(j, U) p[j] = vfmadd(p[j], r[j], vset1(4.1665795894e-2f));
    FW_EACH(j, U) p[j] = vfmadd(p[j], r[j], vset1(1.6666665459e-1f));
    FW_EACH(j, U) p[j] = vfmadd(p[j], r[j], vset1(5.0000001201e-1f));
    FW_EACH(j, U) p[j] = vadd(vfmadd(p[j], vmul(r[j], r[j]), r[j]), vset1(1.0f));  // (r^2 P(r) + r) + 1
    FW_EACH(j, U) x[j] = _mm512_scalef_ps(p[j], n[j]);                             // e^r 2^n
}
inline Vec vexp(Vec x) {
    Vec v[1] = {x};
    vexp_n(v);
    return v[0];
}

// vsigmoid_n, vsigmoid, vsilu_n: written once for both vector layers
#include "core/kernels/simd/vec_sigmoid.inc"

}  // namespace fw::avx512
