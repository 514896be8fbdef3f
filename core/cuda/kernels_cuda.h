// The CUDA twins of the kernels in core/kernels/ref/ref.h, one .cu file per family, and the small
// device helpers they share. Included only by core/cuda/*.cu. Every pointer is a device pointer
// (except nll_loss's labels, a host array as on the CPU); everything runs on fw::cuda::stream().
// Semantics are the references': backward kernels ACCUMULATE (+=), a null gradient = not needed.
#pragma once

#include <cstdint>

#include "core/cuda/runtime.h"
#include "core/kernels/kernels.h"

// Threads per block of the one-thread-per-element kernels.
constexpr int kThreads = 256;

// Launch `kernel` with one thread per element i < n (n may be 0: then nothing is launched, since
// a grid of 0 blocks is an error), then check the launch.
#define FW_LAUNCH_1D(kernel, n, ...)                                                       \
    do {                                                                                   \
        if ((n) > 0) {                                                                     \
            kernel<<<fw_cuda_blocks((n), kThreads), kThreads, 0, ::fw::cuda::stream()>>>(__VA_ARGS__); \
            FW_CUDA_CHECK_LAUNCH(#kernel);                                                 \
        }                                                                                  \
    } while (0)

// s(x) = 1 / (1 + e^{-x}), written so that e^{..} never overflows (as the reference)
__device__ inline float stable_sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

// This thread's element index in a 1-D grid (64-bit: tensors may exceed 2^31 elements).
__device__ inline int64_t global_index() { return (int64_t)blockIdx.x * blockDim.x + threadIdx.x; }

// Sum over the block of one double per thread; every thread gets the total.
// blockDim.x must be a multiple of 32 (<= 1024). Step 1: each warp adds its 32 values with
// shuffles; step 2: warp 0 adds the per-warp sums. The order is fixed, so the result is too.
__device__ inline double block_sum(double v) {
    __shared__ double warp_sums[32];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
    __syncthreads();  // a previous call's readers of warp_sums are done
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        double t = lane < warps ? warp_sums[lane] : 0.0;
        for (int off = 16; off > 0; off /= 2) t += __shfl_down_sync(0xffffffffu, t, off);
        if (lane == 0) warp_sums[0] = t;
    }
    __syncthreads();
    return warp_sums[0];
}

// d[i] += v, where other threads may add to the same d[i] unless `exclusive` (an identity map).
__device__ inline void add_to(float* d, float v, bool exclusive) {
    if (exclusive) *d += v;
    else atomicAdd(d, v);
}

namespace fw::cuda {

// The Kernels table of the CUDA backend (kernels_cuda.cu).
Kernels make_cuda_table();

// --- reductions (loss_cuda.cu): a deterministic two-pass sum. The first pass writes one double
// per block into `partials`; sum_partials adds the first `count` in a fixed order (into
// partials[count]: the buffer holds count + 1) and copies the total home.
constexpr int kReduceBlocks = 256;  // partial sums per reduced array, at most
double* reduce_partials_buffer();    // kReduceBlocks doubles + 1 of device scratch (workspace)
double sum_partials(double* partials, int count);

// elementwise_cuda.cu
void exp_forward(float* y, const float* x, int64_t n);
void exp_backward(float* dx, const float* dy, const float* y, int64_t n);
void log_forward(float* y, const float* x, int64_t n);
void log_backward(float* dx, const float* dy, const float* x, int64_t n);
void sqrt_forward(float* y, const float* x, int64_t n);
void sqrt_backward(float* dx, const float* dy, const float* y, int64_t n);
void square_forward(float* y, const float* x, int64_t n);
void square_backward(float* dx, const float* dy, const float* x, int64_t n);
void pow_forward(float* y, const float* x, float p, int64_t n);
void pow_backward(float* dx, const float* dy, const float* x, float p, int64_t n);
void scale(float* y, const float* x, float s, int64_t n);
void add_scalar(float* y, const float* x, float s, int64_t n);
void axpy(float* y, const float* x, float s, int64_t n);
void clamp(float* y, const float* x, float lo, float hi, int64_t n);
void sin_forward(float* y, const float* x, int64_t n);
void cos_forward(float* y, const float* x, int64_t n);
void sigmoid_forward(float* y, const float* x, int64_t n);
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n);
void tanh_forward(float* y, const float* x, int64_t n);
void tanh_backward(float* dx, const float* dy, const float* y, int64_t n);
void relu_forward(float* y, const float* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* x, int64_t n);
void silu_forward(float* y, const float* x, int64_t n);
void silu_backward(float* dx, const float* dy, const float* x, int64_t n);

// binary_cuda.cu
void add_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void sub_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void mul_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void div_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void add_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);
void sub_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);
void mul_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);
void div_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);
void gather(float* y, const float* x, const BroadcastMap& m);
void scatter_add(float* y, const float* x, const BroadcastMap& m);

// norm_cuda.cu
void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        const GroupNormShape& s);
void group_norm_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* mean,
                         const float* rstd, const float* w, const GroupNormShape& s);

// norm_silu_cuda.cu
void group_norm_silu_forward(float* y, float* mean, float* rstd, const float* x, const float* shift, const float* w,
                             const float* b, const GroupNormShape& s);
void group_norm_silu_backward(float* dx, float* dshift, float* dw, float* db, const float* dy, const float* x,
                              const float* shift, const float* mean, const float* rstd, const float* w, const float* b,
                              const GroupNormShape& s, GradWrite dx_write);

// layout_cuda.cu
void copy_axis_range(float* dst, int64_t dst_axis, int64_t dst_start, const float* src, int64_t src_axis,
                     int64_t src_start, int64_t len, int64_t outer, int64_t inner, bool accumulate);
void upsample2x_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W);
void upsample2x_backward(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W);
void avg_pool2d_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W, int64_t k);
void avg_pool2d_backward(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W, int64_t k);

// loss_cuda.cu
void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols);
void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols);
float nll_loss_forward(const float* logp, const int* labels, int64_t rows, int64_t cols);
void nll_loss_backward(float* dlogp, float g, const int* labels, int64_t rows, int64_t cols);
float mse_loss_forward(const float* a, const float* b, int64_t n);
void mse_loss_backward(float* da, float* db, float g, const float* a, const float* b, int64_t n);

// optim_cuda.cu
void adam_update(float* const* p, const float* const* g, float* const* m, float* const* v, const int64_t* n,
                 int64_t count, const AdamStep& s);
void ema_update(float* const* shadow, const float* const* p, const int64_t* n, int64_t count, float decay);
double sum_squares(const float* const* xs, const int64_t* ns, int64_t count);

// rng_cuda.cu
void philox_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi);
void philox_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);

}  // namespace fw::cuda
