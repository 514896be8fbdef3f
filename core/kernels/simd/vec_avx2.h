// The AVX2 vector layer: a Vec holds 8 floats (one ymm register), a VecD 4 doubles. The same
// names as vec_avx512.h, so elementwise_simd.inc and norm_simd.inc are written once for both.
// Include only from *_avx2.cpp files: they are compiled with -mavx2 -mfma.
//
// Scalar reference: std::exp, std::tanh, ... for the math functions (their accuracy is stated
// below); the kernels built on this layer are tested by tests/test_*_simd.cpp, tests/test_gemm.cpp
// and tests/test_winograd_ref.cpp.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace fw::avx2 {

// FW_EACH(j, U) statement: the statement for j = 0 .. U - 1, unrolled (vexp_n and the kernels'
// blocks of U vectors: one step for every vector of the block, then the next step).
#ifndef FW_EACH
#define FW_EACH(j, U) _Pragma("GCC unroll 16") for (int j = 0; j < (U); ++j)
#endif

constexpr int64_t kW = 8;  // floats per Vec
using Vec = __m256;
using VecD = __m256d;

// lane i is all ones when i < k (k <= 8): the mask of vmaskload/vmaskstore
inline __m256i lanes(int64_t k) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// k = kW: a full load/store; k < kW: only the first k lanes touch memory, loaded lanes >= k are 0.
inline Vec vload(const float* p, int64_t k = kW) {
    return k == kW ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lanes(k));
}
inline void vstore(float* p, Vec v, int64_t k = kW) {
    if (k == kW) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, lanes(k), v);
}
inline Vec vkeep(Vec v, int64_t k) {  // lanes >= k := 0
    return k == kW ? v : _mm256_and_ps(v, _mm256_castsi256_ps(lanes(k)));
}
// A lane mask from a vector (lane l on where m[l] > 0), and a load of only the lanes that are on:
// the others are 0 and their memory is not touched (so they may lie outside the buffer).
using VMask = __m256i;
inline VMask vmask_gt0(Vec m) { return _mm256_castps_si256(_mm256_cmp_ps(m, _mm256_setzero_ps(), _CMP_GT_OQ)); }
inline Vec vload_masked(const float* p, VMask m) { return _mm256_maskload_ps(p, m); }
inline Vec vload_merge(Vec v, const float* p, VMask m) {  // off lanes: v
    return _mm256_blendv_ps(v, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
inline void vstore_masked(float* p, Vec v, VMask m) { _mm256_maskstore_ps(p, m, v); }  // off lanes untouched
// A whole-vector store that bypasses the caches (p 32-byte aligned): no read of the line first.
// Weakly ordered: vstream_fence() before another thread may read what was streamed.
inline void vstream(float* p, Vec v) { _mm256_stream_ps(p, v); }
inline void vstream_fence() { _mm_sfence(); }
inline VMask vmask_bits(unsigned bits) {  // lane l on where bit l is set
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), bit), bit);
}

// Lanes of a pair of vectors (a = lanes 0..7, b = 8..15 of a 16-float row) taken apart or put
// together two by two:
//   vevens(a, b) = a0 a2 a4 a6 b0 b2 b4 b6        vodds(a, b) = a1 a3 a5 a7 b1 b3 b5 b7
//   vzip_lo(a, b) = a0 b0 a1 b1 a2 b2 a3 b3       vzip_hi(a, b) = a4 b4 .. a7 b7
// (the in-lane shuffles work on each 128-bit half; the 64-bit permute puts the halves in order)
inline Vec vevens(Vec a, Vec b) {
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}
inline Vec vodds(Vec a, Vec b) {
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}
inline Vec vzip_lo(Vec a, Vec b) {  // unpacklo: a0 b0 a1 b1 | a4 b4 a5 b5,  unpackhi: a2 b2 a3 b3 | a6 b6 a7 b7
    return _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x20);
}
inline Vec vzip_hi(Vec a, Vec b) {
    return _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x31);
}

