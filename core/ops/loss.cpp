// Losses: mean squared error (DDPM's L_simple), log_softmax + negative log-likelihood
// (the classifier's cross-entropy). The math is in core/kernels/ref/loss_ref.cpp.
#include "core/autograd.h"
#include "core/cuda/backend.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/ops.h"
#include "core/watch.h"

namespace fw {

// The scalar losses live on their inputs' device; their backward reads the one upstream
// gradient value on the host (a 4-byte copy for a CUDA tensor).
static float first_value(const float* p, Device d) {
    if (d == Device::CPU) return p[0];
    float v = 0.0f;
    cuda::copy_device_to_host(&v, p, sizeof(float));
    return v;
}

struct MseLossBackward final : Node {
    MseLossBackward() : Node("mse_loss") {}
    void backward(const float* dy, float* const* dx) override {
        const Tensor &a = inputs[0], &b = inputs[1];
        kernels_for(a.device()).mse_loss_backward(dx[0], dx[1], first_value(dy, a.device()), a.data(), b.data(), a.numel());
    }
};

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
    check_defined(pred, "mse_loss", "pred");
    check_defined(target, "mse_loss", "target");
    check_same_device(pred, target, "mse_loss");
    if (pred.shape() != target.shape())
        fail("mse_loss: pred ", to_string(pred.shape()), " and target ", to_string(target.shape()), " differ");
    if (pred.numel() == 0) fail("mse_loss: empty tensors of shape ", to_string(pred.shape()));
    Tensor y;
    run_op("mse_loss", {&pred, &target}, y, [&] {
        y = Tensor::full({}, kernels_for(pred.device()).mse_loss_forward(pred.data(), target.data(), pred.numel()),
                         pred.device());
    });
    record<MseLossBackward>(y, {pred, target});
    return y;
}

struct LogSoftmaxBackward final : Node {
    LogSoftmaxBackward() : Node("log_softmax") {}
    Tensor y;  // the output, detached
    int64_t rows = 0, cols = 0;
    void backward(const float* dy, float* const* dx) override {
        if (dx[0]) kernels_for(y.device()).log_softmax_backward(dx[0], dy, y.data(), rows, cols);
    }
};

Tensor log_softmax(const Tensor& x) {
    check_defined(x, "log_softmax", "x");
    if (x.dim() < 1 || x.shape().back() == 0) fail("log_softmax: needs a non-empty last axis, got ", to_string(x.shape()));
    const int64_t cols = x.shape().back(), rows = x.numel() / cols;
    Tensor y = Tensor::empty(x.shape(), x.device());
    run_op("log_softmax", {&x}, y, [&] { kernels_for(x.device()).log_softmax_forward(y.data(), x.data(), rows, cols); });
    if (auto* node = record<LogSoftmaxBackward>(y, {x})) {
        node->y = y.detach();
        node->rows = rows;
        node->cols = cols;
    }
    return y;
}

struct NllLossBackward final : Node {
    NllLossBackward() : Node("nll_loss") {}
    std::vector<int> labels;
    void backward(const float* dy, float* const* dx) override {
        const Shape& s = inputs[0].shape();
        if (dx[0]) kernels_for(inputs[0].device()).nll_loss_backward(dx[0], first_value(dy, inputs[0].device()), labels.data(), s[0], s[1]);
    }
};

Tensor nll_loss(const Tensor& logp, const std::vector<int>& labels) {
    check_defined(logp, "nll_loss", "logp");
    if (logp.dim() != 2 || logp.shape()[0] != (int64_t)labels.size() || labels.empty())
        fail("nll_loss: logp ", to_string(logp.shape()), " needs shape (N, classes) with N = ", labels.size(),
             " labels");
    const int64_t classes = logp.shape()[1];
    for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i] < 0 || labels[i] >= classes)
            fail("nll_loss: label ", labels[i], " at index ", i, " is outside [0, ", classes, ")");
    // labels stay on the host on every device (the CUDA kernel uploads them)
    Tensor y;
    run_op("nll_loss", {&logp}, y, [&] {
        y = Tensor::full({}, kernels_for(logp.device()).nll_loss_forward(logp.data(), labels.data(), logp.shape()[0], classes),
                         logp.device());
    });
    if (auto* node = record<NllLossBackward>(y, {logp})) node->labels = labels;
    return y;
}

Tensor cross_entropy(const Tensor& logits, const std::vector<int>& labels) {
    return nll_loss(log_softmax(logits), labels);
}

}  // namespace fw
