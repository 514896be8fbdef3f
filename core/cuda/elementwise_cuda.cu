// CUDA twins of core/kernels/ref/elementwise_ref.cpp and activation_ref.cpp: one thread per element,
// the same formula as the reference on the same line. Backward kernels ACCUMULATE into dx.
// Device expf/logf/tanhf/powf/sinf/cosf are within 1-4 ulp of the host's, so results can differ
// from the CPU in the last bits (tests/test_cuda_kernels.cpp states the tolerances).
#include "core/cuda/kernels_cuda.h"

namespace fw::cuda {

// y = e^x;  dx += dy y
__global__ void exp_fwd_kernel(float* y, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = expf(x[i]);
}
__global__ void exp_bwd_kernel(float* dx, const float* dy, const float* y, int64_t n) {
    int64_t i = global_index();
    if (i < n) dx[i] += dy[i] * y[i];
}
// y = ln x;  dx += dy / x
__global__ void log_fwd_kernel(float* y, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = logf(x[i]);
}
__global__ void log_bwd_kernel(float* dx, const float* dy, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) dx[i] += dy[i] / x[i];
}
// y = sqrt(x);  dx += dy / (2 y)
__global__ void sqrt_fwd_kernel(float* y, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = sqrtf(x[i]);
}
__global__ void sqrt_bwd_kernel(float* dx, const float* dy, const float* y, int64_t n) {
    int64_t i = global_index();
    if (i < n) dx[i] += dy[i] / (2.0f * y[i]);
}
// y = x^2;  dx += 2 x dy
__global__ void square_fwd_kernel(float* y, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = x[i] * x[i];
}
__global__ void square_bwd_kernel(float* dx, const float* dy, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) dx[i] += 2.0f * x[i] * dy[i];
}
// y = x^p;  dx += dy p x^(p-1)
__global__ void pow_fwd_kernel(float* y, const float* x, float p, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = powf(x[i], p);
}
__global__ void pow_bwd_kernel(float* dx, const float* dy, const float* x, float p, int64_t n) {
    int64_t i = global_index();
    if (i < n) dx[i] += dy[i] * p * powf(x[i], p - 1.0f);
}
// y = s x;  y = x + s;  y += s x
__global__ void scale_kernel(float* y, const float* x, float s, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = s * x[i];
}
__global__ void add_scalar_kernel(float* y, const float* x, float s, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = x[i] + s;
}
__global__ void axpy_kernel(float* y, const float* x, float s, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] += s * x[i];
}
// y = min(hi, max(lo, x)), as the reference; a NaN x gives lo on both (fmaxf(lo, NaN) = lo,
// and the reference's std::max(lo, NaN) returns lo too)
__global__ void clamp_kernel(float* y, const float* x, float lo, float hi, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = fminf(hi, fmaxf(lo, x[i]));
}
// y = sin x, y = cos x (no backward)
__global__ void sin_fwd_kernel(float* y, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = sinf(x[i]);
}
__global__ void cos_fwd_kernel(float* y, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = cosf(x[i]);
}
// y = s(x);  dx += dy y (1 - y)
__global__ void sigmoid_fwd_kernel(float* y, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = stable_sigmoid(x[i]);
}
__global__ void sigmoid_bwd_kernel(float* dx, const float* dy, const float* y, int64_t n) {
    int64_t i = global_index();
    if (i < n) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}
// y = tanh x;  dx += dy (1 - y^2)
__global__ void tanh_fwd_kernel(float* y, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = tanhf(x[i]);
}
__global__ void tanh_bwd_kernel(float* dx, const float* dy, const float* y, int64_t n) {
    int64_t i = global_index();
    if (i < n) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}
// y = max(x, 0);  dx += dy where x > 0
__global__ void relu_fwd_kernel(float* y, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
__global__ void relu_bwd_kernel(float* dx, const float* dy, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}
// SiLU: y = x s(x);  dx += dy s(x) (1 + x (1 - s(x)))
__global__ void silu_fwd_kernel(float* y, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i < n) y[i] = x[i] * stable_sigmoid(x[i]);
}
__global__ void silu_bwd_kernel(float* dx, const float* dy, const float* x, int64_t n) {
    int64_t i = global_index();
    if (i >= n) return;
    float s = stable_sigmoid(x[i]);
    dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s));
}