inline Vec vset1(float s) { return _mm256_set1_ps(s); }
inline Vec vzero() { return _mm256_setzero_ps(); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec vsub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
inline Vec vmul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec vdiv(Vec a, Vec b) { return _mm256_div_ps(a, b); }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }    // a b + c, one rounding
inline Vec vfnmadd(Vec a, Vec b, Vec c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a b, one rounding
inline Vec vsqrt(Vec a) { return _mm256_sqrt_ps(a); }                          // correctly rounded
inline Vec vneg(Vec a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
inline Vec vabs(Vec a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
// copy the sign bit of s onto |m|
inline Vec vcopysign(Vec m, Vec s) {
    const Vec sign = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(sign, m), _mm256_and_ps(sign, s));
}
// min/max with the NaN rule of the instruction: if either is NaN, the SECOND operand is returned.
inline Vec vmin(Vec a, Vec b) { return _mm256_min_ps(a, b); }
inline Vec vmax(Vec a, Vec b) { return _mm256_max_ps(a, b); }
// x > 0 ? a : b   and   x >= 0 ? a : b   (NaN x picks b, like the scalar comparison)
inline Vec vselect_gt0(Vec x, Vec a, Vec b) {
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ));
}
inline Vec vselect_ge0(Vec x, Vec a, Vec b) {
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
}
// x < t ? a : b
inline Vec vselect_lt(Vec x, float t, Vec a, Vec b) {
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_set1_ps(t), _CMP_LT_OQ));
}
inline float vhsum(Vec v) {  // ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)): a fixed order
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
// r[i][j] <-> r[j][i]: the 8 x 8 tile transposed in registers (32-bit, 64-bit, then 128-bit lanes).
inline void vtranspose(Vec (&r)[8]) {
    Vec t[8];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {  // pairs of rows, interleaved by 32 bits
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 2; ++i) {  // then by 64 bits: each 128-bit lane holds one column of 4 rows
        r[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {  // 128-bit lanes of rows 0-3 with 4-7
        t[i] = _mm256_permute2f128_ps(r[i], r[4 + i], 0x20);
        t[4 + i] = _mm256_permute2f128_ps(r[i], r[4 + i], 0x31);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = t[i];
}

// doubles: the group_norm statistics, the Winograd filter transforms
inline VecD vzerod() { return _mm256_setzero_pd(); }
inline VecD vset1d(double s) { return _mm256_set1_pd(s); }
inline VecD vlo(Vec v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }    // lanes 0..3 as doubles
inline VecD vhi(Vec v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }  // lanes 4..7
inline VecD vaddd(VecD a, VecD b) { return _mm256_add_pd(a, b); }
inline VecD vsubd(VecD a, VecD b) { return _mm256_sub_pd(a, b); }
inline VecD vfmaddd(VecD a, VecD b, VecD c) { return _mm256_fmadd_pd(a, b, c); }
inline VecD vloadd(const double* p) { return _mm256_loadu_pd(p); }
inline void vstored_as_float(float* p, VecD v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }  // 4 floats, each rounded once
inline double vhsumd(VecD v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// ---------------------------------------------------------------------------------------------
// e^x, 8 lanes (Cephes expf; the same range reduction and polynomial as vexp in vec_avx512.h).
//   x = n ln2 + r,  n = round(x / ln2),  |r| <= ln2 / 2
//   e^r ~ (r^2 P(r) + r) + 1    (P: degree-5 minimax polynomial, Cephes)
//   e^x = e^r 2^n1 2^n2,  n1 = floor(n/2), n2 = n - n1
// AVX2 has no vscalefps, so 2^n is built in the exponent bits ((n + 127) << 23). Splitting n
// into two halves keeps each factor a normal float for every n in [-150, 128]; e^r 2^n1 is
// then exact and the second product rounds once: into +inf above ln(FLT_MAX) = 88.72, and
// gradually into denormals and 0 below ln(FLT_MIN) = -87.34.
// Inputs are clamped to [-104, 89] first, so +-inf give +inf and 0; the clamp lets a NaN pass
// through (vmin/vmax return their second operand on NaN) and NaN in gives NaN out.
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
    FW_EACH(j, U) n[j] = _mm256_round_ps(vmul(x[j], vset1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    FW_EACH(j, U) r[j] = vfnmadd(n[j], vset1(0.693359375f), x[j]);  // x - n C1   (exact)
    FW_EACH(j, U) r[j] = vfnmadd(n[j], vset1(-2.12194440e-4f), r[j]);  // ... - n C2
    FW_EACH(j, U) p[j] = vfmadd(vset1(1.9875691500e-4f), r[j], vset1(1.3981999507e-3f));
    FW_EACH(j, U) p[j] = vfmadd(p[j], r[j], vset1(8.3334519073e-3f));
    FW_EACH(j, U) p[j] = vfmadd(p[j], r[j], vset1(4.1665795894e-2f));
    FW_EACH(j, U) p[j] = vfmadd(p[j], r[j], vset1(1.6666665459e-1f));
    FW_EACH(j, U) p[j] = vfmadd(p[j], r[j], vset1(5.0000001201e-1f));
    FW_EACH(j, U) p[j] = vadd(vfmadd(p[j], vmul(r[j], r[j]), r[j]), vset1(1.0f));  // (r^2 P(r) + r) + 1
    const __m256i bias = _mm256_set1_epi32(127);
    FW_EACH(j, U) {
        const __m256i ni = _mm256_cvtps_epi32(n[j]);  // n is already an integer
        const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
        const Vec s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));  // 2^n1
        const Vec s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));  // 2^n2
        x[j] = vmul(vmul(p[j], s1), s2);
    }
}
inline Vec vexp(Vec x) {
    Vec v[1] = {x};
    vexp_n(v);
    return v[0];
}

// vsigmoid_n, vsigmoid, vsilu_n: written once for both vector layers
#include "core/kernels/simd/vec_sigmoid.inc"

}  // namespace fw::avx2
