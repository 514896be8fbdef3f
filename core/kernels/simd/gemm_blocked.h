// The blocked, packed GEMM shared by the SIMD paths (the GotoBLAS / BLIS structure): the types a
// path's micro-kernels and cache blocks are described by. The driver, gemm_blocked(), is in
// gemm_blocked.inc, compiled inside each path's namespace.
//
//   C (M x N) = op(A) (M x K) * op(B) (K x N) + beta C
//
//   for pc over K in steps of KC:                 a slice of the sum over k
//     for ic over M in steps of MC:
//       pack op(A)[ic:ic+MC, pc:pc+KC] into MR-tall panels            (shared, stays in L2)
//       for each group of G NR-wide column panels of C:   <- split across threads
//         pack op(B)[pc:pc+KC, group] into G KC x NR panels            (per thread, L2; one in L1)
//         for each panel q of the group, each MR panel p of the A block:
//           micro-kernel: C tile (MR x NR) += A panel (KC x MR) * B panel (KC x NR)   (registers)
//
// When B is stored (K, N) (not transposed) a whole panel's row k is one run of NR floats in the
// source, and the packing is folded into the first micro-kernel call of each panel: the
// packing micro-kernel reads row k from B itself, writes it into the panel, and uses it at
// once; the other A panels then read the packed panel. The loads that wait for memory then
// overlap the FMAs instead of running in a copy loop of their own (Measurements: the packing
// micro-kernel). A last, narrower panel is packed by the copy loop.
//
// Why this order: the UNet's conv GEMMs have a small M (32 or 64 filters) and a huge N
// (pixels x batch). Each B panel is then packed once per (pc, ic), used by every A panel while
// it is hot in L1, and never written back to a big shared buffer.
//
// Packing B is the part that waits for memory: a K x N B is read in KC rows of G NR floats,
// each row on its own page. Two things hide that wait. A group reads each row in one run of
// G NR floats (up to 192, not 48: fewer TLB misses, a prefetcher that gets going). And while
// the micro-kernels compute, they prefetch the rows the thread packs next (PrefetchRows: each
// call a share of the rows, one line per k step, spread among the FMAs). (Measurements: the
// B-packing wait.)
//
// A small C with a long K (M <= MC, N x KC floats in L2, at least 64 K blocks) is cut along K
// instead: fixed chunks of K blocks, each summed into a partial C by one task, the partials
// added in order (gemm_blocked.inc: the K split).
//
// When M <= MC (one A block) the whole of op(A) is packed first, and the pc loop moves inside
// each thread's column panel: one parallel region per call instead of one per K block, which
// matters when K is huge and N small (a dW GEMM: K = pixels x batch, N = Cin x 3 x 3).
//
// Packing is where the transposes disappear: a panel is always laid out "k-major", so one
// micro-kernel serves A*B, A*B^T and A^T*B. Where the source runs along k (A stored (M, K), B
// stored (N, K)) the packing transposes square tiles in registers (the path's transpose_tile). Panels are zero-padded to MR/NR; tiles at the
// bottom and right edges of C use the micro-kernel's masked twin.
//
// Determinism: each C tile (or K chunk's partial tile) is computed by exactly one thread, over k
// in the same order whatever the thread count, so 1 and 2 threads give bitwise identical results.
//
// Scalar reference: core/kernels/ref/gemm_ref.cpp; tested against it by tests/test_gemm.cpp.
//
// Measurements (speed; the code comments say what and why, the numbers are here):
//   - the B-packing wait: the grouped row runs and PrefetchRows together, on the conv shapes,
//     1 thread: +30-40% (enc0 forward 57 -> 80 GFLOP/s, dec2 78 -> 93).
//   - the packing micro-kernel (AVX-512, 2-core AMD EPYC, bench_gemm's shapes, alternating
//     processes of the two builds, GFLOP/s at 1 / 2 threads): enc0 forward 108 -> 144 / 206 ->
//     267 (oneDNN 142 / 266), enc1 145 -> 167 / 240 -> 295 (oneDNN 180 / 335), dec2 147 -> 168 /
//     243 -> 283 (oneDNN 186 / 334), square 1024 161 -> 175 / 276 -> 306. Before it, the copy
//     loop was 40% of enc0 forward's time, almost all of it waiting on B's loads (perf). Tried
//     and slower: packing the whole group in the first call (one visit per page of B instead of
//     G), and copying panel q+1 a share per call while computing panel q.
//   - the K split and the transposes (enc0 dW: M = 32, N = 288, K = 50,176, B transposed;
//     same machine and method): the packing's transposes as 16 x 16 register tiles instead of
//     single stores, 57 -> 68 GFLOP/s at 1 thread; then the K split, which reads op(A) once
//     instead of once per column group: 55 -> 83 at 1 thread, 123 -> 160 at 2 (oneDNN 87 / 61).
//   - each whole tile prefetches its rows in the next column panel (2-core Intel Xeon, fraction of
//     the FMA peak at 1 / 2 threads, two runs each way): enc0 dX (M = 288, N = 50,176, K = 32)
//     0.18 / 0.19 -> 0.25-0.26 / 0.27-0.30, enc0 forward 0.34-0.37 / 0.40-0.43 -> 0.39-0.49 /
//     0.44-0.46; square 1024, enc1, dec2 and enc0 dW within the noise (+-5%); two panels
//     ahead: the same.
//   - what the packing micro-kernel costs (AVX-512, 2-core AMD EPYC Zen 5, the enc1 shape
//     M = 64, K = 576, N = 12,544, 1 thread, perf): its calls (1 in 8 for M = 64) take 18% of the
//     time, so they run at ~56% of the other calls' speed (~72% with B in L3, N = 1,536). The
//     other calls run at ~97% of the peak. Of the loss, its three 64-byte stores a k step cost
//     ~20% even from L1: the kernel in a loop on L1-resident data ran at 163-174 GFLOP/s with
//     them, 200-216 without (each 512-bit store costs about one FMA slot on this core); the rest
//     waits on B's rows. Without PrefetchRows: 7% slower. Tried, no gain (alternating builds,
//     within the noise unless said): the pack call prefetching its own rows 4 / 8 / 16 ahead;
//     PrefetchRows into L2 only (T1); KC 300 / 600 for the 8 x 48 tile; groups of 2 or 8 panels
//     (8: 6% slower); every call reading B from the source instead of a packed panel (equal).
#pragma once

