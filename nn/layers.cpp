// Linear, Conv2d, GroupNorm: parameters, PyTorch-default initialisation, shape checks that name
// the layer, and a forward that is one core op.
#include "nn/layers.h"

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/ops.h"

namespace fw::nn {

void init_uniform_fan_in(Tensor& t, int64_t fan_in, Generator& gen) {
    FW_ASSERT(fan_in > 0, "fan_in ", fan_in);
    check_cpu(t, "init_uniform_fan_in");  // (modules are made on the host, then moved with to())
    // bound = 1 / sqrt(fan_in): kaiming_uniform_(a = sqrt(5)) for weights, the same bound for biases.
    const float bound = (float)(1.0 / std::sqrt((double)fan_in));
    gen.uniform(t.data(), t.numel(), -bound, bound);
}

// --- Linear -----------------------------------------------------------------------------------

Linear::Linear(int in, int out, Generator& gen, bool with_bias) : in_features(in), out_features(out) {
    if (in < 1 || out < 1) fail("Linear: in_features ", in, " and out_features ", out, " must be >= 1");
    weight = register_parameter("weight", Tensor::empty({out, in}));
    init_uniform_fan_in(weight, in, gen);
    if (with_bias) {
        bias = register_parameter("bias", Tensor::empty({out}));
        init_uniform_fan_in(bias, in, gen);
    }
}

std::string Linear::type_name() const {
    std::ostringstream os;
    os << "Linear " << in_features << "->" << out_features;
    return os.str();
}

Tensor Linear::forward(const Tensor& x) const {
    if (!x.defined() || x.dim() != 2 || x.size(1) != in_features)
        fail(describe(), ": expects input (N, ", in_features, "), got ",
             x.defined() ? to_string(x.shape()) : std::string("an undefined tensor"));
    return linear(x, weight, bias);  // (N, out)
}

// --- Conv2d -----------------------------------------------------------------------------------

Conv2d::Conv2d(int cin, int cout, int k, Generator& gen, int stride_, int pad_, bool with_bias)
    : in_channels(cin), out_channels(cout), kernel(k), stride(stride_), pad(pad_) {
    if (cin < 1 || cout < 1 || k < 1 || stride_ < 1 || pad_ < 0)
        fail("Conv2d: bad configuration ", cin, "->", cout, " kernel ", k, " stride ", stride_, " pad ", pad_);
    const int64_t fan_in = (int64_t)cin * k * k;
    weight = register_parameter("weight", Tensor::empty({cout, cin, k, k}));
    init_uniform_fan_in(weight, fan_in, gen);
    if (with_bias) {
        bias = register_parameter("bias", Tensor::empty({cout}));
        init_uniform_fan_in(bias, fan_in, gen);
    }
}

std::string Conv2d::type_name() const {
    std::ostringstream os;
    os << "Conv2d " << in_channels << "->" << out_channels << " k" << kernel << " s" << stride << " p" << pad;
    return os.str();
}

int64_t Conv2d::macs(int H, int W) const {
    return (int64_t)out_channels * out_size(H) * out_size(W) * in_channels * kernel * kernel;
}

void Conv2d::check_input(const Tensor& x) const {
    if (!x.defined() || x.dim() != 4 || x.size(1) != in_channels)
        fail(describe(), ": expects input (N, ", in_channels, ", H, W), got ",
             x.defined() ? to_string(x.shape()) : std::string("an undefined tensor"));
    if (x.size(2) + 2 * pad < kernel || x.size(3) + 2 * pad < kernel)
        fail(describe(), ": input ", to_string(x.shape()), " is smaller than the kernel");
}

Tensor Conv2d::forward(const Tensor& x) const {
    check_input(x);
    return conv2d(x, weight, bias, stride, pad);  // (N, Cout, OH, OW)
}

Tensor Conv2d::forward_add(const Tensor& x, const Tensor& r) const {
    check_input(x);
    return conv2d_add(x, weight, bias, r, stride, pad);  // (N, Cout, OH, OW) + r
}

// --- GroupNorm --------------------------------------------------------------------------------

GroupNorm::GroupNorm(int groups_, int channels_, float eps_) : groups(groups_), channels(channels_), eps(eps_) {
    if (groups_ < 1 || channels_ < 1 || channels_ % groups_ != 0)
        fail("GroupNorm: ", channels_, " channels cannot be split into ", groups_, " groups");
    if (!(eps_ > 0.0f)) fail("GroupNorm: eps must be > 0, got ", eps_);
    weight = register_parameter("weight", Tensor::ones({channels_}));   // gamma = 1
    bias = register_parameter("bias", Tensor::zeros({channels_}));      // beta = 0
}

std::string GroupNorm::type_name() const {
    std::ostringstream os;
    os << "GroupNorm " << groups << " groups x " << channels << " channels";
    return os.str();
}

void GroupNorm::check_input(const Tensor& x) const {
    if (!x.defined() || x.dim() < 2 || x.size(1) != channels)
        fail(describe(), ": expects input (N, ", channels, ", ...), got ",
             x.defined() ? to_string(x.shape()) : std::string("an undefined tensor"));
}

Tensor GroupNorm::forward(const Tensor& x) const {
    check_input(x);
    return group_norm(x, groups, weight, bias, eps);
}

Tensor GroupNorm::forward_silu(const Tensor& x) const {
    check_input(x);
    return group_norm_silu(x, groups, weight, bias, eps);
}

Tensor GroupNorm::forward_silu(const Tensor& x, const Tensor& shift) const {
    check_input(x);
    return group_norm_silu(x, shift, groups, weight, bias, eps);
}

}  // namespace fw::nn
