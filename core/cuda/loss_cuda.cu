// CUDA twins of core/kernels/ref/loss_ref.cpp (the equations are there), and the deterministic
// two-pass sum that the scalar-returning kernels (mse_loss_forward, sum_squares) share.
// rows = batch, cols = classes: small, so log_softmax runs one thread per row and nll_loss's
// sum runs in one thread, in the reference's order (results equal the CPU's up to exp/log ulps).
#include <cmath>

#include "core/cuda/kernels_cuda.h"

namespace fw::cuda {

// --- the two-pass sum --------------------------------------------------------------------------
// Pass 1 (each caller's kernel): block k sums its grid-stride share into partials[k].
// Pass 2 (here): one block adds the count partials in a fixed order into partials[count].
// Same n, same grid, same order: the same double every run.
double* reduce_partials_buffer() { return static_cast<double*>(workspace(sizeof(double) * (kReduceBlocks + 1))); }

__global__ void sum_partials_kernel(double* partials, int count) {
    double part = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) part += partials[i];
    const double total = block_sum(part);
    if (threadIdx.x == 0) partials[count] = total;
}

double sum_partials(double* partials, int count) {
    sum_partials_kernel<<<1, kThreads, 0, stream()>>>(partials, count);
    FW_CUDA_CHECK_LAUNCH("sum_partials_kernel");
    double total = 0.0;
    FW_CUDA_CHECK(cudaMemcpyAsync(&total, partials + count, sizeof(double), cudaMemcpyDeviceToHost, stream()));
    FW_CUDA_CHECK(cudaStreamSynchronize(stream()));
    return total;
}

// --- log_softmax: y_j = (x_j - m) - log sum_k e^{x_k - m},  m = max_k x_k;  one thread per row
__global__ void log_softmax_fwd_kernel(float* y, const float* x, int64_t rows, int64_t cols) {
    const int64_t r = global_index();
    if (r >= rows) return;
    const float* xr = x + r * cols;
    float m = xr[0];
    for (int64_t c = 1; c < cols; ++c) m = xr[c] > m ? xr[c] : m;
    double s = 0.0;
    for (int64_t c = 0; c < cols; ++c) s += exp((double)(xr[c] - m));
    const float lse = (float)log(s);
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = (xr[c] - m) - lse;
}
// dx_i += g_i - softmax_i sum_j g_j,  softmax_i = e^{y_i}
__global__ void log_softmax_bwd_kernel(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols) {
    const int64_t r = global_index();
    if (r >= rows) return;
    double gsum = 0.0;
    for (int64_t c = 0; c < cols; ++c) gsum += dy[r * cols + c];
    for (int64_t c = 0; c < cols; ++c) dx[r * cols + c] += dy[r * cols + c] - expf(y[r * cols + c]) * (float)gsum;
}

void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) {
    if (cols <= 0) return;
    FW_LAUNCH_1D(log_softmax_fwd_kernel, rows, y, x, rows, cols);
}
void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols) {
    FW_LAUNCH_1D(log_softmax_bwd_kernel, rows, dx, dy, y, rows, cols);
}

// --- nll_loss: L = -(1/rows) sum_r logp[r, label_r]. The labels arrive as a host array: they are
// uploaded into the scratch workspace behind the one double of the result.
static int* upload_labels(const int* labels, int64_t rows, double** result) {
    char* scratch = static_cast<char*>(workspace(sizeof(double) + sizeof(int) * (size_t)rows));
    *result = reinterpret_cast<double*>(scratch);
    int* dev_labels = reinterpret_cast<int*>(scratch + sizeof(double));
    FW_CUDA_CHECK(cudaMemcpyAsync(dev_labels, labels, sizeof(int) * (size_t)rows, cudaMemcpyHostToDevice, stream()));
    FW_CUDA_CHECK(cudaStreamSynchronize(stream()));  // `labels` may be freed when we return
    return dev_labels;
}

// One thread: rows is a batch (tens to thousands), summed in the reference's order.
__global__ void nll_loss_fwd_kernel(double* result, const float* logp, const int* labels, int64_t rows, int64_t cols) {
    double s = 0.0;
    for (int64_t r = 0; r < rows; ++r) s += logp[r * cols + labels[r]];
    *result = s;
}
// dlogp[r, label_r] += -g / rows: one thread per row, each writes its own element
__global__ void nll_loss_bwd_kernel(float* dlogp, float g, const int* labels, int64_t rows, int64_t cols) {
    const int64_t r = global_index();
    if (r < rows) dlogp[r * cols + labels[r]] += -g / (float)rows;
}

float nll_loss_forward(const float* logp, const int* labels, int64_t rows, int64_t cols) {
    double* result = nullptr;
    const int* dev_labels = upload_labels(labels, rows, &result);
    nll_loss_fwd_kernel<<<1, 1, 0, stream()>>>(result, logp, dev_labels, rows, cols);
    FW_CUDA_CHECK_LAUNCH("nll_loss_fwd_kernel");
    double s = 0.0;
    FW_CUDA_CHECK(cudaMemcpyAsync(&s, result, sizeof(double), cudaMemcpyDeviceToHost, stream()));
    FW_CUDA_CHECK(cudaStreamSynchronize(stream()));
    return (float)(-s / rows);
}
void nll_loss_backward(float* dlogp, float g, const int* labels, int64_t rows, int64_t cols) {
    if (rows <= 0) return;
    double* unused = nullptr;
    const int* dev_labels = upload_labels(labels, rows, &unused);
    FW_LAUNCH_1D(nll_loss_bwd_kernel, rows, dlogp, g, dev_labels, rows, cols);
}

// --- mse: L = (1/n) sum_i (a_i - b_i)^2, summed in double; da += 2 g (a - b) / n, db -= the same
__global__ void mse_partials_kernel(double* partials, const float* a, const float* b, int64_t n) {
    double part = 0.0;
    for (int64_t i = global_index(); i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const double d = a[i] - b[i];  // the float difference, as in the reference
        part += d * d;
    }
    const double total = block_sum(part);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}
__global__ void mse_bwd_kernel(float* da, float* db, float k, const float* a, const float* b, int64_t n) {
    const int64_t i = global_index();
    if (i >= n) return;
    const float d = k * (a[i] - b[i]);
    if (da) da[i] += d;
    if (db) db[i] -= d;
}

float mse_loss_forward(const float* a, const float* b, int64_t n) {
    if (n <= 0) return NAN;  // 0/0, as the reference
    double* partials = reduce_partials_buffer();
    const int blocks = (int)std::min<int64_t>(kReduceBlocks, fw_cuda_blocks(n, kThreads));
    mse_partials_kernel<<<blocks, kThreads, 0, stream()>>>(partials, a, b, n);
    FW_CUDA_CHECK_LAUNCH("mse_partials_kernel");
    return (float)(sum_partials(partials, blocks) / n);
}
void mse_loss_backward(float* da, float* db, float g, const float* a, const float* b, int64_t n) {
    if (!da && !db) return;
    const float k = 2.0f * g / (float)n;
    FW_LAUNCH_1D(mse_bwd_kernel, n, da, db, k, a, b, n);
}

}  // namespace fw::cuda