#include <cstdint>

namespace fw {

// Lines the micro-kernel prefetches while it computes, one per k step, `count` in all: the
// first `lines` 64-byte lines from `first`, then as many from first + stride, and so on (rows
// of B: whole rows at a time, so that the lines of one page come together). count = 0: none.
struct PrefetchRows {
    const float* first;
    int64_t stride, lines, count;
};
constexpr PrefetchRows kNoPrefetch = {nullptr, 0, 1, 0};

// C_tile (MR x NR, row stride ldc) += Apanel (K x MR, k-major) * Bpanel (K x NR, k-major)
using MicroKernel = void (*)(int64_t K, const float* A, const float* B, float* C, int64_t ldc, const PrefetchRows& pf);
// The same, with the B panel packed on the way: row k is read from Bsrc + k ldb (the source
// matrix, not transposed) and written to Bpanel + k NR before its FMAs.
using PackingKernel = void (*)(int64_t K, const float* A, const float* Bsrc, int64_t ldb, float* Bpanel, float* C,
                               int64_t ldc, const PrefetchRows& pf);
// The same for an edge tile: only the first mr rows and nr columns of C are read and written.
using EdgeKernel = void (*)(int64_t K, const float* A, const float* B, float* C, int64_t ldc, int mr, int nr);

struct GemmBlocking {
    int MR, NR;   // register tile, fixed by the micro-kernel
    int KC, MC;   // cache blocks: K is summed in blocks of KC (a KC x NR B panel in L1 or L2), M in MC rows
    MicroKernel kernel;
    EdgeKernel edge;         // may be null: edge tiles then run the kernel on a padded copy of the tile
    MicroKernel kernel_set;  // C_tile = Apanel Bpanel: C is written, never read (a first K block, beta = 0)
    // The packing micro-kernel and its kernel_set twin (may be null: B is then always packed by
    // the copy loop).
    PackingKernel kernel_pack, kernel_pack_set;
};

}  // namespace fw
