// Elementwise ops: unary, tensor-scalar, and tensor-tensor with numpy broadcasting.
// The math of each is beside its kernels in core/kernels/{elementwise,activation,binary}_ref.cpp.
#include <cstring>

#include "core/autograd.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/ops.h"
#include "core/watch.h"

namespace fw {

// ---------------------------------------------------------------------------------------------
// Unary y = f(x). The backward kernel reads either x or y (`saved`), whichever makes f' cheap:
// exp, sqrt, sigmoid, tanh save y; log, square, relu, silu save x.
struct UnaryBackward final : Node {
    UnaryBackward(const char* op, UnaryBwd kernel_) : Node(op), kernel(kernel_) {}
    UnaryBwd kernel;
    Tensor saved;
    void backward(const float* dy, float* const* dx) override {
        if (dx[0]) kernel(dx[0], dy, saved.data(), saved.numel());
    }
};

enum class Save { Input, Output };

static Tensor unary(const char* op, const Tensor& x, UnaryFwd Kernels::*fwd, UnaryBwd Kernels::*bwd, Save save) {
    check_defined(x, op, "x");
    const Kernels& k = kernels_for(x.device());
    Tensor y = Tensor::empty(x.shape(), x.device());
    run_op(op, {&x}, y, [&] { (k.*fwd)(y.data(), x.data(), x.numel()); });
    if (auto* node = record<UnaryBackward>(y, {x}, op, k.*bwd))
        node->saved = (save == Save::Input) ? x : y.detach();  // detach: a node never owns its output
    return y;
}

Tensor exp(const Tensor& x) { return unary("exp", x, &Kernels::exp_forward, &Kernels::exp_backward, Save::Output); }
Tensor log(const Tensor& x) { return unary("log", x, &Kernels::log_forward, &Kernels::log_backward, Save::Input); }
Tensor sqrt(const Tensor& x) { return unary("sqrt", x, &Kernels::sqrt_forward, &Kernels::sqrt_backward, Save::Output); }
Tensor square(const Tensor& x) {
    return unary("square", x, &Kernels::square_forward, &Kernels::square_backward, Save::Input);
}
Tensor sigmoid(const Tensor& x) {
    return unary("sigmoid", x, &Kernels::sigmoid_forward, &Kernels::sigmoid_backward, Save::Output);
}
Tensor tanh(const Tensor& x) { return unary("tanh", x, &Kernels::tanh_forward, &Kernels::tanh_backward, Save::Output); }
Tensor relu(const Tensor& x) { return unary("relu", x, &Kernels::relu_forward, &Kernels::relu_backward, Save::Input); }
Tensor silu(const Tensor& x) { return unary("silu", x, &Kernels::silu_forward, &Kernels::silu_backward, Save::Input); }

// sin and cos have no backward: they make time embeddings of constant timesteps. Asking for a
// gradient through them is an error rather than a silent zero.
static Tensor no_grad_unary(const char* op, const Tensor& x, UnaryFwd Kernels::*fwd) {
    check_defined(x, op, "x");
    if (x.requires_grad() && grad_enabled())
        fail(op, ": has no gradient (it is meant for constant inputs such as timesteps); "
                 "the input of shape ", to_string(x.shape()), " requires grad");
    Tensor y = Tensor::empty(x.shape(), x.device());
    run_op(op, {&x}, y, [&] { (kernels_for(x.device()).*fwd)(y.data(), x.data(), x.numel()); });
    return y;
}
Tensor sin(const Tensor& x) { return no_grad_unary("sin", x, &Kernels::sin_forward); }
Tensor cos(const Tensor& x) { return no_grad_unary("cos", x, &Kernels::cos_forward); }

// clamp(x, lo, hi) = min(hi, max(lo, x)); no backward either (the samplers clip x0_hat with it).
Tensor clamp(const Tensor& x, float lo, float hi) {
    check_defined(x, "clamp", "x");
    if (!(lo <= hi)) fail("clamp: lo = ", lo, " must be <= hi = ", hi);
    if (x.requires_grad() && grad_enabled())
        fail("clamp: has no gradient (it is meant for sampling); the input of shape ", to_string(x.shape()),
             " requires grad");
    Tensor y = Tensor::empty(x.shape(), x.device());
    run_op("clamp", {&x}, y, [&] { kernels_for(x.device()).clamp(y.data(), x.data(), lo, hi, x.numel()); });
    return y;
}

// ---------------------------------------------------------------------------------------------
// Tensor-scalar: y = s x (mul_scalar, neg), y = x + s (add_scalar), y = x^p (pow).
// Their backward is dx += s dy (a constant derivative) or, for pow, p x^(p-1) dy.
struct ScaleBackward final : Node {
    ScaleBackward(const char* op, float s_) : Node(op), s(s_) {}
    float s;
    void backward(const float* dy, float* const* dx) override {
        if (dx[0]) kernels_for(inputs[0].device()).axpy(dx[0], dy, s, inputs[0].numel());
    }
};

static Tensor scale_op(const char* op, const Tensor& x, float s) {
    check_defined(x, op, "x");
    Tensor y = Tensor::empty(x.shape(), x.device());
    run_op(op, {&x}, y, [&] { kernels_for(x.device()).scale(y.data(), x.data(), s, x.numel()); });
    record<ScaleBackward>(y, {x}, op, s);
    return y;
}

Tensor mul(const Tensor& x, float s) { return scale_op("mul_scalar", x, s); }
Tensor div(const Tensor& x, float s) { return scale_op("mul_scalar", x, 1.0f / s); }
Tensor neg(const Tensor& x) { return scale_op("neg", x, -1.0f); }

Tensor add(const Tensor& x, float s) {
    check_defined(x, "add_scalar", "x");
    Tensor y = Tensor::empty(x.shape(), x.device());
    run_op("add_scalar", {&x}, y, [&] { kernels_for(x.device()).add_scalar(y.data(), x.data(), s, x.numel()); });
    record<ScaleBackward>(y, {x}, "add_scalar", 1.0f);  // d(x + s)/dx = 1
    return y;
}
Tensor sub(const Tensor& x, float s) { return add(x, -s); }

struct PowBackward final : Node {
    PowBackward() : Node("pow") {}
    float p = 0;
    void backward(const float* dy, float* const* dx) override {
        const Tensor& x = inputs[0];
        if (dx[0]) kernels_for(x.device()).pow_backward(dx[0], dy, x.data(), p, x.numel());
    }
};

Tensor pow(const Tensor& x, float p) {
    check_defined(x, "pow", "x");
    Tensor y = Tensor::empty(x.shape(), x.device());
    run_op("pow", {&x}, y, [&] { kernels_for(x.device()).pow_forward(y.data(), x.data(), p, x.numel()); });
    if (auto* node = record<PowBackward>(y, {x})) node->p = p;
    return y;
}

// ---------------------------------------------------------------------------------------------
// Tensor-tensor with broadcasting: y has the broadcast shape; ma, mb map y's index to a's, b's.
// add: an input of y's own shape has the gradient dy itself: run_backward passes dy's buffer on
// for one such input (Node::passes_gradient), and a fresh one is a copy of dy.
struct BinaryBackward final : Node {
    BinaryBackward(const char* op, BinaryBwd kernel_) : Node(op), kernel(kernel_) {}
    BinaryBwd kernel;
    BroadcastMap ma, mb;
    bool overwrites_gradient(size_t i) const override {
        return std::strcmp(name, "add") == 0 && (i == 0 ? ma : mb).identity;
    }
    bool passes_gradient(size_t i) const override { return overwrites_gradient(i); }
    void backward(const float* dy, float* const* dx) override {
        float* d[2] = {dx[0], dx[1]};
        for (int i = 0; i < 2; ++i)
            if (d[i] && is_fresh((size_t)i)) {  // dx_i = dy, then no more for the kernel to do
                // as rows of kRow floats (copy_axis_range splits its rows over the threads), the rest as one
                constexpr int64_t kRow = 4096;
                const int64_t n = (i == 0 ? ma : mb).n, rows = n / kRow, done = rows * kRow;
                const Kernels& k = kernels_for(inputs[i].device());
                if (rows > 0) k.copy_axis_range(d[i], 1, 0, dy, 1, 0, 1, rows, kRow, false);
                if (n > done) k.copy_axis_range(d[i] + done, 1, 0, dy + done, 1, 0, 1, 1, n - done, false);
                d[i] = nullptr;
            }
        if (d[0] || d[1]) kernel(d[0], ma, d[1], mb, dy, inputs[0].data(), inputs[1].data());
    }
};

static Tensor binary(const char* op, const Tensor& a, const Tensor& b, BinaryFwd Kernels::*fwd, BinaryBwd Kernels::*bwd) {
    check_defined(a, op, "a");
    check_defined(b, op, "b");
    check_same_device(a, b, op);
    Shape out = broadcast_shapes(a.shape(), b.shape(), op);
    if ((int)out.size() > kMaxDims) fail(op, ": ", out.size(), "-d tensors; at most ", kMaxDims, " dimensions");
    BroadcastMap ma = make_broadcast_map(a.shape(), out), mb = make_broadcast_map(b.shape(), out);
    const Kernels& k = kernels_for(a.device());
    Tensor y = Tensor::empty(out, a.device());
    run_op(op, {&a, &b}, y, [&] { (k.*fwd)(y.data(), a.data(), ma, b.data(), mb); });
    if (auto* node = record<BinaryBackward>(y, {a, b}, op, k.*bwd)) {
        node->ma = ma;
        node->mb = mb;
    }
    return y;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary("add", a, b, &Kernels::add_forward, &Kernels::add_backward); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary("sub", a, b, &Kernels::sub_forward, &Kernels::sub_backward); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary("mul", a, b, &Kernels::mul_forward, &Kernels::mul_backward); }
Tensor div(const Tensor& a, const Tensor& b) { return binary("div", a, b, &Kernels::div_forward, &Kernels::div_backward); }

}  // namespace fw
