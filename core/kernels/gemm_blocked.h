// The blocked, packed GEMM driver shared by the SIMD paths (the GotoBLAS / BLIS structure).
//
//   C (M x N) = op(A) (M x K) * op(B) (K x N) + beta C
//
//   for jc over N in steps of NC:                 a column block of C and B
//     for pc over K in steps of KC:               a slice of the sum over k
//       pack op(B)[pc:pc+KC, jc:jc+NC] into NR-wide panels   (stays in L3/L2)
//       for ic over M in steps of MC:
//         pack op(A)[ic:ic+MC, pc:pc+KC] into MR-tall panels (stays in L2)
//         for each (NR panel, MR panel):          <- split across threads
//           micro-kernel: C tile (MR x NR) += A panel (KC x MR) * B panel (KC x NR)   (registers)
//
// Packing is where the transposes disappear: a panel is always laid out "k-major", so one
// micro-kernel serves A*B, A*B^T and A^T*B. Panels are zero-padded to MR/NR, and edge tiles of
// C go through a small MR x NR scratch tile.
//
// Determinism: each C tile is computed by exactly one thread, over k in the same order whatever
// the thread count, so 1 and 2 threads give bitwise identical results.
#pragma once

#include <cstdint>

namespace fw {

// C_tile (MR x NR, row stride ldc) += Apanel (K x MR, k-major) * Bpanel (K x NR, k-major)
using MicroKernel = void (*)(int64_t K, const float* A, const float* B, float* C, int64_t ldc);

struct GemmBlocking {
    int MR, NR;          // register tile, fixed by the micro-kernel
    int KC, MC, NC;      // cache blocks: KC x NR B panel in L1, MC x KC A block in L2, KC x NC in L3
    MicroKernel kernel;
};

void gemm_blocked(const GemmBlocking& blk, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace fw
