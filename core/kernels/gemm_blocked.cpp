#include "core/kernels/gemm_blocked.h"

#include <algorithm>

#include "core/kernels/scratch.h"
#include "core/parallel.h"

namespace fw {


// op(A)[m, k]
static inline float a_at(const float* A, int64_t lda, bool trans, int64_t m, int64_t k) {
    return trans ? A[k * lda + m] : A[m * lda + k];
}
// op(B)[k, n]
static inline float b_at(const float* B, int64_t ldb, bool trans, int64_t k, int64_t n) {
    return trans ? B[n * ldb + k] : B[k * ldb + n];
}

// Ap[p][k][i] = op(A)[ic + p*MR + i, pc + k], zero past M.
static void pack_a(float* Ap, const float* A, int64_t lda, bool trans, int64_t ic, int64_t mc, int64_t pc,
                   int64_t kc, int64_t M, int MR, int64_t p) {
    float* dst = Ap + p * MR * kc;
    for (int64_t k = 0; k < kc; ++k)
        for (int i = 0; i < MR; ++i) {
            int64_t m = ic + p * MR + i;
            dst[k * MR + i] = (m < ic + mc && m < M) ? a_at(A, lda, trans, m, pc + k) : 0.0f;
        }
}

// Bp[q][k][j] = op(B)[pc + k, jc + q*NR + j], zero past N.
static void pack_b(float* Bp, const float* B, int64_t ldb, bool trans, int64_t jc, int64_t nc, int64_t pc,
                   int64_t kc, int64_t N, int NR, int64_t q) {
    float* dst = Bp + q * NR * kc;
    for (int64_t k = 0; k < kc; ++k)
        for (int j = 0; j < NR; ++j) {
            int64_t n = jc + q * NR + j;
            dst[k * NR + j] = (n < jc + nc && n < N) ? b_at(B, ldb, trans, pc + k, n) : 0.0f;
        }
}

void gemm_blocked(const GemmBlocking& blk, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    const int MR = blk.MR, NR = blk.NR;
    // C = beta C first (beta = 0 overwrites, even NaN); the micro-kernel then only accumulates.
    if (beta != 1.0f)
        for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) C[m * ldc + n] = beta == 0.0f ? 0.0f : beta * C[m * ldc + n];
    if (M == 0 || N == 0 || K == 0) return;

    static thread_local Scratch a_buf, b_buf;
    const int64_t nc_max = std::min<int64_t>(blk.NC, (N + NR - 1) / NR * NR);
    const int64_t mc_max = std::min<int64_t>(blk.MC, (M + MR - 1) / MR * MR);
    const int64_t kc_max = std::min<int64_t>(blk.KC, K);
    float* Bp = b_buf.get(nc_max * kc_max);
    float* Ap = a_buf.get(mc_max * kc_max);

    for (int64_t jc = 0; jc < N; jc += blk.NC) {
        const int64_t nc = std::min<int64_t>(blk.NC, N - jc), nq = (nc + NR - 1) / NR;
        for (int64_t pc = 0; pc < K; pc += blk.KC) {
            const int64_t kc = std::min<int64_t>(blk.KC, K - pc);
            parallel_for(nq, [&](int64_t q) { pack_b(Bp, B, ldb, trans_b, jc, nc, pc, kc, N, NR, q); });
            for (int64_t ic = 0; ic < M; ic += blk.MC) {
                const int64_t mc = std::min<int64_t>(blk.MC, M - ic), np = (mc + MR - 1) / MR;
                parallel_for(np, [&](int64_t p) { pack_a(Ap, A, lda, trans_a, ic, mc, pc, kc, M, MR, p); });
                // One task per (B panel q, A panel p) tile of C; tiles never overlap.
                parallel_for(nq * np, [&](int64_t task) {
                    const int64_t q = task / np, p = task % np;
                    const int64_t m0 = ic + p * MR, n0 = jc + q * NR;
                    const int64_t mr = std::min<int64_t>(MR, M - m0), nr = std::min<int64_t>(NR, jc + nc - n0);
                    const float* a = Ap + p * MR * kc;
                    const float* b = Bp + q * NR * kc;
                    if (mr == MR && nr == NR) {
                        blk.kernel(kc, a, b, C + m0 * ldc + n0, ldc);
                    } else {  // edge tile: through an MR x NR scratch tile
                        alignas(64) float tile[16 * 64];
                        for (int i = 0; i < MR; ++i)
                            for (int j = 0; j < NR; ++j) tile[i * NR + j] = (i < mr && j < nr) ? C[(m0 + i) * ldc + n0 + j] : 0.0f;
                        blk.kernel(kc, a, b, tile, NR);
                        for (int64_t i = 0; i < mr; ++i)
                            for (int64_t j = 0; j < nr; ++j) C[(m0 + i) * ldc + n0 + j] = tile[i * NR + j];
                    }
                });
            }
        }
    }
}

}  // namespace fw
