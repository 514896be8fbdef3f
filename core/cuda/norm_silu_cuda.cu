// CUDA twin of group_norm_silu (core/kernels/ref/norm_ref.cpp has the reference): GroupNorm followed
// by SiLU, y = silu(z), z = group_norm(x + shift), shift (N, C) per (sample, channel) or null. Built
// from the GroupNorm kernels of norm_cuda.cu:
//
//   forward:   xs = x + shift into a temporary (with a shift), z = group_norm(xs) into y, then
//              y = silu(y) in place (a second, elementwise pass)
//   backward:  recompute z from the saved mean and rstd, gz = dy silu'(z) into a temporary,
//              then GroupNorm's backward with gz:  dx, dw, db += ...;  with dshift, that dx goes
//              into a temporary first, and dshift[n, c] += its sum over the pixels
//   silu'(z) = s(z) (1 + z (1 - s(z))),  s = the logistic sigmoid
// Shapes: x, y, dy (N, C, HW); w, b (C); mean, rstd (N, G); shift, dshift (N, C).
#include <cmath>

#include "core/cuda/backend.h"
#include "core/cuda/kernels_cuda.h"
#include "core/storage.h"

namespace fw::cuda {

// xs[i] = x[i] + shift[i / HW], one thread per element i = (n C + c) HW + j
__global__ void add_shift_kernel(float* xs, const float* x, const float* shift, int64_t HW, int64_t n) {
    const int64_t i = global_index();
    if (i < n) xs[i] = x[i] + shift[i / HW];
}

// dx[i] (+)= dxs[i], one thread per element
__global__ void add_or_copy_kernel(float* dx, const float* dxs, bool add, int64_t n) {
    const int64_t i = global_index();
    if (i < n) dx[i] = add ? dx[i] + dxs[i] : dxs[i];
}

// dshift[nc] += sum_j dxs[nc HW + j], one thread per (sample, channel) nc, summed in double
__global__ void sum_pixels_kernel(float* dshift, const float* dxs, int64_t HW, int64_t planes) {
    const int64_t nc = global_index();
    if (nc >= planes) return;
    double sum = 0.0;
    for (int64_t j = 0; j < HW; ++j) sum += dxs[nc * HW + j];
    dshift[nc] += (float)sum;
}

// One thread per element i = (n C + c) HW + j:
//   z = (x - mean[n, g]) rstd[n, g] w[c] + b[c],  g = c / (C / G)    (GroupNorm's output)
//   gz = dy s(z) (1 + z (1 - s(z)))                                   (the SiLU backward)
__global__ void silu_grad_through_group_norm_kernel(float* gz, const float* dy, const float* x, const float* mean,
                                                    const float* rstd, const float* w, const float* b,
                                                    GroupNormShape s, int64_t n) {
    const int64_t i = global_index();
    if (i >= n) return;
    const int64_t c = (i / s.HW) % s.C, sample = i / (s.HW * s.C);
    const int64_t ng = sample * s.G + c / (s.C / s.G);
    const float z = (x[i] - mean[ng]) * rstd[ng] * w[c] + b[c];
    const float sg = stable_sigmoid(z);
    gz[i] = dy[i] * sg * (1.0f + z * (1.0f - sg));
}

void group_norm_silu_forward(float* y, float* mean, float* rstd, const float* x, const float* shift, const float* w,
                             const float* b, const GroupNormShape& s) {
    const int64_t n = s.N * s.C * s.HW;
    Storage xs(shift && n > 0 ? n : 0, Device::CUDA);  // x + shift (freed into the allocator's cache)
    if (shift && n > 0) {
        FW_LAUNCH_1D(add_shift_kernel, n, xs.data(), x, shift, s.HW, n);
        x = xs.data();
    }
    group_norm_forward(y, mean, rstd, x, w, b, s);  // y = z
    silu_forward(y, y, n);                           // y = silu(z), in place
}

void group_norm_silu_backward(float* dx, float* dshift, float* dw, float* db, const float* dy, const float* x,
                              const float* shift, const float* mean, const float* rstd, const float* w, const float* b,
                              const GroupNormShape& s, GradWrite dx_write) {
    const int64_t n = s.N * s.C * s.HW;
    if (n == 0) return;
    // Temporaries from the caching allocator (freed into the cache at the end of this call; the
    // stream orders their reuse after the kernels below): x + shift, gz, and the dx of this op
    // alone when dshift needs its sums.
    Storage xs(shift ? n : 0, Device::CUDA), gz(n, Device::CUDA), dxs(dshift ? n : 0, Device::CUDA);
    if (shift) {
        FW_LAUNCH_1D(add_shift_kernel, n, xs.data(), x, shift, s.HW, n);
        x = xs.data();
    }
    FW_LAUNCH_1D(silu_grad_through_group_norm_kernel, n, gz.data(), dy, x, mean, rstd, w, b, s, n);
    if (dshift) {
        fill(dxs.data(), 0.0f, n);
        group_norm_backward(dxs.data(), dw, db, gz.data(), x, mean, rstd, w, s);
        if (dx) FW_LAUNCH_1D(add_or_copy_kernel, n, dx, dxs.data(), dx_write == GradWrite::Add, n);
        FW_LAUNCH_1D(sum_pixels_kernel, s.N * s.C, dshift, dxs.data(), s.HW, s.N * s.C);
        return;
    }
    if (dx && dx_write == GradWrite::Overwrite) fill(dx, 0.0f, n);  // then group_norm_backward adds
    group_norm_backward(dx, dw, db, gz.data(), x, mean, rstd, w, s);
}

}  // namespace fw::cuda
