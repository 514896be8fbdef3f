// Kernel dispatch: THE one place that decides which implementation of each kernel runs.
//
// Kernels work on raw, contiguous float buffers plus sizes; they know nothing of Tensors or
// autograd. Every backward kernel ACCUMULATES (+=) into its gradient outputs, and a null
// gradient pointer means "not needed". Kernels read all inputs before writing outputs.
//
// The ops in core/ops/ call `kernels_for(device).<name>(...)`. For the CPU there is one table
// per path (core/cpu.h): the scalar references of core/kernels/*_ref.cpp, and the AVX2 and
// AVX-512 tables, which start as copies of the reference table and replace the kernels that
// have a SIMD twin. A CUDA table fills the same struct, so no op changes when it arrives.
#pragma once

#include <cstdint>

#include "core/shape.h"
#include "core/storage.h"

namespace fw {

// conv2d sizes. OH = (H + 2 pad - KH) / stride + 1, likewise OW.
struct ConvShape {
    int64_t N, Cin, H, W, Cout, KH, KW, stride, pad, OH, OW;
};

// group_norm sizes: x is (N, C, HW), C split into G groups of C/G channels.
struct GroupNormShape {
    int64_t N, C, HW, G;
    float eps;
};

// One Adam/AdamW step's constants (nn/optim.h has the equations; nn/optim.cpp computes these).
struct AdamStep {
    float lr, weight_decay, eps, beta1, beta2;
    float step_size;  // lr / (1 - beta1^t)
    float sqrt_bc2;   // sqrt(1 - beta2^t)
    bool decoupled;   // AdamW: p *= 1 - lr wd;  Adam: g += wd p
};

// How conv2d_backward and group_norm_silu_backward write dx: Add (dx += the gradient, as every
// backward kernel does) or Overwrite (dx = the gradient; dx's old contents are never read, so it
// may be uninitialised memory: autograd hands a new gradient buffer this way instead of
// zero-filling it first, see Node::overwrites_gradient in core/autograd.h). dw and db always add.
enum class GradWrite { Add, Overwrite };

using UnaryFwd = void (*)(float* y, const float* x, int64_t n);
using UnaryBwd = void (*)(float* dx, const float* dy, const float* saved, int64_t n);
using BinaryFwd = void (*)(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
using BinaryBwd = void (*)(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                           const float* a, const float* b);

struct Kernels {
    const char* name;  // "scalar reference", later "avx512", "cuda"

    // elementwise unary: y = f(x). backward: dx += dy * f'(.), where `saved` is x or y as noted.
    UnaryFwd exp_forward;     UnaryBwd exp_backward;      // saved = y
    UnaryFwd log_forward;     UnaryBwd log_backward;      // saved = x
    UnaryFwd sqrt_forward;    UnaryBwd sqrt_backward;     // saved = y
    UnaryFwd square_forward;  UnaryBwd square_backward;   // saved = x
    UnaryFwd sigmoid_forward; UnaryBwd sigmoid_backward;  // saved = y
    UnaryFwd tanh_forward;    UnaryBwd tanh_backward;     // saved = y
    UnaryFwd relu_forward;    UnaryBwd relu_backward;     // saved = x
    UnaryFwd silu_forward;    UnaryBwd silu_backward;     // saved = x
    UnaryFwd sin_forward;
    UnaryFwd cos_forward;
    void (*pow_forward)(float* y, const float* x, float p, int64_t n);
    void (*pow_backward)(float* dx, const float* dy, const float* x, float p, int64_t n);
    void (*scale)(float* y, const float* x, float s, int64_t n);        // y = s x
    void (*add_scalar)(float* y, const float* x, float s, int64_t n);   // y = x + s
    void (*axpy)(float* y, const float* x, float s, int64_t n);         // y += s x
    void (*clamp)(float* y, const float* x, float lo, float hi, int64_t n);  // y = min(hi, max(lo, x)), no backward

    // elementwise binary with broadcasting; ma/mb map y's index to a's/b's.
    BinaryFwd add_forward, sub_forward, mul_forward, div_forward;
    BinaryBwd add_backward, sub_backward, mul_backward, div_backward;

    // strided index maps (see BroadcastMap in core/shape.h), y and x as named:
    void (*gather)(float* y, const float* x, const BroadcastMap& m);       // y[i] += x[m(i)], i < m.n
    void (*scatter_add)(float* y, const float* x, const BroadcastMap& m);  // y[m(i)] += x[i], i < m.n

    // C = op(A) op(B) + beta C;  op(A) is (M,K), op(B) is (K,N), C is (M,N); row-major with
    // leading dimensions lda, ldb, ldc; trans_a means A is stored as (K,M).
    void (*gemm)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

    void (*conv2d_forward)(float* y, const float* x, const float* w, const float* b, const ConvShape& s);
    // y = conv2d_forward's y + r, r (N, Cout, OH, OW): a ResBlock's residual added by the conv
    // (the same bits as the conv, then an add)
    void (*conv2d_forward_add)(float* y, const float* x, const float* w, const float* b, const float* r,
                               const ConvShape& s);
    void (*conv2d_backward)(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                            const ConvShape& s, GradWrite dx_write);

    void (*group_norm_forward)(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                               const GroupNormShape& s);
    void (*group_norm_backward)(float* dx, float* dw, float* db, const float* dy, const float* x, const float* mean,
                                const float* rstd, const float* w, const GroupNormShape& s);
    // group_norm followed by SiLU in one pass: y = silu(z), z = group_norm(x + shift) (as above),
    // shift (N, C) added to every pixel of channel c of sample n (a ResBlock's time embedding;
    // null: no shift). Only x, shift, mean and rstd are saved: the backward recomputes z (so it
    // also needs b), forms gz = dy s(z) (1 + z (1 - s(z))) and runs group_norm's backward with gz;
    // dshift[n, c] += the sum over the pixels of that dx (when dshift is not null).
    void (*group_norm_silu_forward)(float* y, float* mean, float* rstd, const float* x, const float* shift,
                                    const float* w, const float* b, const GroupNormShape& s);
    void (*group_norm_silu_backward)(float* dx, float* dshift, float* dw, float* db, const float* dy,
                                     const float* x, const float* shift, const float* mean, const float* rstd,
                                     const float* w, const float* b, const GroupNormShape& s, GradWrite dx_write);

    // dst viewed as (outer, dst_axis, inner), src as (outer, src_axis, inner): copies (or adds)
    // src[:, src_start : src_start+len, :] into dst[:, dst_start : dst_start+len, :].
    void (*copy_axis_range)(float* dst, int64_t dst_axis, int64_t dst_start, const float* src, int64_t src_axis,
                            int64_t src_start, int64_t len, int64_t outer, int64_t inner, bool accumulate);

    void (*upsample2x_forward)(float* y, const float* x, int64_t planes, int64_t H, int64_t W);
    void (*upsample2x_backward)(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W);
    void (*avg_pool2d_forward)(float* y, const float* x, int64_t planes, int64_t H, int64_t W, int64_t k);
    void (*avg_pool2d_backward)(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W, int64_t k);

    void (*log_softmax_forward)(float* y, const float* x, int64_t rows, int64_t cols);
    void (*log_softmax_backward)(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols);
    float (*nll_loss_forward)(const float* logp, const int* labels, int64_t rows, int64_t cols);
    void (*nll_loss_backward)(float* dlogp, float g, const int* labels, int64_t rows, int64_t cols);
    float (*mse_loss_forward)(const float* a, const float* b, int64_t n);
    void (*mse_loss_backward)(float* da, float* db, float g, const float* a, const float* b, int64_t n);
    // labels: nll_loss's labels are a HOST array on every device (they come as a std::vector).

    // optimizer and EMA (core/kernels/ref/optim_ref.cpp), in place, on `count` tensors at once (every
    // parameter in one call: on the GPU one launch per few dozen tensors, not one per tensor).
    // Tensor j is p[j], g[j], m[j], v[j] (resp. shadow[j], p[j]) of n[j] floats.
    void (*adam_update)(float* const* p, const float* const* g, float* const* m, float* const* v, const int64_t* n,
                        int64_t count, const AdamStep& s);
    void (*ema_update)(float* const* shadow, const float* const* p, const int64_t* n, int64_t count,
                       float decay);  // shadow = d shadow + (1-d) p
    // sum over tensors j < count of sum_i xs[j][i]^2 (i < ns[j]), summed in double, tensor by
    // tensor: clip_grad_norm's squared global norm of every gradient in one call (on the GPU one
    // wait for the result, not one per tensor).
    double (*sum_squares)(const float* const* xs, const int64_t* ns, int64_t count);

    // the Philox stream of core/rng.h (core/kernels/ref/rng_ref.cpp): out[i] from block offset + i/4
    void (*philox_uniform)(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi);
    void (*philox_normal)(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);
};

enum class CpuPath;
const Kernels& reference_kernels();        // the scalar references, always available
const Kernels& cpu_kernels(CpuPath path);  // the table of one CPU path (core/cpu.h)
const Kernels& kernels_for(Device d);      // what ops use: for the CPU, the path in use now

}  // namespace fw
