// CUDA twins of the three heaviest kernels of the Kernels table (core/kernels/kernels.h), with
// the same semantics as the scalar references (core/kernels/ref/gemm_ref.cpp, conv_ref.cpp).
// All pointers are DEVICE pointers; all work is queued on fw::cuda::stream() (core/cuda/runtime.h)
// and the functions return without waiting for it.
//
//   gemm            C = op(A) op(B) + beta C. op(A) (M,K), op(B) (K,N), C (M,N), row-major with
//                   leading dimensions lda, ldb, ldc; trans_a means A is stored (K,M), trans_b
//                   that B is stored (N,K). beta = 0 never reads C.     (core/cuda/gemm_cuda.cu)
//   conv2d_forward  y (N,Cout,OH,OW) = conv(x (N,Cin,H,W), w (Cout,Cin,KH,KW)) + b (Cout) or null
//   conv2d_backward dx += ..., dw += ..., db += ...; ACCUMULATES; a null pointer = not needed.
//                   Both as im2col + the GEMM below.                    (core/cuda/conv_cuda.cu)
#pragma once

#include <cstdint>

#include "core/kernels/kernels.h"

namespace fw::cuda {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc);

void conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s);
// y = conv2d_forward's y + r (r like y): the conv, then y += 1 r (axpy)
void conv2d_forward_add(float* y, const float* x, const float* w, const float* b, const float* r, const ConvShape& s);
void conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                     const ConvShape& s, GradWrite dx_write);

// The building block of the convolutions: `batch` independent products, entry z reading
// A + z*stride_a, B + z*stride_b and writing C + z*stride_c (a stride of 0 shares A or B; C
// needs its own matrix per entry when batch > 1), with an optional bias[m] added to row m of
// every C (null = none):
//   C_z = op(A_z) op(B_z) + bias + beta C_z
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                          int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta, float* C,
                          int64_t ldc, int64_t stride_c, int64_t batch, const float* bias);

}  // namespace fw::cuda
