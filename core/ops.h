// The ops a conv UNet denoiser and a small classifier need, on Tensors, with autograd.
//
// Each op checks its arguments (a bad shape throws fw::Error naming the op and the shapes),
// allocates its output, runs the forward kernel chosen by core/kernels/kernels.h for the
// tensors' device, and — when an input requires grad — records a Node whose backward calls
// the matching backward kernel. The math of each op is written once, beside its kernels in
// core/kernels/*_ref.cpp; core/op_table.cpp lists every op's forward and gradient in one table.
//
// Dimension legend: N = batch, C = channels, H, W = height, width, K = kernel size.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace fw {

// --- elementwise, tensor-tensor with numpy broadcasting (core/ops/elementwise.cpp) ----------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// tensor-scalar
Tensor add(const Tensor& x, float s);
Tensor sub(const Tensor& x, float s);   // x - s
Tensor mul(const Tensor& x, float s);
Tensor div(const Tensor& x, float s);   // x / s
Tensor neg(const Tensor& x);
// unary
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor pow(const Tensor& x, float p);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor silu(const Tensor& x);
// Not differentiable (time embeddings only): throw if grad would be needed.
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor clamp(const Tensor& x, float lo, float hi);  // min(hi, max(lo, x)); no gradient

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, float s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, float s) { return sub(a, s); }
inline Tensor operator*(const Tensor& a, float s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, float s) { return div(a, s); }
inline Tensor operator*(float s, const Tensor& a) { return mul(a, s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// --- reductions (core/ops/reduce.cpp) --------------------------------------------------------
Tensor sum(const Tensor& x);                                         // all elements -> 0-d
Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim = false);

// --- shape (core/ops/shape.cpp) --------------------------------------------------------------
Tensor reshape(const Tensor& x, Shape shape);          // a view; one size may be -1
Tensor permute(const Tensor& x, std::vector<int> dims);  // a copy in the new order
Tensor transpose(const Tensor& x, int a, int b);       // permute swapping two axes
Tensor concat(const std::vector<Tensor>& xs, int axis);
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);  // [start, end), a copy
std::vector<Tensor> split(const Tensor& x, int axis, const std::vector<int64_t>& sizes);
Tensor upsample_nearest2x(const Tensor& x);            // (N,C,H,W) -> (N,C,2H,2W)
Tensor avg_pool2d(const Tensor& x, int k);             // (N,C,H,W) -> (N,C,H/k,W/k), stride k

// --- linear algebra and convolution (core/ops/linalg.cpp, core/ops/conv.cpp) -----------------
Tensor matmul(const Tensor& a, const Tensor& b);       // (M,K)@(K,N) or (B,M,K)@(B,K,N)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);  // x (N,in), w (out,in), b (out) or undefined
// x (N,Cin,H,W), w (Cout,Cin,KH,KW), b (Cout) or undefined -> (N,Cout,OH,OW),
// OH = (H + 2 pad - KH) / stride + 1.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride = 1, int pad = 0);
// conv2d(x, w, b, stride, pad) + r in one op (r: the output's shape, a ResBlock's residual): the
// conv adds r as it writes y where its kernel can (the same values as conv2d, then +).
Tensor conv2d_add(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r, int stride = 1, int pad = 0);

// --- normalization (core/ops/norm.cpp) -------------------------------------------------------
// x (N,C,H,W) or (N,C); C split into `groups` groups of C/groups channels; w, b (C).
Tensor group_norm(const Tensor& x, int groups, const Tensor& w, const Tensor& b, float eps = 1e-5f);
// silu(group_norm(x, groups, w, b, eps)) in one op (one pass over memory forward and backward).
Tensor group_norm_silu(const Tensor& x, int groups, const Tensor& w, const Tensor& b, float eps = 1e-5f);
// silu(group_norm(x + reshape(shift, {N, C, 1, 1}), groups, w, b, eps)) in one op: shift (N, C)
// added to every pixel of its (sample, channel) first (a ResBlock's time embedding), neither
// x + shift nor the normalized values kept in memory.
Tensor group_norm_silu(const Tensor& x, const Tensor& shift, int groups, const Tensor& w, const Tensor& b,
                       float eps = 1e-5f);

// --- losses (core/ops/loss.cpp) --------------------------------------------------------------
Tensor mse_loss(const Tensor& pred, const Tensor& target);   // mean squared error, 0-d
Tensor log_softmax(const Tensor& x);                         // over the last axis
Tensor nll_loss(const Tensor& logp, const std::vector<int>& labels);  // logp (N,C) -> 0-d
Tensor cross_entropy(const Tensor& logits, const std::vector<int>& labels);  // nll(log_softmax)

}  // namespace fw
