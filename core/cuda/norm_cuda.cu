// CUDA twin of core/kernels/ref/norm_ref.cpp: group normalization (the equations are there).
// Shapes: x, y (N, C, HW); w, b (C); mean, rstd (N, G); cpg = C / G channels per group, and a
// group (n, g) is the M = cpg * HW contiguous floats starting at (n C + g cpg) HW.
//
//   forward:          one block per group (n, g): block sums (in double) of x, then of (x - mu)^2
//   backward dx:      one block per group (n, g): block sums of gh and gh xhat, then dx
//   backward dw, db:  one block per channel c: sums over n and hw of dy and dy xhat
// Sums run in double as in the reference, but in a different order: results agree to rounding.
#include <cmath>

#include "core/cuda/kernels_cuda.h"

namespace fw::cuda {

constexpr int kNormThreads = 256;

__global__ void group_norm_fwd_kernel(float* y, float* mean, float* rstd, const float* x, const float* w,
                                      const float* b, GroupNormShape s) {
    const int64_t group = blockIdx.x;  // = n G + g
    const int64_t g = group % s.G, cpg = s.C / s.G, M = cpg * s.HW;
    const int64_t base = group * M;    // (n C + g cpg) HW = (n G + g) cpg HW
    // mu = (1/M) sum x
    double part = 0.0;
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) part += x[base + i];
    const double mu = block_sum(part) / M;
    // var = (1/M) sum (x - mu)^2;  rstd = 1 / sqrt(var + eps)
    part = 0.0;
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
        const double d = x[base + i] - mu;
        part += d * d;
    }
    const double r = 1.0 / sqrt(block_sum(part) / M + s.eps);
    if (threadIdx.x == 0) {
        mean[group] = (float)mu;
        rstd[group] = (float)r;
    }
    // y = xhat w[c] + b[c],  xhat = (x - mu) rstd
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
        const int64_t c = g * cpg + i / s.HW;
        const float xhat = (float)((x[base + i] - mu) * r);
        y[base + i] = xhat * w[c] + b[c];
    }
}

// dx += rstd (gh - mean(gh) - xhat mean(gh xhat)),  gh = dy w[c]
__global__ void group_norm_bwd_dx_kernel(float* dx, const float* dy, const float* x, const float* mean,
                                         const float* rstd, const float* w, GroupNormShape s) {
    const int64_t group = blockIdx.x;
    const int64_t g = group % s.G, cpg = s.C / s.G, M = cpg * s.HW, base = group * M;
    const float mu = mean[group], r = rstd[group];
    double part_gh = 0.0, part_gh_xhat = 0.0;
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
        const int64_t c = g * cpg + i / s.HW;
        const float xhat = (x[base + i] - mu) * r;
        const float gh = dy[base + i] * w[c];
        part_gh += gh;
        part_gh_xhat += gh * xhat;
    }
    const float mean_gh = (float)(block_sum(part_gh) / M);
    const float mean_gh_xhat = (float)(block_sum(part_gh_xhat) / M);
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
        const int64_t c = g * cpg + i / s.HW;
        const float xhat = (x[base + i] - mu) * r;
        const float gh = dy[base + i] * w[c];
        dx[base + i] += r * (gh - mean_gh - xhat * mean_gh_xhat);
    }
}

// db[c] += sum_{n,hw} dy;  dw[c] += sum_{n,hw} dy xhat.  Block = channel c; j runs over (n, hw).
__global__ void group_norm_bwd_dwdb_kernel(float* dw, float* db, const float* dy, const float* x, const float* mean,
                                           const float* rstd, GroupNormShape s) {
    const int64_t c = blockIdx.x, g = c / (s.C / s.G);
    double part_db = 0.0, part_dw = 0.0;
    for (int64_t j = threadIdx.x; j < s.N * s.HW; j += blockDim.x) {
        const int64_t n = j / s.HW, hw = j % s.HW;
        const int64_t idx = (n * s.C + c) * s.HW + hw;
        const float xhat = (x[idx] - mean[n * s.G + g]) * rstd[n * s.G + g];
        part_db += dy[idx];
        part_dw += dy[idx] * xhat;
    }
    const double sum_db = block_sum(part_db), sum_dw = block_sum(part_dw);
    if (threadIdx.x == 0) {
        if (db) db[c] += (float)sum_db;
        if (dw) dw[c] += (float)sum_dw;
    }
}

void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        const GroupNormShape& s) {
    const int64_t groups = s.N * s.G;
    if (groups == 0) return;
    group_norm_fwd_kernel<<<(unsigned)groups, kNormThreads, 0, stream()>>>(y, mean, rstd, x, w, b, s);
    FW_CUDA_CHECK_LAUNCH("group_norm_fwd_kernel");
}

void group_norm_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* mean,
                         const float* rstd, const float* w, const GroupNormShape& s) {
    if (dx && s.N * s.G > 0) {
        group_norm_bwd_dx_kernel<<<(unsigned)(s.N * s.G), kNormThreads, 0, stream()>>>(dx, dy, x, mean, rstd, w, s);
        FW_CUDA_CHECK_LAUNCH("group_norm_bwd_dx_kernel");
    }
    if ((dw || db) && s.C > 0) {
        group_norm_bwd_dwdb_kernel<<<(unsigned)s.C, kNormThreads, 0, stream()>>>(dw, db, dy, x, mean, rstd, s);
        FW_CUDA_CHECK_LAUNCH("group_norm_bwd_dwdb_kernel");
    }
}

}  // namespace fw::cuda
