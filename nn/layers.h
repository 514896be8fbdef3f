// The layers UNet-S is built from: Linear, Conv2d, GroupNorm. SiLU has no parameters and is the
// plain function fw::silu (core/ops.h); the sinusoidal time embedding is in nn/time_embedding.h.
//
// Initialisation is PyTorch's default (torch.nn.Linear / Conv2d reset_parameters):
//   weight ~ kaiming_uniform_(a = sqrt(5)):  gain = sqrt(2 / (1 + a^2)) = sqrt(1/3),
//            bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)   =>  W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//   bias   ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//   fan_in = in_features (Linear), Cin * K * K (Conv2d).
// So Var(W) = bound^2 / 3 = 1 / (3 fan_in). Values come from the fw::Generator passed in, weight
// first, then bias, so a seed fixes every number.
// GroupNorm: weight (gamma) = 1, bias (beta) = 0, eps = 1e-5, as torch.nn.GroupNorm.
//
// Dimension legend: N = batch, C = channels, H, W = height, width, K = kernel size.
#pragma once

#include <cstdint>

#include "core/rng.h"
#include "nn/module.h"

namespace fw::nn {

// Fills t with U(-1/sqrt(fan_in), 1/sqrt(fan_in)) from gen (PyTorch's default for weights and biases).
void init_uniform_fan_in(Tensor& t, int64_t fan_in, Generator& gen);

// y = x W^T + b.   x (N, in), W (out, in), b (out)  ->  y (N, out).
class Linear : public Module {
public:
    Linear(int in_features, int out_features, Generator& gen, bool bias = true);
    Tensor forward(const Tensor& x) const;
    int64_t macs_per_row() const { return (int64_t)in_features * out_features; }  // multiply-adds per input row
    std::string type_name() const override;

    const int in_features, out_features;
    Tensor weight, bias;  // bias undefined when built with bias = false
};

// y = conv(x, W) + b (cross-correlation, zero padding).
//   x (N, Cin, H, W), W (Cout, Cin, K, K), b (Cout)  ->  y (N, Cout, OH, OW),
//   OH = (H + 2 pad - K) / stride + 1  (OW likewise).
class Conv2d : public Module {
public:
    Conv2d(int in_channels, int out_channels, int kernel, Generator& gen, int stride = 1, int pad = 0,
           bool bias = true);
    Tensor forward(const Tensor& x) const;
    Tensor forward_add(const Tensor& x, const Tensor& r) const;  // forward(x) + r in one op (conv2d_add)
    int out_size(int in) const { return (in + 2 * pad - kernel) / stride + 1; }
    // Multiply-adds for one image of H x W: Cout * OH * OW * Cin * K * K.
    int64_t macs(int H, int W) const;
    std::string type_name() const override;

    const int in_channels, out_channels, kernel, stride, pad;
    Tensor weight, bias;

private:
    void check_input(const Tensor& x) const;  // (N, in_channels, H, W), no smaller than the kernel
};

// Per sample, the C channels are split into `groups` groups of C/groups channels; each group is
// normalised over (its channels x H x W) to zero mean and unit variance (biased variance), then
// y = gamma[c] * xhat + beta[c].   x (N, C, H, W) -> y (same shape).
class GroupNorm : public Module {
public:
    GroupNorm(int groups, int channels, float eps = 1e-5f);
    Tensor forward(const Tensor& x) const;
    Tensor forward_silu(const Tensor& x) const;  // silu(forward(x)) in one op (group_norm_silu)
    // silu(forward(x + shift)), shift (N, C) added to every pixel of its channel, in one op
    Tensor forward_silu(const Tensor& x, const Tensor& shift) const;
    std::string type_name() const override;

    const int groups, channels;
    const float eps;
    Tensor weight, bias;  // gamma = 1, beta = 0 at init, (C)

private:
    void check_input(const Tensor& x) const;  // (N, channels, ...)
};

}  // namespace fw::nn
