// conv2d as GEMM (im2col), for any GEMM kernel (the SIMD paths pass theirs). The SIMD paths use
// it for the convolutions conv_simd.inc does not cover (strided ones).
//
// im2col turns one image x_n (Cin, H, W) into a matrix col (K, P), K = Cin*KH*KW rows (one per
// weight of a filter), P = OH*OW columns (one per output pixel):
//   col[(c*KH + p)*KW + q, i*OW + j] = x_n[c, i*stride + p - pad, j*stride + q - pad]  (0 outside)
// Then the convolution sum of core/kernels/ref/conv_ref.cpp is one matrix product per image:
//   forward  y_n (Cout, P)  = W (Cout, K) col_n (K, P) + b         (bias: C starts as b)
//   dX       dcol_n (K, P)  = W^T (K, Cout) dy_n (Cout, P);  dx_n += col2im(dcol_n)
//   dW       dW (Cout, K)  += dy_n (Cout, P) col_n^T (P, K)        (summed over images)
//   db       db[o]         += sum_{n, P} dy[n, o, :]
// A 1x1, stride 1, unpadded conv needs no im2col: col_n is x_n itself.
//
// Threads: forward and dX split over images (each image's output belongs to one thread);
// dW runs images in a fixed order with the GEMM itself threaded. Either way the arithmetic
// order does not depend on the thread count: results are bitwise identical for 1 and 2 threads.
//
// Scalar reference: core/kernels/ref/conv_ref.cpp (the direct sum); tested against it by
// tests/test_conv_simd.cpp.
#pragma once

#include "core/kernels/kernels.h"

namespace fw {

using GemmFn = void (*)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                        const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

void conv2d_forward_gemm(GemmFn gemm, float* y, const float* x, const float* w, const float* b, const ConvShape& s);
void conv2d_backward_gemm(GemmFn gemm, float* dx, float* dw, float* db, const float* dy, const float* x,
                          const float* w, const ConvShape& s);

}  // namespace fw
