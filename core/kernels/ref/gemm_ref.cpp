// Scalar reference GEMM: C = op(A) op(B) + beta C.
//
// Shapes (row-major): op(A) is (M, K), op(B) is (K, N), C is (M, N).
//   trans_a == false: A is stored (M, K), element (m, k) at A[m*lda + k]
//   trans_a == true:  A is stored (K, M), element (m, k) at A[k*lda + m]
//   likewise for B with (K, N) / (N, K).
// beta = 1 accumulates into C (what backward passes need), beta = 0 overwrites it.
// The sum over k runs in float in k order, the same order the fast kernels are tested against.
#include "core/kernels/ref/ref.h"

namespace fw::ref {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
    for (int64_t m = 0; m < M; ++m) {
        for (int64_t n = 0; n < N; ++n) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; ++k) {
                float a = trans_a ? A[k * lda + m] : A[m * lda + k];
                float b = trans_b ? B[n * ldb + k] : B[k * ldb + n];
                acc += a * b;  // C[m,n] = sum_k op(A)[m,k] op(B)[k,n]
            }
            float& c = C[m * ldc + n];
            c = (beta == 0.0f ? 0.0f : beta * c) + acc;  // beta = 0 ignores whatever C held
        }
    }
}

}  // namespace fw::ref
