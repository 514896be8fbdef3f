// The SIMD kernels, one namespace per instruction set. Each lives in a file compiled with that
// instruction set's flags (see the Makefile), and is only called after CPUID said it can run.
#pragma once

#include <cstdint>

#include "core/kernels/kernels.h"

namespace fw::avx512 {
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc);

// elementwise_avx512.cpp (the bodies: elementwise_simd.inc). log_forward, pow, sin, cos, gather
// and scatter_add have no twin: the tables keep the references.
void exp_forward(float* y, const float* x, int64_t n);
void exp_backward(float* dx, const float* dy, const float* y, int64_t n);
void log_backward(float* dx, const float* dy, const float* x, int64_t n);
void sqrt_forward(float* y, const float* x, int64_t n);
void sqrt_backward(float* dx, const float* dy, const float* y, int64_t n);
void square_forward(float* y, const float* x, int64_t n);
void square_backward(float* dx, const float* dy, const float* x, int64_t n);
void sigmoid_forward(float* y, const float* x, int64_t n);
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n);
void tanh_forward(float* y, const float* x, int64_t n);
void tanh_backward(float* dx, const float* dy, const float* y, int64_t n);
void relu_forward(float* y, const float* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* x, int64_t n);
void silu_forward(float* y, const float* x, int64_t n);
void silu_backward(float* dx, const float* dy, const float* x, int64_t n);
void scale(float* y, const float* x, float s, int64_t n);
void add_scalar(float* y, const float* x, float s, int64_t n);
void axpy(float* y, const float* x, float s, int64_t n);
void add_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void sub_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void mul_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void div_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void add_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);
void sub_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);
void mul_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);
void div_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);

// norm_avx512.cpp (the bodies: norm_simd.inc)
void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        const GroupNormShape& s);
void group_norm_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* mean,
                         const float* rstd, const float* w, const GroupNormShape& s);
}  // namespace fw::avx512

namespace fw::avx2 {
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc);

// elementwise_avx2.cpp (the bodies: elementwise_simd.inc). log_forward, pow, sin, cos, gather
// and scatter_add have no twin: the tables keep the references.
void exp_forward(float* y, const float* x, int64_t n);
void exp_backward(float* dx, const float* dy, const float* y, int64_t n);
void log_backward(float* dx, const float* dy, const float* x, int64_t n);
void sqrt_forward(float* y, const float* x, int64_t n);
void sqrt_backward(float* dx, const float* dy, const float* y, int64_t n);
void square_forward(float* y, const float* x, int64_t n);
void square_backward(float* dx, const float* dy, const float* x, int64_t n);
void sigmoid_forward(float* y, const float* x, int64_t n);
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n);
void tanh_forward(float* y, const float* x, int64_t n);
void tanh_backward(float* dx, const float* dy, const float* y, int64_t n);
void relu_forward(float* y, const float* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* x, int64_t n);
void silu_forward(float* y, const float* x, int64_t n);
void silu_backward(float* dx, const float* dy, const float* x, int64_t n);
void scale(float* y, const float* x, float s, int64_t n);
void add_scalar(float* y, const float* x, float s, int64_t n);
void axpy(float* y, const float* x, float s, int64_t n);
void add_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void sub_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void mul_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void div_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb);
void add_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);
void sub_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);
void mul_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);
void div_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b);

// norm_avx2.cpp (the bodies: norm_simd.inc)
void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        const GroupNormShape& s);
void group_norm_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* mean,
                         const float* rstd, const float* w, const GroupNormShape& s);
}  // namespace fw::avx2
