// CUDA twins of core/kernels/optim_ref.cpp: Adam/AdamW and EMA updates (one thread per element,
// the reference's lines), and the sum of squares behind clip_grad_norm (the two-pass sum).
#include <climits>

#include "core/cuda/kernels_cuda.h"
#include "core/error.h"

namespace fw::cuda {

__global__ void adam_kernel(float* p, const float* g_in, float* m, float* v, int64_t n, AdamStep s) {
    const int64_t i = global_index();
    if (i >= n) return;
    float g = g_in[i];
    if (s.weight_decay != 0.0f) {
        if (s.decoupled) p[i] *= 1.0f - s.lr * s.weight_decay;  // AdamW: p = p (1 - lr wd)
        else g += s.weight_decay * p[i];                        // Adam:  g = g + wd p
    }
    m[i] = s.beta1 * m[i] + (1.0f - s.beta1) * g;      // m = b1 m + (1 - b1) g
    v[i] = s.beta2 * v[i] + (1.0f - s.beta2) * g * g;  // v = b2 v + (1 - b2) g^2
    const float denom = sqrtf(v[i]) / s.sqrt_bc2 + s.eps;  // sqrt(vhat) + eps
    p[i] -= s.step_size * m[i] / denom;                // p = p - lr mhat / (sqrt(vhat) + eps)
}

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamStep& s) {
    FW_LAUNCH_1D(adam_kernel, n, p, g, m, v, n, s);
}

// shadow = d shadow + (1 - d) p
__global__ void ema_kernel(float* shadow, const float* p, float d, int64_t n) {
    const int64_t i = global_index();
    if (i < n) shadow[i] = d * shadow[i] + (1.0f - d) * p[i];
}

void ema_update(float* shadow, const float* p, float decay, int64_t n) { FW_LAUNCH_1D(ema_kernel, n, shadow, p, decay, n); }

// partials[block] = its share of sum_i x_i^2, in double
__global__ void square_partials_kernel(double* partials, const float* x, int64_t n) {
    double part = 0.0;
    for (int64_t i = global_index(); i < n; i += (int64_t)gridDim.x * blockDim.x) part += (double)x[i] * x[i];
    const double total = block_sum(part);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// The partials of every tensor side by side (up to kReduceBlocks each), then one fixed-order sum of
// them all: one wait for the host, however many tensors (clip_grad_norm: every gradient).
double sum_squares(const float* const* xs, const int64_t* ns, int64_t count) {
    auto blocks_of = [](int64_t n) { return (int)std::min<int64_t>(kReduceBlocks, fw_cuda_blocks(n, kThreads)); };
    int64_t total = 0;
    for (int64_t j = 0; j < count; ++j) total += ns[j] > 0 ? blocks_of(ns[j]) : 0;
    if (total == 0) return 0.0;
    if (total >= INT_MAX) fail("cuda sum_squares: ", count, " tensors need ", total, " partial sums");
    double* partials = static_cast<double*>(workspace(sizeof(double) * (total + 1)));  // + 1: the total
    int64_t at = 0;
    for (int64_t j = 0; j < count; ++j) {
        if (ns[j] <= 0) continue;
        const int blocks = blocks_of(ns[j]);
        square_partials_kernel<<<blocks, kThreads, 0, stream()>>>(partials + at, xs[j], ns[j]);
        FW_CUDA_CHECK_LAUNCH("square_partials_kernel");
        at += blocks;
    }
    return sum_partials(partials, (int)total);
}

}  // namespace fw::cuda
