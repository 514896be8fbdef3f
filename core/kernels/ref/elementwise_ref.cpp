// Scalar reference kernels: elementwise math. Shapes: every buffer holds n floats.
// Backward kernels ACCUMULATE into dx (+=).
#include <algorithm>
#include <cmath>

#include "core/kernels/ref/ref.h"

namespace fw::ref {

// y = e^x;  dy/dx = e^x = y
void exp_forward(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}
void exp_backward(float* dx, const float* dy, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * y[i];
}

// y = ln x;  dy/dx = 1/x
void log_forward(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]);
}
void log_backward(float* dx, const float* dy, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] / x[i];
}

// y = sqrt(x);  dy/dx = 1 / (2 sqrt(x)) = 1 / (2 y)
void sqrt_forward(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
}
void sqrt_backward(float* dx, const float* dy, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] / (2.0f * y[i]);
}

// y = x^2;  dy/dx = 2x
void square_forward(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i];
}
void square_backward(float* dx, const float* dy, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] += 2.0f * x[i] * dy[i];
}

// y = x^p (p constant);  dy/dx = p x^(p-1)
void pow_forward(float* y, const float* x, float p, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::pow(x[i], p);
}
void pow_backward(float* dx, const float* dy, const float* x, float p, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * p * std::pow(x[i], p - 1.0f);
}

// y = s x
void scale(float* y, const float* x, float s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = s * x[i];
}
// y = x + s
void add_scalar(float* y, const float* x, float s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] + s;
}
// y += s x   (the backward of every op whose derivative is a constant)
void axpy(float* y, const float* x, float s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += s * x[i];
}
// y = min(hi, max(lo, x))   (no gradient: the samplers clip a predicted x_0 to the data range)
void clamp(float* y, const float* x, float lo, float hi, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::min(hi, std::max(lo, x[i]));
}

// No gradient: used for sinusoidal time embeddings of constant timesteps.
void sin_forward(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::sin(x[i]);
}
void cos_forward(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::cos(x[i]);
}

}  // namespace fw::ref
