// TEMPORARY naive CUDA GEMM and conv2d (gemm_cuda.h), so the CUDA build links until the real
// kernels (core/cuda/gemm_cuda.cu, conv_cuda.cu) land; this file is deleted then.
// One thread per output element, the reference's loops (core/kernels/gemm_ref.cpp, conv_ref.cpp)
// inside; no atomics: every thread owns the element it writes.
#include "core/cuda/gemm_cuda.h"
#include "core/cuda/kernels_cuda.h"

namespace fw::cuda {

// C[m, n] = (beta == 0 ? 0 : beta C[m, n]) + sum_k op(A)[m, k] op(B)[k, n]; thread t = (m, n)
__global__ void gemm_naive_kernel(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
                                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    const int64_t t = global_index();
    if (t >= M * N) return;
    const int64_t m = t / N, n = t % N;
    float acc = 0.0f;
    for (int64_t k = 0; k < K; ++k) {
        const float a = trans_a ? A[k * lda + m] : A[m * lda + k];
        const float b = trans_b ? B[n * ldb + k] : B[k * ldb + n];
        acc += a * b;
    }
    float& c = C[m * ldc + n];
    c = (beta == 0.0f ? 0.0f : beta * c) + acc;
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
    FW_LAUNCH_1D(gemm_naive_kernel, M * N, trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

// y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n,c,i s+p-pad, j s+q-pad]; thread = one y element
__global__ void conv_fwd_naive_kernel(float* y, const float* x, const float* w, const float* b, ConvShape s) {
    const int64_t t = global_index();
    if (t >= s.N * s.Cout * s.OH * s.OW) return;
    const int64_t j = t % s.OW, i = (t / s.OW) % s.OH, o = (t / (s.OW * s.OH)) % s.Cout, n = t / (s.OW * s.OH * s.Cout);
    float acc = b ? b[o] : 0.0f;
    for (int64_t c = 0; c < s.Cin; ++c)
        for (int64_t p = 0; p < s.KH; ++p) {
            const int64_t ih = i * s.stride + p - s.pad;
            if (ih < 0 || ih >= s.H) continue;
            for (int64_t q = 0; q < s.KW; ++q) {
                const int64_t iw = j * s.stride + q - s.pad;
                if (iw < 0 || iw >= s.W) continue;
                acc += w[((o * s.Cin + c) * s.KH + p) * s.KW + q] * x[((n * s.Cin + c) * s.H + ih) * s.W + iw];
            }
        }
    y[t] = acc;
}

// dx[n,c,ih,iw] += sum over (o,p,q) with ih = i s + p - pad, iw = j s + q - pad of dy[n,o,i,j] w[o,c,p,q]
__global__ void conv_bwd_dx_naive_kernel(float* dx, const float* dy, const float* w, ConvShape s) {
    const int64_t t = global_index();
    if (t >= s.N * s.Cin * s.H * s.W) return;
    const int64_t iw = t % s.W, ih = (t / s.W) % s.H, c = (t / (s.W * s.H)) % s.Cin, n = t / (s.W * s.H * s.Cin);
    float acc = 0.0f;
    for (int64_t o = 0; o < s.Cout; ++o)
        for (int64_t p = 0; p < s.KH; ++p) {
            const int64_t di = ih + s.pad - p;  // = i * stride
            if (di < 0 || di % s.stride != 0 || di / s.stride >= s.OH) continue;
            for (int64_t q = 0; q < s.KW; ++q) {
                const int64_t dj = iw + s.pad - q;  // = j * stride
                if (dj < 0 || dj % s.stride != 0 || dj / s.stride >= s.OW) continue;
                acc += dy[((n * s.Cout + o) * s.OH + di / s.stride) * s.OW + dj / s.stride] *
                       w[((o * s.Cin + c) * s.KH + p) * s.KW + q];
            }
        }
    dx[t] += acc;
}

// dw[o,c,p,q] += sum_{n,i,j} dy[n,o,i,j] x[n,c,i s+p-pad, j s+q-pad]; thread = one w element
__global__ void conv_bwd_dw_naive_kernel(float* dw, const float* dy, const float* x, ConvShape s) {
    const int64_t t = global_index();
    if (t >= s.Cout * s.Cin * s.KH * s.KW) return;
    const int64_t q = t % s.KW, p = (t / s.KW) % s.KH, c = (t / (s.KW * s.KH)) % s.Cin, o = t / (s.KW * s.KH * s.Cin);
    float acc = 0.0f;
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t i = 0; i < s.OH; ++i) {
            const int64_t ih = i * s.stride + p - s.pad;
            if (ih < 0 || ih >= s.H) continue;
            for (int64_t j = 0; j < s.OW; ++j) {
                const int64_t iw = j * s.stride + q - s.pad;
                if (iw < 0 || iw >= s.W) continue;
                acc += dy[((n * s.Cout + o) * s.OH + i) * s.OW + j] * x[((n * s.Cin + c) * s.H + ih) * s.W + iw];
            }
        }
    dw[t] += acc;
}

// db[o] += sum_{n,i,j} dy[n,o,i,j]; thread = one channel o
__global__ void conv_bwd_db_naive_kernel(float* db, const float* dy, ConvShape s) {
    const int64_t o = global_index();
    if (o >= s.Cout) return;
    float acc = 0.0f;
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t k = 0; k < s.OH * s.OW; ++k) acc += dy[(n * s.Cout + o) * s.OH * s.OW + k];
    db[o] += acc;
}

void conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s) {
    FW_LAUNCH_1D(conv_fwd_naive_kernel, s.N * s.Cout * s.OH * s.OW, y, x, w, b, s);
}

void conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                     const ConvShape& s) {
    if (dx) FW_LAUNCH_1D(conv_bwd_dx_naive_kernel, s.N * s.Cin * s.H * s.W, dx, dy, w, s);
    if (dw) FW_LAUNCH_1D(conv_bwd_dw_naive_kernel, s.Cout * s.Cin * s.KH * s.KW, dw, dy, x, s);
    if (db) FW_LAUNCH_1D(conv_bwd_db_naive_kernel, s.Cout, db, dy, s);
}

}  // namespace fw::cuda
