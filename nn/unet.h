// UNet-S: the reference noise-prediction network eps_theta(x_t, t) for 1 x 28 x 28 MNIST images.
//
// Benchmarks and the PyTorch parity script depend on this exact architecture. With the default
// config (base 32, mid 64, time 32 -> 128, 8 groups) it has 776,929 parameters and costs
// 137,208,832 multiply-adds = 0.274 GFLOP per 28 x 28 image forward (convs + linears, 2 FLOP per
// multiply-add; norms, activations, adds and biases not counted). See UNet::forward_flops.
//
// Time embedding (N timesteps -> (N, temb)):
//   sinusoidal_embedding(t, 32) -> Linear(32, 128) -> SiLU -> Linear(128, 128) = temb
// ResBlock(cin, cout), with e = SiLU(temb) computed once and shared by all blocks:
//   h   = Conv3x3(SiLU(GroupNorm(8, cin)(x)))           cin  -> cout
//   h  += Linear(128, cout)(e)[:, :, None, None]        broadcast over H, W
//   h   = Conv3x3(SiLU(GroupNorm(8, cout)(h)))          cout -> cout
//   out = h + (Conv1x1(x) if cin != cout else x)
//   (the += and the GroupNorm + SiLU after it are one op, group_norm_silu with a shift; the last
//   Conv3x3 and the + are one op too, conv2d_add)
// Network (B = base width 32, M = mid width 64; sizes for a 28 x 28 input):
//   conv_in  Conv3x3(1 -> B)                                   28 x 28
//   enc0     ResBlock(B, B)              -> skip s0            28 x 28
//   down0    Conv3x3 stride 2 (B -> B)                         14 x 14
//   enc1     ResBlock(B, M)              -> skip s1            14 x 14
//   down1    Conv3x3 stride 2 (M -> M)                          7 x 7
//   enc2     ResBlock(M, M)              -> skip s2             7 x 7
//   mid0     ResBlock(M, M);  mid1 ResBlock(M, M)               7 x 7
//   dec0     ResBlock(2M, M) on cat(h, s2)                      7 x 7
//   up0      nearest 2x upsample, then Conv3x3(M -> M)         14 x 14
//   dec1     ResBlock(2M, M) on cat(h, s1)                     14 x 14
//   up1      nearest 2x upsample, then Conv3x3(M -> M)         28 x 28
//   dec2     ResBlock(M + B, B) on cat(h, s0)                  28 x 28
//   out_norm GroupNorm(8, B) -> SiLU -> out_conv Conv3x3(B -> 1)
// All 3x3 convs have padding 1 and a bias; cat is along channels, h first. H and W must be
// multiples of 4 so the two stride-2 convs and the two upsamplings give back the skip sizes.
//
// Parameter names (a PyTorch mirror must use the same module names; order is pre-order, as
// named_parameters()):
//   time_mlp.0.weight (128, 32)   time_mlp.0.bias     <- nn.Sequential(Linear, SiLU, Linear):
//   time_mlp.2.weight (128, 128)  time_mlp.2.bias        indices 0 and 2
//   conv_in.weight (32, 1, 3, 3)  conv_in.bias
//   enc0.{norm1, conv1, temb_proj, norm2, conv2}.{weight, bias}, and enc0.skip.{weight, bias}
//       only where cin != cout (enc1, dec0, dec1, dec2), a 1x1 conv
//   down0.{weight, bias}, enc1.*, down1.*, enc2.*, mid0.*, mid1.*, dec0.*,
//   up0.{weight, bias} (the conv after the upsampling), dec1.*, up1.*, dec2.*,
//   out_norm.{weight, bias}, out_conv.{weight, bias}
// Inside a ResBlock the order is norm1, conv1, temb_proj, norm2, conv2, skip.
//
// Class conditioning (num_classes = K > 0; train_mnist --cond): a learned label embedding, a
// (K + 1, temb) table whose row y is added to temb before the SiLU (row K is "no label", the
// unconditional model of classifier-free guidance):
//   temb = Linear(128, 128)(SiLU(Linear(32, 128)(sinusoid(t)))) + label_emb.weight[y]
// computed as onehot(y) (N, K + 1) @ label_emb.weight, so its gradient is onehot^T @ d temb. The
// table starts N(0, 1) (LabelEmbedding below says why). It is the last parameter
// (label_emb.weight) and is drawn after all others, so the other parameters are the unconditional
// model's, and with K = 0 nothing changes: the same 776,929 parameters from the same generator.
//
// Dimension legend: N = batch, C = channels, H, W = height, width.
#pragma once

