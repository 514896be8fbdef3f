// group_norm: shape checks and autograd; the math is in core/kernels/norm_ref.cpp.
#include "core/autograd.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/ops.h"

namespace fw {

struct GroupNormBackward final : Node {
    GroupNormBackward() : Node("group_norm") {}
    GroupNormShape s{};
    Tensor mean, rstd;  // (N, G), saved by the forward
    void backward(const float* dy, float* const* dx) override {
        kernels_for(inputs[0].device())
            .group_norm_backward(dx[0], dx[1], dx[2], dy, inputs[0].data(), mean.data(), rstd.data(),
                                 inputs[1].data(), s);
    }
};

Tensor group_norm(const Tensor& x, int groups, const Tensor& w, const Tensor& b, float eps) {
    check_defined(x, "group_norm", "x");
    check_defined(w, "group_norm", "weight");
    check_defined(b, "group_norm", "bias");
    check_same_device(x, w, "group_norm");
    check_same_device(x, b, "group_norm");
    if (x.dim() < 2) fail("group_norm: expects (N, C, ...), got shape ", to_string(x.shape()));
    const int64_t N = x.shape()[0], C = x.shape()[1];
    if (groups < 1 || C % groups != 0)
        fail("group_norm: ", C, " channels (shape ", to_string(x.shape()), ") cannot be split into ", groups, " groups");
    if (w.shape() != Shape{C} || b.shape() != Shape{C})
        fail("group_norm: weight ", to_string(w.shape()), " and bias ", to_string(b.shape()), " must both be (", C,
             ") for input ", to_string(x.shape()));
    if (!(eps > 0.0f)) fail("group_norm: eps must be > 0, got ", eps);
    GroupNormShape s{N, C, x.numel() / (N * C == 0 ? 1 : N * C), groups, eps};
    Tensor y = Tensor::empty(x.shape(), x.device());
    Tensor mean = Tensor::empty({N, groups}, x.device()), rstd = Tensor::empty({N, groups}, x.device());
    kernels_for(x.device()).group_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), s);
    if (auto* node = record<GroupNormBackward>(y, {x, w, b})) {
        node->s = s;
        node->mean = mean;
        node->rstd = rstd;
    }
    return y;
}

}  // namespace fw
