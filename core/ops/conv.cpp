// conv2d over (N, C, H, W): shape checks and autograd; the math is in core/kernels/ref/conv_ref.cpp.
#include "core/autograd.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/ops.h"
#include "core/watch.h"

namespace fw {

// inputs: x, w, then b if there is one, then r if there is one (conv2d_add: y = conv2d + r, whose
// gradient is dy itself).
struct Conv2dBackward final : Node {
    Conv2dBackward() : Node("conv2d") {}
    ConvShape s{};
    bool has_bias = false, has_residual = false;
    bool overwrites_gradient(size_t i) const override { return i == 0; }  // dx (dw, db: parameters)
    bool passes_gradient(size_t i) const override { return has_residual && i == inputs.size() - 1; }
    void backward(const float* dy, float* const* dx) override {
        const Kernels& k = kernels_for(inputs[0].device());
        float* db = has_bias ? dx[2] : nullptr;
        k.conv2d_backward(dx[0], dx[1], db, dy, inputs[0].data(), inputs[1].data(), s,
                          is_fresh(0) ? GradWrite::Overwrite : GradWrite::Add);
        // dr += dy, when r already had a gradient (else run_backward made dy's buffer r's gradient)
        if (float* dr = has_residual ? dx[inputs.size() - 1] : nullptr) k.axpy(dr, dy, 1.0f, inputs.back().numel());
    }
};

// The checks of conv2d and conv2d_add; returns the kernel's shape.
static ConvShape checked_shape(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad) {
    check_defined(x, op, "input");
    check_defined(w, op, "weight");
    check_same_device(x, w, op);
    if (x.dim() != 4 || w.dim() != 4 || x.shape()[1] != w.shape()[1])
        fail(op, ": input ", to_string(x.shape()), " and weight ", to_string(w.shape()),
             " do not match (need input (N,Cin,H,W), weight (Cout,Cin,KH,KW))");
    if (stride < 1 || pad < 0) fail(op, ": stride ", stride, " must be >= 1 and padding ", pad, " >= 0");
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
        fail(op, ": kernel ", s.KH, "x", s.KW, " is larger than the padded input ", to_string(x.shape()),
             " with padding ", pad);
    s.OH = (s.H + 2 * pad - s.KH) / stride + 1;
    s.OW = (s.W + 2 * pad - s.KW) / stride + 1;
    if (b.defined()) check_same_device(x, b, op);
    if (b.defined() && b.shape() != Shape{s.Cout})
        fail(op, ": bias ", to_string(b.shape()), " does not match weight ", to_string(w.shape()));
    return s;
}

// y = conv2d(x, w, b) [+ r]
static Tensor conv2d_impl(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r,
                          int stride, int pad) {
    const ConvShape s = checked_shape(op, x, w, b, stride, pad);
    Tensor y = Tensor::empty({s.N, s.Cout, s.OH, s.OW}, x.device());
    if (r.defined()) {
        check_same_device(x, r, op);
        if (r.shape() != y.shape())
            fail(op, ": the added tensor ", to_string(r.shape()), " must have the conv's output shape ",
                 to_string(y.shape()));
    }
    std::vector<Tensor> inputs = {x, w};
    if (b.defined()) inputs.push_back(b);
    if (r.defined()) inputs.push_back(r);
    run_op("conv2d", inputs, y, [&] {
        const Kernels& k = kernels_for(x.device());
        const float* bias = b.defined() ? b.data() : nullptr;
        if (r.defined()) k.conv2d_forward_add(y.data(), x.data(), w.data(), bias, r.data(), s);
        else k.conv2d_forward(y.data(), x.data(), w.data(), bias, s);
    });
    if (auto* node = record<Conv2dBackward>(y, inputs)) {
        node->s = s;
        node->has_bias = b.defined();
        node->has_residual = r.defined();
    }
    return y;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad) {
    return conv2d_impl("conv2d", x, w, b, Tensor(), stride, pad);
}

Tensor conv2d_add(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r, int stride, int pad) {
    check_defined(r, "conv2d_add", "r");
    return conv2d_impl("conv2d_add", x, w, b, r, stride, pad);
}

}  // namespace fw
