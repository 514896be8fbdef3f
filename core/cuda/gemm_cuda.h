// CUDA GEMM and conv2d: the Kernels-table entries `gemm`, `conv2d_forward`, `conv2d_backward`
// for device pointers, running on fw::cuda::stream(). Signatures and semantics are exactly those
// of core/kernels/kernels.h (and the references in core/kernels/gemm_ref.cpp, conv_ref.cpp).
#pragma once

#include <cstdint>

#include "core/kernels/kernels.h"

namespace fw::cuda {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

void conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s);
void conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                     const ConvShape& s);

}  // namespace fw::cuda
