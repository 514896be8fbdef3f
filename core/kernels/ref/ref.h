// The scalar reference kernels: plain loops, one output element at a time, the math in a
// comment beside the line that computes it. They are the readable definition of every op and
// the yardstick the SIMD and CUDA kernels are tested against. Signatures match core/kernels/kernels.h.
#pragma once

#include "core/kernels/kernels.h"

namespace fw::ref {

// elementwise_ref.cpp
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

// activation_ref.cpp
void sigmoid_forward(float* y, const float* x, int64_t n);
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n);
void tanh_forward(float* y, const float* x, int64_t n);
void tanh_backward(float* dx, const float* dy, const float* y, int64_t n);
void relu_forward(float* y, const float* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* x, int64_t n);
void silu_forward(float* y, const float* x, int64_t n);
void silu_backward(float* dx, const float* dy, const float* x, int64_t n);

// binary_ref.cpp
int64_t broadcast_offset(const BroadcastMap& m, int64_t i);  // m(i)
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

// gemm_ref.cpp
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc);

// conv_ref.cpp
void conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s);
void conv2d_forward_add(float* y, const float* x, const float* w, const float* b, const float* r, const ConvShape& s);
void conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                     const ConvShape& s, GradWrite dx_write);

// winograd_ref.cpp: the Winograd algorithm of the fast 3x3 convs (simd/winograd_simd.inc,
// winograd_dw_simd.inc), one tile at a time, for reading; not in the kernel table. 3x3, stride 1,
// pad 1 only. Forward by F(4x4, 3x3) (overwrites y); dX (+=) by F(4x4, 3x3) on the flipped
// filters; dW (+=) by the adjoint of F(4x4, 3x3); backward: all three, null = not needed.
void winograd_conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s);
void winograd_conv2d_backward_data(float* dx, const float* dy, const float* w, const ConvShape& s);
void winograd_conv2d_backward_weights(float* dw, const float* dy, const float* x, const ConvShape& s);
void winograd_conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                              const ConvShape& s, GradWrite dx_write);

// norm_ref.cpp
void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        const GroupNormShape& s);
void group_norm_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* mean,
                         const float* rstd, const float* w, const GroupNormShape& s);
void group_norm_silu_forward(float* y, float* mean, float* rstd, const float* x, const float* shift, const float* w,
                             const float* b, const GroupNormShape& s);
void group_norm_silu_backward(float* dx, float* dshift, float* dw, float* db, const float* dy, const float* x,
                              const float* shift, const float* mean, const float* rstd, const float* w, const float* b,
                              const GroupNormShape& s, GradWrite dx_write);

// layout_ref.cpp
void copy_axis_range(float* dst, int64_t dst_axis, int64_t dst_start, const float* src, int64_t src_axis,
                     int64_t src_start, int64_t len, int64_t outer, int64_t inner, bool accumulate);
void upsample2x_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W);
void upsample2x_backward(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W);
void avg_pool2d_forward(float* y, const float* x, int64_t planes, int64_t H, int64_t W, int64_t k);
void avg_pool2d_backward(float* dx, const float* dy, int64_t planes, int64_t H, int64_t W, int64_t k);

// loss_ref.cpp
void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols);
void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols);
float nll_loss_forward(const float* logp, const int* labels, int64_t rows, int64_t cols);
void nll_loss_backward(float* dlogp, float g, const int* labels, int64_t rows, int64_t cols);
float mse_loss_forward(const float* a, const float* b, int64_t n);
void mse_loss_backward(float* da, float* db, float g, const float* a, const float* b, int64_t n);

// optim_ref.cpp
void adam_update(float* const* p, const float* const* g, float* const* m, float* const* v, const int64_t* n,
                 int64_t count, const AdamStep& s);
void ema_update(float* const* shadow, const float* const* p, const int64_t* n, int64_t count, float decay);
double sum_squares(const float* const* xs, const int64_t* ns, int64_t count);

// rng_ref.cpp
void philox_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi);
void philox_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);

}  // namespace fw::ref
