// CUDA twin of group_norm_silu (core/kernels/ref/norm_ref.cpp has the reference): GroupNorm followed
// by SiLU, y = silu(z), z = group_norm(x). Built from the GroupNorm kernels of norm_cuda.cu:
//
//   forward:   z = group_norm(x) into y, then y = silu(y) in place (a second, elementwise pass)
//   backward:  recompute z from the saved mean and rstd, gz = dy silu'(z) into a temporary,
//              then GroupNorm's backward with gz:  dx, dw, db += ...
//   silu'(z) = s(z) (1 + z (1 - s(z))),  s = the logistic sigmoid
// Shapes: x, y, dy (N, C, HW); w, b (C); mean, rstd (N, G).
#include <cmath>

#include "core/cuda/backend.h"
#include "core/cuda/kernels_cuda.h"
#include "core/storage.h"

namespace fw::cuda {

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

void group_norm_silu_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                             const GroupNormShape& s) {
    group_norm_forward(y, mean, rstd, x, w, b, s);  // y = z
    silu_forward(y, y, s.N * s.C * s.HW);            // y = silu(z), in place
}

void group_norm_silu_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* mean,
                              const float* rstd, const float* w, const float* b, const GroupNormShape& s,
                              GradWrite dx_write) {
    const int64_t n = s.N * s.C * s.HW;
    if (n == 0) return;
    if (dx && dx_write == GradWrite::Overwrite) fill(dx, 0.0f, n);  // then group_norm_backward adds
    // gz lives in a device buffer from the caching allocator (freed into the cache at the end of
    // this call; the stream orders its reuse after the kernels below).
    Storage gz(n, Device::CUDA);
    FW_LAUNCH_1D(silu_grad_through_group_norm_kernel, n, gz.data(), dy, x, mean, rstd, w, b, s, n);
    group_norm_backward(dx, dw, db, gz.data(), x, mean, rstd, w, s);
}

}  // namespace fw::cuda
