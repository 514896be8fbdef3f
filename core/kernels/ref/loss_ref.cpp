// Scalar reference kernels for the losses. rows = batch, cols = classes.
#include <cmath>

#include "core/kernels/ref/ref.h"

namespace fw::ref {

// log_softmax over each row:  y_j = x_j - log sum_k e^{x_k}
// computed as  y_j = (x_j - m) - log sum_k e^{x_k - m}  with m = max_k x_k  (no overflow).
// Backward: dy_j/dx_i = [i == j] - softmax_i, so  dx_i += g_i - softmax_i * sum_j g_j,
// with softmax_i = e^{y_i}.
void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float m = xr[0];
        for (int64_t c = 1; c < cols; ++c) m = xr[c] > m ? xr[c] : m;
        double s = 0.0;
        for (int64_t c = 0; c < cols; ++c) s += std::exp((double)(xr[c] - m));
        float lse = (float)std::log(s);
        for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = (xr[c] - m) - lse;
    }
}
void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r) {
        double gsum = 0.0;
        for (int64_t c = 0; c < cols; ++c) gsum += dy[r * cols + c];
        for (int64_t c = 0; c < cols; ++c)
            dx[r * cols + c] += dy[r * cols + c] - std::exp(y[r * cols + c]) * (float)gsum;
    }
}

// Negative log-likelihood:  L = -(1/rows) sum_r logp[r, label_r]
// Backward: dlogp[r, label_r] += -g / rows  (every other entry gets nothing).
float nll_loss_forward(const float* logp, const int* labels, int64_t rows, int64_t cols) {
    double s = 0.0;
    for (int64_t r = 0; r < rows; ++r) s += logp[r * cols + labels[r]];
    return (float)(-s / rows);
}
void nll_loss_backward(float* dlogp, float g, const int* labels, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r) dlogp[r * cols + labels[r]] += -g / (float)rows;
}

// Mean squared error:  L = (1/n) sum_i (a_i - b_i)^2   (summed in double: n is ~50,000)
// Backward: da_i += g * 2 (a_i - b_i) / n,  db_i -= the same.
float mse_loss_forward(const float* a, const float* b, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += (double)(a[i] - b[i]) * (a[i] - b[i]);
    return (float)(s / n);
}
void mse_loss_backward(float* da, float* db, float g, const float* a, const float* b, int64_t n) {
    const float k = 2.0f * g / (float)n;
    for (int64_t i = 0; i < n; ++i) {
        float d = k * (a[i] - b[i]);
        if (da) da[i] += d;
        if (db) db[i] -= d;
    }
}

}  // namespace fw::ref