void exp_forward(float* y, const float* x, int64_t n) { FW_LAUNCH_1D(exp_fwd_kernel, n, y, x, n); }
void exp_backward(float* dx, const float* dy, const float* y, int64_t n) { FW_LAUNCH_1D(exp_bwd_kernel, n, dx, dy, y, n); }
void log_forward(float* y, const float* x, int64_t n) { FW_LAUNCH_1D(log_fwd_kernel, n, y, x, n); }
void log_backward(float* dx, const float* dy, const float* x, int64_t n) { FW_LAUNCH_1D(log_bwd_kernel, n, dx, dy, x, n); }
void sqrt_forward(float* y, const float* x, int64_t n) { FW_LAUNCH_1D(sqrt_fwd_kernel, n, y, x, n); }
void sqrt_backward(float* dx, const float* dy, const float* y, int64_t n) { FW_LAUNCH_1D(sqrt_bwd_kernel, n, dx, dy, y, n); }
void square_forward(float* y, const float* x, int64_t n) { FW_LAUNCH_1D(square_fwd_kernel, n, y, x, n); }
void square_backward(float* dx, const float* dy, const float* x, int64_t n) {
    FW_LAUNCH_1D(square_bwd_kernel, n, dx, dy, x, n);
}
void pow_forward(float* y, const float* x, float p, int64_t n) { FW_LAUNCH_1D(pow_fwd_kernel, n, y, x, p, n); }
void pow_backward(float* dx, const float* dy, const float* x, float p, int64_t n) {
    FW_LAUNCH_1D(pow_bwd_kernel, n, dx, dy, x, p, n);
}
void scale(float* y, const float* x, float s, int64_t n) { FW_LAUNCH_1D(scale_kernel, n, y, x, s, n); }
void add_scalar(float* y, const float* x, float s, int64_t n) { FW_LAUNCH_1D(add_scalar_kernel, n, y, x, s, n); }
void axpy(float* y, const float* x, float s, int64_t n) { FW_LAUNCH_1D(axpy_kernel, n, y, x, s, n); }
void clamp(float* y, const float* x, float lo, float hi, int64_t n) { FW_LAUNCH_1D(clamp_kernel, n, y, x, lo, hi, n); }
void sin_forward(float* y, const float* x, int64_t n) { FW_LAUNCH_1D(sin_fwd_kernel, n, y, x, n); }
void cos_forward(float* y, const float* x, int64_t n) { FW_LAUNCH_1D(cos_fwd_kernel, n, y, x, n); }
void sigmoid_forward(float* y, const float* x, int64_t n) { FW_LAUNCH_1D(sigmoid_fwd_kernel, n, y, x, n); }
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n) {
    FW_LAUNCH_1D(sigmoid_bwd_kernel, n, dx, dy, y, n);
}
void tanh_forward(float* y, const float* x, int64_t n) { FW_LAUNCH_1D(tanh_fwd_kernel, n, y, x, n); }
void tanh_backward(float* dx, const float* dy, const float* y, int64_t n) { FW_LAUNCH_1D(tanh_bwd_kernel, n, dx, dy, y, n); }
void relu_forward(float* y, const float* x, int64_t n) { FW_LAUNCH_1D(relu_fwd_kernel, n, y, x, n); }
void relu_backward(float* dx, const float* dy, const float* x, int64_t n) { FW_LAUNCH_1D(relu_bwd_kernel, n, dx, dy, x, n); }
void silu_forward(float* y, const float* x, int64_t n) { FW_LAUNCH_1D(silu_fwd_kernel, n, y, x, n); }
void silu_backward(float* dx, const float* dy, const float* x, int64_t n) { FW_LAUNCH_1D(silu_bwd_kernel, n, dx, dy, x, n); }

}  // namespace fw::cuda
