#include "core/kernels/gemm_blocked.h"

#include <algorithm>
#include <cstring>

#include "core/kernels/scratch.h"
#include "core/parallel.h"

namespace fw {

// Ap[k][i] = op(A)[m0 + i, pc + k] for one MR-tall panel; rows past `rows` are zero.
static void pack_a_panel(float* Ap, const float* A, int64_t lda, bool trans, int64_t m0, int64_t rows, int64_t pc,
                         int64_t kc, int MR) {
    if (rows < MR) std::memset(Ap, 0, sizeof(float) * MR * kc);
    if (trans) {  // A stored (K, M): row k of the panel is contiguous in the source
        for (int64_t k = 0; k < kc; ++k) std::memcpy(Ap + k * MR, A + (pc + k) * lda + m0, sizeof(float) * rows);
    } else {      // A stored (M, K): walk each source row, scatter into the panel
        for (int64_t i = 0; i < rows; ++i) {
            const float* src = A + (m0 + i) * lda + pc;
            for (int64_t k = 0; k < kc; ++k) Ap[k * MR + i] = src[k];
        }
    }
}

// Bp = op(B)[pc:pc+kc, n0:n0+cols] as NR-wide panels one after the other: panel j holds
// Bp[j NR kc + k NR + jj] = op(B)[pc + k, n0 + j NR + jj]; columns past `cols` are zero.
static void pack_b_panels(float* Bp, const float* B, int64_t ldb, bool trans, int64_t n0, int64_t cols, int64_t pc,
                          int64_t kc, int NR) {
    const int64_t npanels = (cols + NR - 1) / NR;
    if (cols < npanels * NR) std::memset(Bp + (npanels - 1) * NR * kc, 0, sizeof(float) * NR * kc);
    if (trans) {  // B stored (N, K): walk each source row, scatter into its panel
        for (int64_t j = 0; j < cols; ++j) {
            const float* src = B + (n0 + j) * ldb + pc;
            float* dst = Bp + j / NR * NR * kc + j % NR;
            for (int64_t k = 0; k < kc; ++k) dst[k * NR] = src[k];
        }
    } else {      // B stored (K, N): row k of the block is one run in the source
        for (int64_t k = 0; k < kc; ++k) {
            const float* src = B + (pc + k) * ldb + n0;
            for (int64_t j = 0; j < npanels; ++j) {
                float* dst = Bp + j * NR * kc + k * NR;
                const int64_t n = std::min<int64_t>(NR, cols - j * NR);
                if (n == NR && NR % 16 == 0) {  // whole panels in 64-byte pieces: inlined moves, no call
                    for (int64_t c = 0; c < NR; c += 16) std::memcpy(dst + c, src + j * NR + c, 64);
                } else {
                    std::memcpy(dst, src + j * NR, sizeof(float) * n);
                }
            }
        }
    }
}

void gemm_blocked(const GemmBlocking& blk, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    const int MR = blk.MR, NR = blk.NR;
    // C = beta C first; the micro-kernel then only accumulates. beta = 0 overwrites (even NaN)
    // without a pass over C: in the first K block, kernel_set writes a whole tile without
    // reading it, and an edge tile is computed from zero in a small buffer and stored (below);
    // only K = 0 needs the zeros written here.
    const bool overwrite = beta == 0.0f;
    if (overwrite && K == 0) {
        for (int64_t m = 0; m < M; ++m) std::memset(C + m * ldc, 0, sizeof(float) * N);
    } else if (!overwrite && beta != 1.0f) {
        for (int64_t m = 0; m < M; ++m) {
            float* row = C + m * ldc;
            for (int64_t n = 0; n < N; ++n) row[n] *= beta;
        }
    }
    if (M == 0 || N == 0 || K == 0) return;

    // K in equal blocks of at most KC (K = 288 as 144 + 144, not 256 + 32: every pass over C
    // then carries a full share of the work).
    const int64_t nkb = (K + blk.KC - 1) / blk.KC, kc_max = (K + nkb - 1) / nkb;
    const int64_t nq = (N + NR - 1) / NR;  // column panels of C
    static thread_local Scratch a_buf;

    // Column panels of C in groups of G (a B row is read in runs of G NR floats), at least
    // 8 groups per thread where N allows, so that the dynamic schedule can even out.
    const int64_t G = std::clamp<int64_t>(nq / (8 * num_threads()), 1, 8), ngroups = (nq + G - 1) / G;

    // A block of B to pack: the column panels q0 .. q1 of rows pc .. pc+kc.
    struct BBlock {
        int64_t q0, q1, pc, kc;
    };
    // The micro-kernel calls of a group (ncalls of them) prefetch, between them, the block
    // packed next: call number `call` its share of the source rows, whole rows at a time. The
    // source rows are rows k of B (each a run of the block's columns), or, when B is stored
    // transposed, rows n of B^T (each a run of the block's k).
    auto prefetch_for = [&](const BBlock& next, int64_t call, int64_t ncalls) -> PrefetchRows {
        const int64_t cols = std::min(N, next.q1 * NR) - next.q0 * NR;
        if (cols <= 0) return kNoPrefetch;
        const int64_t rows = trans_b ? cols : next.kc, run = trans_b ? next.kc : cols;
        const int64_t r0 = call * rows / ncalls, r1 = (call + 1) * rows / ncalls, lines = (run + 15) / 16;
        const float* first = trans_b ? B + (next.q0 * NR + r0) * ldb + next.pc : B + (next.pc + r0) * ldb + next.q0 * NR;
        return {first, ldb, lines, (r1 - r0) * lines};
    };

    // The column panels of `blk_b` against one packed A block (rows ic .. ic+mc, k = pc .. pc+kc):
    // pack op(B) for them, then run every MR panel of the A block against each panel in turn.
    auto column_panels = [&](const BBlock& blk_b, const float* Ap, int64_t ic, int64_t mc, const BBlock& next) {
        static thread_local Scratch b_buf;
        const int64_t q0 = blk_b.q0, q1 = blk_b.q1, pc = blk_b.pc, kc = blk_b.kc, np = (mc + MR - 1) / MR;
        float* Bpanels = b_buf.get((q1 - q0) * NR * kc);
        pack_b_panels(Bpanels, B, ldb, trans_b, q0 * NR, std::min(N, q1 * NR) - q0 * NR, pc, kc, NR);
        const bool first = overwrite && pc == 0;  // C's old values are not read
        for (int64_t q = q0; q < q1; ++q) {
            const float* Bp = Bpanels + (q - q0) * NR * kc;
            const int64_t n0 = q * NR, nr = std::min<int64_t>(NR, N - n0);
            for (int64_t p = 0; p < np; ++p) {
                const int64_t m0 = ic + p * MR, mr = std::min<int64_t>(MR, M - m0);
                const float* a = Ap + p * MR * kc;
                float* c = C + m0 * ldc + n0;
                const PrefetchRows pf = prefetch_for(next, (q - q0) * np + p, (q1 - q0) * np);
                if (mr == MR && nr == NR) {
                    (first ? blk.kernel_set : blk.kernel)(kc, a, Bp, c, ldc, pf);
                } else if (!first && blk.edge) {
                    blk.edge(kc, a, Bp, c, ldc, (int)mr, (int)nr);
                } else {  // the full kernel on a tile buffer: zeros (first) or a copy of C
                    static thread_local Scratch tile_buf;
                    float* t = tile_buf.get(MR * NR);
                    std::fill(t, t + MR * NR, 0.0f);
                    if (!first)
                        for (int64_t i = 0; i < mr; ++i) std::copy(c + i * ldc, c + i * ldc + nr, t + i * NR);
                    blk.kernel(kc, a, Bp, t, NR, pf);
                    for (int64_t i = 0; i < mr; ++i) std::copy(t + i * NR, t + i * NR + nr, c + i * ldc);
                }
            }
        }
    };

    if (M <= blk.MC) {
        // Few rows (the conv shapes: M = 32 or 64): op(A) is packed whole, K block after K block
        // (block pc starts at Ap + np MR pc), and each task then runs its column panels over all
        // of K by itself: one parallel region instead of one per K block (the dW shape,
        // K = 784 * 64, has 314 K blocks of 160).
        const int64_t np = (M + MR - 1) / MR;
        float* Ap = a_buf.get(np * MR * K);
        parallel_for(nkb * np, [&](int64_t i) {
            const int64_t pc = i / np * kc_max, p = i % np, kc = std::min<int64_t>(kc_max, K - pc);
            pack_a_panel(Ap + np * MR * pc + p * MR * kc, A, lda, trans_a, p * MR, std::min<int64_t>(MR, M - p * MR), pc,
                         kc, MR);
        });
        // Within a group, the block packed next is the next K block, after the last one the
        // first K block of the next group.
        parallel_for(ngroups, [&](int64_t g) {
            const int64_t q0 = g * G, q1 = std::min(nq, q0 + G);
            for (int64_t pc = 0; pc < K; pc += kc_max) {
                const int64_t kc = std::min(kc_max, K - pc), pn = pc + kc;
                const BBlock next = pn < K ? BBlock{q0, q1, pn, std::min(kc_max, K - pn)}
                                           : BBlock{q1, std::min(nq, q1 + G), 0, std::min(kc_max, K)};
                column_panels({q0, q1, pc, kc}, Ap + np * MR * pc, 0, M, next);
            }
        });
        return;
    }

    // Many rows: an MC x KC block of A at a time (it stays in L2 while every column panel passes).
    const int64_t mc_max = std::min<int64_t>(blk.MC, (M + MR - 1) / MR * MR);
    float* Ap = a_buf.get(mc_max * kc_max);
    for (int64_t pc = 0; pc < K; pc += kc_max) {
        const int64_t kc = std::min<int64_t>(kc_max, K - pc);
        for (int64_t ic = 0; ic < M; ic += blk.MC) {
            const int64_t mc = std::min<int64_t>(blk.MC, M - ic), np = (mc + MR - 1) / MR;
            parallel_for(np, [&](int64_t p) {
                pack_a_panel(Ap + p * MR * kc, A, lda, trans_a, ic + p * MR, std::min<int64_t>(MR, mc - p * MR), pc, kc, MR);
            });
            parallel_for(ngroups, [&](int64_t g) {  // the block packed next: the next group's
                const int64_t q0 = g * G, q1 = std::min(nq, q0 + G);
                column_panels({q0, q1, pc, kc}, Ap, ic, mc, {q1, std::min(nq, q1 + G), pc, kc});
            });
        }
    }
}

}  // namespace fw
