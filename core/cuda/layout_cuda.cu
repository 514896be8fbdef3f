// CUDA twins of core/kernels/ref/layout_ref.cpp: concat/slice ranges, nearest upsampling x2,
// average pooling. One thread per element; every output element is written by one thread, so
// no atomics, and each sum is taken in the reference's order (results are bitwise equal).
#include "core/cuda/kernels_cuda.h"

namespace fw::cuda {

// dst[o, dst_start + a, i] (+)= src[o, src_start + a, i]  for a < len: thread t = (o, k), k < len*inner
__global__ void copy_axis_range_kernel(float* dst, int64_t dst_axis, int64_t dst_start, const float* src,
                                       int64_t src_axis, int64_t src_start, int64_t len, int64_t outer,
                                       int64_t inner, bool accumulate) {
    const int64_t t = global_index(), row = len * inner;
    if (t >= outer * row) return;
    const int64_t o = t / row, k = t % row;
    float& d = dst[(o * dst_axis + dst_start) * inner + k];
    const float s = src[(o * src_axis + src_start) * inner + k];
    d = accumulate ? d + s : s;
}

void copy_axis_range(float* dst, int64_t dst_axis, int64_t dst_start, const float* src, int64_t src_axis,
                     int64_t src_start, int64_t len, int64_t outer, int64_t inner, bool accumulate) {
    const int64_t n = outer * len * inner;
    FW_LAUNCH_1D(copy_axis_range_kernel, n, dst, dst_axis, dst_start, src, src_axis, src_start, len, outer, inner,
                 accumulate);
}

// y (planes, 2H, 2W): y[p, i, j] = x[p, i/2, j/2]; thread t = one y element
__global__ void upsample2x_fwd_kernel(float* y, const float* x, int64_t planes, int64_t H, int64_t W) {
    const int64_t t = global_index();
    if (t >= planes * 4 * H * W) return;
    const int64_t j = t % (2 * W), i = (t / (2 * W)) % (2 * H), p = t / (4 * H * W);
    y[t] = x[(p * H + i / 2) * W + j / 2];
}
// dx[p, i, j] += the 2x2 block of dy it fed, added in the reference's order; thread = one x element
__global__ void upsample2x_bwd_kernel(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W) {
    const int64_t t = global_index();
    if (t >= planes * H * W) return;
    const int64_t j = t % W, i = (t / W) % H, p = t / (H * W);
    const float* top = dy + (p * 2 * H + 2 * i) * 2 * W + 2 * j;  // dy[p, 2i, 2j]
    const float* bottom = top + 2 * W;                            // dy[p, 2i+1, 2j]
    float acc = dx[t];
    acc += top[0];
    acc += top[1];
    acc += bottom[0];
    acc += bottom[1];
    dx[t] = acc;
}

void upsample2x_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W) {
    FW_LAUNCH_1D(upsample2x_fwd_kernel, planes * 4 * H * W, y, x, planes, H, W);
}
void upsample2x_backward(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W) {
    FW_LAUNCH_1D(upsample2x_bwd_kernel, planes * H * W, dx, dy, planes, H, W);
}

// y[p, i, j] = (1/k^2) sum_{a,b < k} x[p, i k + a, j k + b],  y (planes, H/k, W/k)
__global__ void avg_pool2d_fwd_kernel(float* y, const float* x, int64_t planes, int64_t H, int64_t W, int64_t k) {
    const int64_t OH = H / k, OW = W / k, t = global_index();
    if (t >= planes * OH * OW) return;
    const int64_t j = t % OW, i = (t / OW) % OH, p = t / (OH * OW);
    float acc = 0.0f;
    for (int64_t a = 0; a < k; ++a)
        for (int64_t b = 0; b < k; ++b) acc += x[(p * H + i * k + a) * W + j * k + b];
    y[t] = acc * (1.0f / (float)(k * k));
}
// dx[p, h, w] += dy[p, h/k, w/k] / k^2 where (h/k, w/k) is inside y (the floor drops a remainder)
__global__ void avg_pool2d_bwd_kernel(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W, int64_t k) {
    const int64_t OH = H / k, OW = W / k, t = global_index();
    if (t >= planes * H * W) return;
    const int64_t w = t % W, h = (t / W) % H, p = t / (H * W);
    if (h / k >= OH || w / k >= OW) return;
    // the product rounded, then the sum, as the reference (nvcc would fuse them into one FMA)
    dx[t] = __fadd_rn(dx[t], __fmul_rn(dy[(p * OH + h / k) * OW + w / k], 1.0f / (float)(k * k)));
}

void avg_pool2d_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W, int64_t k) {
    FW_LAUNCH_1D(avg_pool2d_fwd_kernel, planes * (H / k) * (W / k), y, x, planes, H, W, k);
}
void avg_pool2d_backward(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W, int64_t k) {
    FW_LAUNCH_1D(avg_pool2d_bwd_kernel, planes * H * W, dx, dy, planes, H, W, k);
}

}  // namespace fw::cuda
