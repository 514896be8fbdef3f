// Scalar reference kernels that move data around: concat/slice ranges, nearest upsampling,
// average pooling. "planes" = N * C: each (n, c) is an independent H x W image.
#include "core/kernels/ref/ref.h"

namespace fw::ref {

// dst as (outer, dst_axis, inner), src as (outer, src_axis, inner):
//   dst[o, dst_start + a, i] (+)= src[o, src_start + a, i]   for a < len
// concat forward copies each input into its range; slice forward copies a range out;
// each one's backward is the other direction with accumulate = true.
void copy_axis_range(float* dst, int64_t dst_axis, int64_t dst_start, const float* src, int64_t src_axis,
                     int64_t src_start, int64_t len, int64_t outer, int64_t inner, bool accumulate) {
    for (int64_t o = 0; o < outer; ++o) {
        float* d = dst + (o * dst_axis + dst_start) * inner;
        const float* s = src + (o * src_axis + src_start) * inner;
        for (int64_t k = 0; k < len * inner; ++k) d[k] = accumulate ? d[k] + s[k] : s[k];
    }
}

// Nearest x2: y (planes, 2H, 2W), y[p, i, j] = x[p, i/2, j/2].
// Backward: each x feeds a 2x2 block of y, so dx[p, i, j] += sum of that block of dy.
void upsample2x_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W) {
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t i = 0; i < 2 * H; ++i)
            for (int64_t j = 0; j < 2 * W; ++j) y[(p * 2 * H + i) * 2 * W + j] = x[(p * H + i / 2) * W + j / 2];
}
void upsample2x_backward(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W) {
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t i = 0; i < 2 * H; ++i)
            for (int64_t j = 0; j < 2 * W; ++j) dx[(p * H + i / 2) * W + j / 2] += dy[(p * 2 * H + i) * 2 * W + j];
}

// Average pooling, k x k window, stride k: y (planes, H/k, W/k) (floor; a remainder is dropped),
//   y[p, i, j] = (1/k^2) sum_{a,b < k} x[p, i k + a, j k + b]
// Backward: dx[p, i k + a, j k + b] += dy[p, i, j] / k^2.
void avg_pool2d_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W, int64_t k) {
    const int64_t OH = H / k, OW = W / k;
    const float inv = 1.0f / (float)(k * k);
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t i = 0; i < OH; ++i)
            for (int64_t j = 0; j < OW; ++j) {
                float acc = 0.0f;
                for (int64_t a = 0; a < k; ++a)
                    for (int64_t b = 0; b < k; ++b) acc += x[(p * H + i * k + a) * W + j * k + b];
                y[(p * OH + i) * OW + j] = acc * inv;
            }
}
void avg_pool2d_backward(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W, int64_t k) {
    const int64_t OH = H / k, OW = W / k;
    const float inv = 1.0f / (float)(k * k);
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t i = 0; i < OH; ++i)
            for (int64_t j = 0; j < OW; ++j) {
                float g = dy[(p * OH + i) * OW + j] * inv;
                for (int64_t a = 0; a < k; ++a)
                    for (int64_t b = 0; b < k; ++b) dx[(p * H + i * k + a) * W + j * k + b] += g;
            }
}

}  // namespace fw::ref
