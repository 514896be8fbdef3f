// group_norm, and group_norm followed by SiLU in one op: shape checks and autograd; the math is
// in core/kernels/ref/norm_ref.cpp.
#include "core/autograd.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/ops.h"
#include "core/watch.h"

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

// The checks both ops share; returns the kernel's shape.
static GroupNormShape checked_shape(const char* op, const Tensor& x, int groups, const Tensor& w, const Tensor& b,
                                    float eps) {
    check_defined(x, op, "x");
    check_defined(w, op, "weight");
    check_defined(b, op, "bias");
    check_same_device(x, w, op);
    check_same_device(x, b, op);
    if (x.dim() < 2) fail(op, ": expects (N, C, ...), got shape ", to_string(x.shape()));
    const int64_t N = x.shape()[0], C = x.shape()[1];
    if (groups < 1 || C % groups != 0)
        fail(op, ": ", C, " channels (shape ", to_string(x.shape()), ") cannot be split into ", groups, " groups");
    if (w.shape() != Shape{C} || b.shape() != Shape{C})
        fail(op, ": weight ", to_string(w.shape()), " and bias ", to_string(b.shape()), " must both be (", C,
             ") for input ", to_string(x.shape()));
    if (!(eps > 0.0f)) fail(op, ": eps must be > 0, got ", eps);
    return GroupNormShape{N, C, x.numel() / (N * C == 0 ? 1 : N * C), groups, eps};
}

Tensor group_norm(const Tensor& x, int groups, const Tensor& w, const Tensor& b, float eps) {
    const GroupNormShape s = checked_shape("group_norm", x, groups, w, b, eps);
    Tensor y = Tensor::empty(x.shape(), x.device());
    Tensor mean = Tensor::empty({s.N, groups}, x.device()), rstd = Tensor::empty({s.N, groups}, x.device());
    run_op("group_norm", {&x, &w, &b}, y, [&] {
        kernels_for(x.device()).group_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), s);
    });
    if (auto* node = record<GroupNormBackward>(y, {x, w, b})) {
        node->s = s;
        node->mean = mean;
        node->rstd = rstd;
    }
    return y;
}

// y = silu(group_norm(x + shift) w + b) in one pass: the same value as
// silu(group_norm(x + reshape(shift, {N, C, 1, 1}), ...)), without x + shift or the intermediate z
// in memory (the backward recomputes them from x, shift, mean and rstd). inputs: x, w, b and,
// with a shift, shift (N, C).
struct GroupNormSiluBackward final : Node {
    GroupNormSiluBackward() : Node("group_norm_silu") {}
    GroupNormShape s{};
    Tensor mean, rstd;  // (N, G), saved by the forward
    bool overwrites_gradient(size_t i) const override { return i == 0; }  // dx (dw, db: parameters; dshift adds)
    void backward(const float* dy, float* const* dx) override {
        const bool shifted = inputs.size() == 4;
        kernels_for(inputs[0].device())
            .group_norm_silu_backward(dx[0], shifted ? dx[3] : nullptr, dx[1], dx[2], dy, inputs[0].data(),
                                      shifted ? inputs[3].data() : nullptr, mean.data(), rstd.data(),
                                      inputs[1].data(), inputs[2].data(), s,
                                      is_fresh(0) ? GradWrite::Overwrite : GradWrite::Add);
    }
};

// shift: undefined (none) or (N, C)
static Tensor group_norm_silu_impl(const Tensor& x, const Tensor& shift, int groups, const Tensor& w, const Tensor& b,
                                   float eps) {
    const GroupNormShape s = checked_shape("group_norm_silu", x, groups, w, b, eps);
    if (shift.defined()) {
        check_same_device(x, shift, "group_norm_silu");
        if (shift.shape() != Shape{s.N, s.C})
            fail("group_norm_silu: shift ", to_string(shift.shape()), " must be ", to_string(Shape{s.N, s.C}),
                 " for input ", to_string(x.shape()));
    }
    Tensor y = Tensor::empty(x.shape(), x.device());
    Tensor mean = Tensor::empty({s.N, groups}, x.device()), rstd = Tensor::empty({s.N, groups}, x.device());
    std::vector<Tensor> inputs{x, w, b};
    if (shift.defined()) inputs.push_back(shift);
    run_op("group_norm_silu", inputs, y, [&] {
        kernels_for(x.device())
            .group_norm_silu_forward(y.data(), mean.data(), rstd.data(), x.data(),
                                     shift.defined() ? shift.data() : nullptr, w.data(), b.data(), s);
    });
    if (auto* node = record<GroupNormSiluBackward>(y, inputs)) {
        node->s = s;
        node->mean = mean;
        node->rstd = rstd;
    }
    return y;
}

Tensor group_norm_silu(const Tensor& x, int groups, const Tensor& w, const Tensor& b, float eps) {
    return group_norm_silu_impl(x, Tensor(), groups, w, b, eps);
}

Tensor group_norm_silu(const Tensor& x, const Tensor& shift, int groups, const Tensor& w, const Tensor& b, float eps) {
    check_defined(shift, "group_norm_silu", "shift");
    return group_norm_silu_impl(x, shift, groups, w, b, eps);
}

}  // namespace fw
