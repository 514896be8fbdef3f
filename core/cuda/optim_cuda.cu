// CUDA twins of core/kernels/ref/optim_ref.cpp: Adam/AdamW and EMA updates (one thread per element,
// the reference's lines), and the sum of squares behind clip_grad_norm (the two-pass sum).
//
// The updates take every parameter in one call. Their pointers travel in the kernel's parameters
// (a struct of up to kListTensors tensors, well inside the 4 KiB a launch may carry), so a step
// of UNet-S's 106 parameter tensors is 3 Adam launches and 3 EMA launches, not 106 each, and no
// pointer table is copied to the device. Block (x, y) works on tensor y of the launch; the x
// blocks stride over its elements.
#include <algorithm>
#include <climits>

#include "core/cuda/kernels_cuda.h"
#include "core/error.h"

namespace fw::cuda {

constexpr int kListTensors = 40;     // tensors per launch
constexpr int64_t kListMaxBlocks = 1024;  // x blocks per launch at most (they stride over a tensor)

// Element i of one tensor, the reference's lines
__device__ inline void adam_element(float* p, const float* g_in, float* m, float* v, int64_t i, const AdamStep& s) {
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

struct AdamList {  // up to kListTensors tensors of one launch
    float* p[kListTensors];
    const float* g[kListTensors];
    float* m[kListTensors];
    float* v[kListTensors];
    int64_t n[kListTensors];
};

__global__ void adam_list_kernel(AdamList l, AdamStep s) {
    const int j = blockIdx.y;
    for (int64_t i = global_index(); i < l.n[j]; i += (int64_t)gridDim.x * blockDim.x)
        adam_element(l.p[j], l.g[j], l.m[j], l.v[j], i, s);
}

// Launches `kernel` over tensors [j0, j0 + count) of a list already copied into `list`:
// blockIdx.y = the tensor, enough x blocks for the longest (at most kListMaxBlocks).
template <typename List, typename... Args>
void launch_list(void (*kernel)(List, Args...), const List& list, const int64_t* n, int count, const char* name,
                 Args... args) {
    int64_t longest = 0;
    for (int j = 0; j < count; ++j) longest = std::max(longest, n[j]);
    if (longest == 0) return;
    const dim3 grid((unsigned)std::min<int64_t>(kListMaxBlocks, fw_cuda_blocks(longest, kThreads)), (unsigned)count);
    kernel<<<grid, kThreads, 0, stream()>>>(list, args...);
    check_launch(name, __FILE__, __LINE__);
}

void adam_update(float* const* p, const float* const* g, float* const* m, float* const* v, const int64_t* n,
                 int64_t count, const AdamStep& s) {
    for (int64_t j0 = 0; j0 < count; j0 += kListTensors) {
        const int c = (int)std::min<int64_t>(kListTensors, count - j0);
        AdamList l = {};
        for (int j = 0; j < c; ++j) {
            l.p[j] = p[j0 + j];
            l.g[j] = g[j0 + j];
            l.m[j] = m[j0 + j];
            l.v[j] = v[j0 + j];
            l.n[j] = n[j0 + j];
        }
        launch_list(adam_list_kernel, l, l.n, c, "launch of adam_list_kernel", s);
    }
}

// shadow = d shadow + (1 - d) p
struct EmaList {  // up to kListTensors tensors of one launch
    float* shadow[kListTensors];
    const float* p[kListTensors];
    int64_t n[kListTensors];
};

__global__ void ema_list_kernel(EmaList l, float d) {
    const int j = blockIdx.y;
    float* shadow = l.shadow[j];
    const float* p = l.p[j];
    for (int64_t i = global_index(); i < l.n[j]; i += (int64_t)gridDim.x * blockDim.x)
        shadow[i] = d * shadow[i] + (1.0f - d) * p[i];
}

void ema_update(float* const* shadow, const float* const* p, const int64_t* n, int64_t count, float decay) {
    for (int64_t j0 = 0; j0 < count; j0 += kListTensors) {
        const int c = (int)std::min<int64_t>(kListTensors, count - j0);
        EmaList l = {};
        for (int j = 0; j < c; ++j) {
            l.shadow[j] = shadow[j0 + j];
            l.p[j] = p[j0 + j];
            l.n[j] = n[j0 + j];
        }
        launch_list(ema_list_kernel, l, l.n, c, "launch of ema_list_kernel", decay);
    }
}

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