#include <memory>
#include <vector>

#include "core/rng.h"
#include "nn/layers.h"
#include "nn/module.h"

namespace fw::nn {

struct UNetConfig {
    int in_channels = 1;   // image channels (and output channels: eps has the image's shape)
    int base = 32;         // B: width at full resolution
    int mid = 64;          // M: width at 1/2 and 1/4 resolution
    int time_dim = 32;     // sinusoidal embedding size (even)
    int temb = 128;        // time MLP width
    int groups = 8;        // GroupNorm groups; must divide B, M
    int num_classes = 0;   // K: 0 = unconditional; K > 0 = a label embedding of K + 1 rows (row K: no label)

    static UNetConfig small() { return {}; }  // UNet-S: 776,929 parameters
    // For tests: 8 / 16 wide, 4 groups, time 16 -> 32. Runs on 8 x 8 images in milliseconds.
    static UNetConfig tiny() { return {1, 8, 16, 16, 32, 4}; }
};

class ResBlock : public Module {
public:
    ResBlock(int cin, int cout, int temb, int groups, Generator& gen);
    // x (N, cin, H, W), e = SiLU(temb) (N, temb)  ->  (N, cout, H, W)
    Tensor forward(const Tensor& x, const Tensor& e) const;
    int64_t macs(int H, int W) const;  // per image
    std::string type_name() const override;

    const int cin, cout;
    GroupNorm norm1;
    Conv2d conv1;
    Linear temb_proj;
    GroupNorm norm2;
    Conv2d conv2;
    std::unique_ptr<Conv2d> skip;  // 1x1, only when cin != cout
};

// Holds the two Linears of the time MLP under the names "0" and "2" (see above).
class TimeMLP : public Module {
public:
    TimeMLP(int time_dim, int temb, Generator& gen);
    std::string type_name() const override { return "TimeMLP"; }
    Linear fc0, fc2;
};

// The label table of a conditional UNet: weight (K + 1, temb), N(0, 1) at the start (as
// torch.nn.Embedding). Each row is then a large, distinct shift of the time embedding from step 1
// (row norm ~sqrt(temb) = 11). Started at zero, the rows stayed small (norm ~0.2 after 1,500 steps:
// Adam's steps on them mostly cancel) and the model ignored the label: accuracy on the asked digit
// 0.10 (chance) vs 0.77 with N(0, 1), unguided, 200 DDIM samples after 1,500 steps of make train-cond.
class LabelEmbedding : public Module {
public:
    LabelEmbedding(int classes_with_null, int temb, Generator& gen);
    // labels: N values in 0..rows-1  ->  (N, temb), the rows of weight, with gradients into weight
    Tensor forward(const std::vector<int>& labels, Device device) const;
    std::string type_name() const override { return "LabelEmbedding"; }
    Tensor weight;
};

class UNet : public Module {
public:
    // Initialises every parameter from gen, in the order of the members below.
    UNet(const UNetConfig& cfg, Generator& gen);
    // x_t (N, in_channels, H, W), t: N integer timesteps  ->  eps prediction (N, in_channels, H, W).
    // labels: N values in 0..K (K = no label) for a conditional model; empty for an unconditional one.
    Tensor forward(const Tensor& x, const std::vector<int>& t, const std::vector<int>& labels = {}) const;
    bool conditional() const { return cfg.num_classes > 0; }
    int null_label() const { return cfg.num_classes; }  // the "no label" row
    // 2 * multiply-adds of every conv and linear, for ONE image of H x W.
    int64_t forward_flops(int H, int W) const;
    std::string type_name() const override { return "UNet"; }

    const UNetConfig cfg;
    TimeMLP time_mlp;
    Conv2d conv_in;
    ResBlock enc0;
    Conv2d down0;
    ResBlock enc1;
    Conv2d down1;
    ResBlock enc2;
    ResBlock mid0, mid1;
    ResBlock dec0;
    Conv2d up0;
    ResBlock dec1;
    Conv2d up1;
    ResBlock dec2;
    GroupNorm out_norm;
    Conv2d out_conv;
    std::unique_ptr<LabelEmbedding> label_emb;  // only when num_classes > 0
};

}  // namespace fw::nn
