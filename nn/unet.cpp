// UNet-S: construction (names and init order) and the forward as a flat list of calls.
// The architecture, the names and the FLOP count are documented in nn/unet.h.
#include "nn/unet.h"

#include <sstream>

#include "core/error.h"
#include "core/ops.h"
#include "nn/time_embedding.h"

namespace fw::nn {

// --- ResBlock ---------------------------------------------------------------------------------

ResBlock::ResBlock(int cin_, int cout_, int temb, int groups, Generator& gen)
    : cin(cin_), cout(cout_),
      norm1(groups, cin_),
      conv1(cin_, cout_, 3, gen, 1, 1),
      temb_proj(temb, cout_, gen),
      norm2(groups, cout_),
      conv2(cout_, cout_, 3, gen, 1, 1) {
    register_module("norm1", norm1);
    register_module("conv1", conv1);
    register_module("temb_proj", temb_proj);
    register_module("norm2", norm2);
    register_module("conv2", conv2);
    if (cin != cout) {
        skip = std::make_unique<Conv2d>(cin, cout, 1, gen);
        register_module("skip", *skip);
    }
}

std::string ResBlock::type_name() const {
    std::ostringstream os;
    os << "ResBlock " << cin << "->" << cout;
    return os.str();
}

Tensor ResBlock::forward(const Tensor& x, const Tensor& e) const {
    if (!x.defined() || x.dim() != 4 || x.size(1) != cin)
        fail(describe(), ": expects x (N, ", cin, ", H, W), got ", x.defined() ? to_string(x.shape()) : "undefined");
    if (!e.defined() || e.dim() != 2 || e.size(0) != x.size(0) || e.size(1) != temb_proj.in_features)
        fail(describe(), ": expects SiLU(temb) (", x.size(0), ", ", temb_proj.in_features, "), got ",
             e.defined() ? to_string(e.shape()) : "undefined");
    // h = Conv3x3(SiLU(GroupNorm(x)))                         (N, cout, H, W)
    Tensor h = norm1.forward_silu(x);       // SiLU(GroupNorm(x)) as one op
    h = conv1.forward(h);
    // h = Conv3x3(SiLU(GroupNorm(h + Linear(SiLU(temb))))), the (N, cout) projection added to every
    // pixel of its channel (broadcast over H, W) inside the norm's op: h + tp is never stored
    Tensor tp = temb_proj.forward(e);       // (N, cout)
    h = norm2.forward_silu(h, tp);
    // out = Conv3x3(h) + skip(x), skip = Conv1x1 when the width changes, identity otherwise; the
    // conv adds the residual as it writes its output (conv2d_add)
    return conv2.forward_add(h, skip ? skip->forward(x) : x);
}

int64_t ResBlock::macs(int H, int W) const {
    return conv1.macs(H, W) + temb_proj.macs_per_row() + conv2.macs(H, W) + (skip ? skip->macs(H, W) : 0);
}

// --- TimeMLP ----------------------------------------------------------------------------------

TimeMLP::TimeMLP(int time_dim, int temb, Generator& gen) : fc0(time_dim, temb, gen), fc2(temb, temb, gen) {
    register_module("0", fc0);
    register_module("2", fc2);  // index 1 is the SiLU, as in nn.Sequential(Linear, SiLU, Linear)
}

// --- LabelEmbedding -----------------------------------------------------------------------------

LabelEmbedding::LabelEmbedding(int classes_with_null, int temb, Generator& gen) {
    weight = register_parameter("weight", randn({classes_with_null, temb}, gen));
}

Tensor LabelEmbedding::forward(const std::vector<int>& labels, Device device) const {
    const int64_t rows = weight.size(0), n = (int64_t)labels.size();
    std::vector<float> onehot((size_t)(n * rows), 0.0f);  // (N, K + 1), made on the host
    for (int64_t i = 0; i < n; ++i) {
        const int y = labels[(size_t)i];
        if (y < 0 || y >= rows)
            fail("UNet: label ", y, " of sample ", i, " is outside 0..", rows - 1, " (", rows - 1, " = no label)");
        onehot[(size_t)(i * rows + y)] = 1.0f;
    }
    // row y of the table: onehot(y) @ weight, (N, K + 1) @ (K + 1, temb) -> (N, temb)
    return matmul(Tensor::from_vector({n, rows}, onehot).to(device), weight);
}

// --- UNet -------------------------------------------------------------------------------------

static UNetConfig checked(const UNetConfig& c) {
    if (c.in_channels < 1 || c.base < 1 || c.mid < 1 || c.temb < 1)
        fail("UNet: widths must be >= 1 (in_channels ", c.in_channels, ", base ", c.base, ", mid ", c.mid,
             ", temb ", c.temb, ")");
    if (c.time_dim < 2 || c.time_dim % 2 != 0) fail("UNet: time_dim must be even and >= 2, got ", c.time_dim);
    if (c.num_classes < 0) fail("UNet: num_classes must be >= 0, got ", c.num_classes);
    if (c.groups < 1 || c.base % c.groups != 0 || c.mid % c.groups != 0)
        fail("UNet: groups ", c.groups, " must divide base ", c.base, " and mid ", c.mid);
    return c;
}

UNet::UNet(const UNetConfig& c, Generator& gen)
    : cfg(checked(c)),
      time_mlp(c.time_dim, c.temb, gen),
      conv_in(c.in_channels, c.base, 3, gen, 1, 1),
      enc0(c.base, c.base, c.temb, c.groups, gen),
      down0(c.base, c.base, 3, gen, 2, 1),
      enc1(c.base, c.mid, c.temb, c.groups, gen),
      down1(c.mid, c.mid, 3, gen, 2, 1),
      enc2(c.mid, c.mid, c.temb, c.groups, gen),
      mid0(c.mid, c.mid, c.temb, c.groups, gen),
      mid1(c.mid, c.mid, c.temb, c.groups, gen),
      dec0(2 * c.mid, c.mid, c.temb, c.groups, gen),
      up0(c.mid, c.mid, 3, gen, 1, 1),
      dec1(2 * c.mid, c.mid, c.temb, c.groups, gen),
      up1(c.mid, c.mid, 3, gen, 1, 1),
      dec2(c.mid + c.base, c.base, c.temb, c.groups, gen),
      out_norm(c.groups, c.base),
      out_conv(c.base, c.in_channels, 3, gen, 1, 1) {
    register_module("time_mlp", time_mlp);
    register_module("conv_in", conv_in);
    register_module("enc0", enc0);
    register_module("down0", down0);
    register_module("enc1", enc1);
    register_module("down1", down1);
    register_module("enc2", enc2);
    register_module("mid0", mid0);
    register_module("mid1", mid1);
    register_module("dec0", dec0);
    register_module("up0", up0);
    register_module("dec1", dec1);
    register_module("up1", up1);
    register_module("dec2", dec2);
    register_module("out_norm", out_norm);
    register_module("out_conv", out_conv);
    if (c.num_classes > 0) {
        label_emb = std::make_unique<LabelEmbedding>(c.num_classes + 1, c.temb, gen);
        register_module("label_emb", *label_emb);
    }
}

Tensor UNet::forward(const Tensor& x, const std::vector<int>& t, const std::vector<int>& labels) const {
    if (!x.defined() || x.dim() != 4 || x.size(1) != cfg.in_channels)
        fail("UNet: expects x_t (N, ", cfg.in_channels, ", H, W), got ", x.defined() ? to_string(x.shape()) : "undefined");
    if (x.size(2) % 4 != 0 || x.size(3) % 4 != 0)
        fail("UNet: H and W must be multiples of 4 (two 2x downsamplings), got ", to_string(x.shape()));
    if ((int64_t)t.size() != x.size(0))
        fail("UNet: ", t.size(), " timesteps for a batch of ", x.size(0), " (x_t ", to_string(x.shape()), ")");

    // time embedding: (N) -> (N, time_dim) -> (N, temb) -> (N, temb)
    Tensor temb = sinusoidal_embedding(t, cfg.time_dim).to(x.device());  // made on the host
    temb = time_mlp.fc0.forward(temb);
    temb = silu(temb);
    temb = time_mlp.fc2.forward(temb);
    if (conditional()) {
        if ((int64_t)labels.size() != x.size(0))
            fail("UNet: a conditional model needs one label per sample (", null_label(), " = no label): got ",
                 labels.size(), " for a batch of ", x.size(0));
        temb = temb + label_emb->forward(labels, x.device());  // + label_emb.weight[y]
    } else if (!labels.empty()) {
        fail("UNet: labels given to an unconditional model (UNetConfig::num_classes = 0)");
    }
    Tensor e = silu(temb);                  // SiLU(temb), read by every ResBlock's temb_proj

    // encoder                                 (widths for base B, mid M; sizes for H = W = 28)
    Tensor h = conv_in.forward(x);          // (N, B, 28, 28)
    h = enc0.forward(h, e);
    Tensor s0 = h;                          // (N, B, 28, 28)
    h = down0.forward(h);                   // (N, B, 14, 14)
    h = enc1.forward(h, e);
    Tensor s1 = h;                          // (N, M, 14, 14)
    h = down1.forward(h);                   // (N, M, 7, 7)
    h = enc2.forward(h, e);
    Tensor s2 = h;                          // (N, M, 7, 7)

    // middle
    h = mid0.forward(h, e);                 // (N, M, 7, 7)
    h = mid1.forward(h, e);

    // decoder
    h = concat({h, s2}, 1);                 // (N, 2M, 7, 7)
    h = dec0.forward(h, e);                 // (N, M, 7, 7)
    h = upsample_nearest2x(h);              // (N, M, 14, 14)
    h = up0.forward(h);
    h = concat({h, s1}, 1);                 // (N, 2M, 14, 14)
    h = dec1.forward(h, e);                 // (N, M, 14, 14)
    h = upsample_nearest2x(h);              // (N, M, 28, 28)
    h = up1.forward(h);
    h = concat({h, s0}, 1);                 // (N, M + B, 28, 28)
    h = dec2.forward(h, e);                 // (N, B, 28, 28)

    // output
    h = out_norm.forward_silu(h);           // SiLU(GroupNorm(h))
    return out_conv.forward(h);             // (N, in_channels, 28, 28)
}

int64_t UNet::forward_flops(int H, int W) const {
    if (H % 4 != 0 || W % 4 != 0) fail("UNet::forward_flops: H and W must be multiples of 4, got ", H, " x ", W);
    const int H2 = H / 2, W2 = W / 2, H4 = H / 4, W4 = W / 4;
    int64_t macs = 0;
    macs += time_mlp.fc0.macs_per_row() + time_mlp.fc2.macs_per_row();
    macs += conv_in.macs(H, W);
    macs += enc0.macs(H, W) + down0.macs(H, W);      // down0 reads H x W, writes H/2 x W/2
    macs += enc1.macs(H2, W2) + down1.macs(H2, W2);
    macs += enc2.macs(H4, W4);
    macs += mid0.macs(H4, W4) + mid1.macs(H4, W4);
    macs += dec0.macs(H4, W4) + up0.macs(H2, W2);    // up0 runs after the upsampling
    macs += dec1.macs(H2, W2) + up1.macs(H, W);
    macs += dec2.macs(H, W);
    macs += out_conv.macs(H, W);
    return 2 * macs;
}

}  // namespace fw::nn
