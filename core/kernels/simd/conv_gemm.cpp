// conv2d as im2col + GEMM, for any GEMM kernel (the math and the loop nest: conv_gemm.h).
//
// Scalar reference: core/kernels/ref/conv_ref.cpp (the direct sum); tested against it by
// tests/test_conv_simd.cpp.
#include "core/kernels/simd/conv_gemm.h"

#include <emmintrin.h>  // SSE2, in every x86-64: the stride-2 copies below

#include <algorithm>
#include <cstring>

#include "core/kernels/simd/scratch.h"
#include "core/parallel.h"

namespace fw {

static bool is_pointwise(const ConvShape& s) { return s.KH == 1 && s.KW == 1 && s.stride == 1 && s.pad == 0; }

// For kernel column q, the output columns j whose input column iw = j*stride + q - pad lies
// inside [0, W): j in [lo, hi). Outside that range im2col writes zeros (padding).
static void valid_columns(const ConvShape& s, int64_t q, int64_t& lo, int64_t& hi) {
    lo = 0;
    while (lo < s.OW && lo * s.stride + q - s.pad < 0) ++lo;
    hi = s.OW;
    while (hi > lo && (hi - 1) * s.stride + q - s.pad >= s.W) --hi;
}

// The stride-2 rows of im2col and col2im (the downsampling convs), four floats at a time.
// Vector steps stop while the scalar tail still has at least one element, so no load or store
// reaches past in[2 (n - 1)] / out[2 (n - 1)], the last element the row owns.
//   out[j] = in[2 j], j < n:  the even floats of in[2j .. 2j+8)
static void copy_stride2(float* out, const float* in, int64_t n) {
    int64_t j = 0;
    for (; j + 5 <= n; j += 4) {
        const __m128 a = _mm_loadu_ps(in + 2 * j), b = _mm_loadu_ps(in + 2 * j + 4);
        _mm_storeu_ps(out + j, _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
    }
    for (; j < n; ++j) out[j] = in[2 * j];
}
//   out[2 j] += in[j], j < n:  in interleaved with -0.0 (x + -0.0 = x for every x, -0.0 too), added
//   to out[2j .. 2j+8)
static void add_stride2(float* out, const float* in, int64_t n) {
    const __m128 minus0 = _mm_set1_ps(-0.0f);
    int64_t j = 0;
    for (; j + 5 <= n; j += 4) {
        const __m128 v = _mm_loadu_ps(in + j);
        _mm_storeu_ps(out + 2 * j, _mm_add_ps(_mm_loadu_ps(out + 2 * j), _mm_unpacklo_ps(v, minus0)));
        _mm_storeu_ps(out + 2 * j + 4, _mm_add_ps(_mm_loadu_ps(out + 2 * j + 4), _mm_unpackhi_ps(v, minus0)));
    }
    for (; j < n; ++j) out[2 * j] += in[j];
}

// col (K, P) with row stride ld, from one image x (Cin, H, W).
static void im2col(float* col, int64_t ld, const float* x, const ConvShape& s) {
    for (int64_t c = 0; c < s.Cin; ++c)
        for (int64_t p = 0; p < s.KH; ++p)
            for (int64_t q = 0; q < s.KW; ++q) {
                int64_t lo, hi;
                valid_columns(s, q, lo, hi);
                float* row = col + ((c * s.KH + p) * s.KW + q) * ld;
                for (int64_t i = 0; i < s.OH; ++i) {
                    const int64_t ih = i * s.stride + p - s.pad;
                    float* out = row + i * s.OW;
                    if (ih < 0 || ih >= s.H) {  // a whole row of padding
                        std::memset(out, 0, sizeof(float) * s.OW);
                        continue;
                    }
                    const float* in = x + (c * s.H + ih) * s.W;  // x[c, ih, :]
                    const int64_t shift = q - s.pad;             // iw = j*stride + shift
                    for (int64_t j = 0; j < lo; ++j) out[j] = 0.0f;  // padding: a float or two
                    if (s.stride == 1) {
                        if (hi > lo) std::memcpy(out + lo, in + lo + shift, sizeof(float) * (hi - lo));
                    } else if (s.stride == 2) {
                        copy_stride2(out + lo, in + 2 * lo + shift, hi - lo);
                    } else {
                        for (int64_t j = lo; j < hi; ++j) out[j] = in[j * s.stride + shift];
                    }
                    for (int64_t j = hi; j < s.OW; ++j) out[j] = 0.0f;
                }
            }
}

// dx (Cin, H, W) += col2im(dcol): every col entry goes back to the pixel it was copied from.
static void col2im_add(float* dx, const float* dcol, const ConvShape& s) {
    const int64_t P = s.OH * s.OW;
    for (int64_t c = 0; c < s.Cin; ++c)
        for (int64_t p = 0; p < s.KH; ++p)
            for (int64_t q = 0; q < s.KW; ++q) {
                int64_t lo, hi;
                valid_columns(s, q, lo, hi);
                const float* row = dcol + ((c * s.KH + p) * s.KW + q) * P;
                for (int64_t i = 0; i < s.OH; ++i) {
                    const int64_t ih = i * s.stride + p - s.pad;
                    if (ih < 0 || ih >= s.H) continue;
                    float* out = dx + (c * s.H + ih) * s.W;  // dx[c, ih, :]
                    const float* in = row + i * s.OW;
                    const int64_t shift = q - s.pad;         // iw = j*stride + shift
                    if (s.stride == 2) add_stride2(out + 2 * lo + shift, in + lo, hi - lo);
                    else
                        for (int64_t j = lo; j < hi; ++j) out[j * s.stride + shift] += in[j];
                }
            }
}

void conv2d_forward_gemm(GemmFn gemm, float* y, const float* x, const float* w, const float* b, const ConvShape& s) {
    const int64_t K = s.Cin * s.KH * s.KW, P = s.OH * s.OW;
    parallel_for(s.N, [&](int64_t n) {
        static thread_local Scratch col_buf;
        const float* xn = x + n * s.Cin * s.H * s.W;
        const float* col = xn;
        if (!is_pointwise(s)) {
            float* c = col_buf.get(K * P);
            im2col(c, P, xn, s);
            col = c;
        }
        float* yn = y + n * s.Cout * P;
        for (int64_t o = 0; o < s.Cout; ++o)  // C starts as the bias: y = W col + b
            for (int64_t i = 0; i < P; ++i) yn[o * P + i] = b ? b[o] : 0.0f;
        gemm(false, false, s.Cout, P, K, w, K, col, P, 1.0f, yn, P);
    });
}

void conv2d_backward_gemm(GemmFn gemm, float* dx, float* dw, float* db, const float* dy, const float* x,
                          const float* w, const ConvShape& s) {
    const int64_t K = s.Cin * s.KH * s.KW, P = s.OH * s.OW, image = s.Cin * s.H * s.W;
    if (db)  // db[o] += sum over images and pixels; one thread per o, images in order
        parallel_for(s.Cout, [&](int64_t o) {
            float acc = 0.0f;
            for (int64_t n = 0; n < s.N; ++n)
                for (int64_t i = 0; i < P; ++i) acc += dy[(n * s.Cout + o) * P + i];
            db[o] += acc;
        });
    if (dw) {
        // dW += sum_n dy_n col_n^T. Images are split into fixed chunks of kChunk; one task per
        // chunk sums its images into its own partial dW, then the partials are added in chunk
        // order. The chunks do not depend on the thread count, so neither does the result.
        constexpr int64_t kChunk = 8;
        const int64_t chunks = (s.N + kChunk - 1) / kChunk, wsize = s.Cout * K;
        static thread_local Scratch partial_buf;
        float* partial = partial_buf.get(chunks * wsize);
        parallel_for(chunks, [&](int64_t g) {
            static thread_local Scratch col_buf;
            float* col = is_pointwise(s) ? nullptr : col_buf.get(K * P);
            float* pw = partial + g * wsize;
            for (int64_t n = g * kChunk; n < std::min(s.N, (g + 1) * kChunk); ++n) {
                const float* c = x + n * image;
                if (col) {
                    im2col(col, P, c, s);
                    c = col;
                }
                gemm(false, true, s.Cout, K, P, dy + n * s.Cout * P, P, c, P, n == g * kChunk ? 0.0f : 1.0f, pw, K);
            }
        });
        for (int64_t g = 0; g < chunks; ++g)
            for (int64_t i = 0; i < wsize; ++i) dw[i] += partial[g * wsize + i];
    }
    if (dx)  // dcol_n = W^T dy_n, then dx_n += col2im(dcol_n); one thread per image
        parallel_for(s.N, [&](int64_t n) {
            if (is_pointwise(s)) {  // dx_n (Cin, P) += W^T dy_n directly
                gemm(true, false, K, P, s.Cout, w, K, dy + n * s.Cout * P, P, 1.0f, dx + n * image, P);
                return;
            }
            static thread_local Scratch dcol_buf;
            float* dcol = dcol_buf.get(K * P);
            gemm(true, false, K, P, s.Cout, w, K, dy + n * s.Cout * P, P, 0.0f, dcol, P);
            col2im_add(dx + n * image, dcol, s);
        });
}

}  // namespace fw
