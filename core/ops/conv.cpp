// conv2d over (N, C, H, W): shape checks and autograd; the math is in core/kernels/ref/conv_ref.cpp.
#include "core/autograd.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/ops.h"
#include "core/watch.h"

namespace fw {

struct Conv2dBackward final : Node {
    Conv2dBackward() : Node("conv2d") {}
    ConvShape s{};
    bool overwrites_gradient(size_t i) const override { return i == 0; }  // dx (dw, db: parameters)
    void backward(const float* dy, float* const* dx) override {
        float* db = inputs.size() > 2 ? dx[2] : nullptr;
        kernels_for(inputs[0].device())
            .conv2d_backward(dx[0], dx[1], db, dy, inputs[0].data(), inputs[1].data(), s,
                             is_fresh(0) ? GradWrite::Overwrite : GradWrite::Add);
    }
};

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad) {
    check_defined(x, "conv2d", "input");
    check_defined(w, "conv2d", "weight");
    check_same_device(x, w, "conv2d");
    if (x.dim() != 4 || w.dim() != 4 || x.shape()[1] != w.shape()[1])
        fail("conv2d: input ", to_string(x.shape()), " and weight ", to_string(w.shape()),
             " do not match (need input (N,Cin,H,W), weight (Cout,Cin,KH,KW))");
    if (stride < 1 || pad < 0) fail("conv2d: stride ", stride, " must be >= 1 and padding ", pad, " >= 0");
    ConvShape s{};
    s.N = x.shape()[0];
    s.Cin = x.shape()[1];
    s.H = x.shape()[2];
    s.W = x.shape()[3];
    s.Cout = w.shape()[0];
    s.KH = w.shape()[2];
    s.KW = w.shape()[3];
    s.stride = stride;
    s.pad = pad;
    if (s.H + 2 * pad < s.KH || s.W + 2 * pad < s.KW)
        fail("conv2d: kernel ", s.KH, "x", s.KW, " is larger than the padded input ", to_string(x.shape()),
             " with padding ", pad);
    s.OH = (s.H + 2 * pad - s.KH) / stride + 1;
    s.OW = (s.W + 2 * pad - s.KW) / stride + 1;
    if (b.defined()) check_same_device(x, b, "conv2d");
    if (b.defined() && b.shape() != Shape{s.Cout})
        fail("conv2d: bias ", to_string(b.shape()), " does not match weight ", to_string(w.shape()));

    Tensor y = Tensor::empty({s.N, s.Cout, s.OH, s.OW}, x.device());
    run_op("conv2d", {&x, &w, &b}, y, [&] {
        kernels_for(x.device()).conv2d_forward(y.data(), x.data(), w.data(), b.defined() ? b.data() : nullptr, s);
    });
    std::vector<Tensor> inputs = {x, w};
    if (b.defined()) inputs.push_back(b);
    if (auto* node = record<Conv2dBackward>(y, inputs)) node->s = s;
    return y;
}

}  // namespace fw
