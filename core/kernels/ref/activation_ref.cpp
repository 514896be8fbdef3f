// Scalar reference kernels: activations. Shapes: every buffer holds n floats.
// Backward kernels ACCUMULATE into dx (+=).
#include <cmath>

#include "core/kernels/ref/ref.h"

namespace fw::ref {

// s(x) = 1 / (1 + e^{-x}), written so that e^{..} never overflows:
//   x >= 0: 1 / (1 + e^{-x});   x < 0: e^{x} / (1 + e^{x})
static inline float stable_sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
    float e = std::exp(x);
    return e / (1.0f + e);
}

// y = s(x);  dy/dx = s(x) (1 - s(x)) = y (1 - y)
void sigmoid_forward(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = stable_sigmoid(x[i]);
}
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

// y = tanh(x);  dy/dx = 1 - tanh^2(x) = 1 - y^2
void tanh_forward(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
void tanh_backward(float* dx, const float* dy, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

// y = max(x, 0);  dy/dx = 1 if x > 0 else 0 (we pick 0 at the kink x = 0)
void relu_forward(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
void relu_backward(float* dx, const float* dy, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

// SiLU:  y = x s(x)
//   dy/dx = s(x) + x s(x) (1 - s(x)) = s(x) (1 + x (1 - s(x)))
void silu_forward(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * stable_sigmoid(x[i]);
}
void silu_backward(float* dx, const float* dy, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        float s = stable_sigmoid(x[i]);
        dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

}  // namespace fw::ref
