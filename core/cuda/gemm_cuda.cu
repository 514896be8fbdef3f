// SGEMM on the GPU: shared-memory tiling + register blocking, fp32 with FMA (no TF32).
//
//   C (M,N) = op(A) (M,K) op(B) (K,N) [+ bias[m]] + beta C,  row-major, any leading dimensions.
//
// Grid: block (x, y, z) computes the BN x BM tile of C at columns x*BN, rows y*BM, of batch
// entry z (x runs over N because N is the long side of the conv GEMMs and grid.x has no 65535
// limit). Inside a block every thread computes an 8x8 piece of the tile; the loads, the
// multiply and the store are the functions of core/cuda/sgemm_tile.h, where the tile sizes, the
// thread layout and the shared-memory layout are explained. The kernel is their loop:
//
//   registers <- slice 0 of op(A) and op(B)                     (global loads, zeros outside)
//   for each BK slice:
//       shared <- registers;  sync
//       registers <- next slice        (issued now, so global latency overlaps the multiply)
//       acc += As^T Bs on the thread's 8x8 piece;  sync
//   C <- acc + bias + beta C                                     (edges masked, beta 0 reads no C)
//
// float4 global access is used only where it is legal: the pointer is 16-byte aligned and the
// leading dimension (and batch stride) is a multiple of 4 — checked on the host for every launch
// (make_params); otherwise, and at the ragged edges of the matrix, the same code reads scalars.
#include "core/cuda/gemm_cuda.h"

#include <algorithm>
#include <climits>

#include "core/cuda/runtime.h"
#include "core/cuda/sgemm_tile.h"
#include "core/error.h"

namespace fw::cuda {
namespace {

using namespace sgemm;

// One kernel for the four transpose cases and the two tile heights; TA/TB only decide which
// way each panel is contiguous (see Panel), so the compiler folds them away.
template <bool TA, bool TB, int BM>
__global__ void __launch_bounds__(block_threads(BM)) sgemm_kernel(Params p) {
    constexpr int kThreads = block_threads(BM);
    __shared__ __align__(16) float As[BK * (BM + PAD)];  // op(A) slice, As[k][m]
    __shared__ __align__(16) float Bs[BK * (BN + PAD)];  // op(B) slice, Bs[k][n]
    const int t = threadIdx.x;
    const int64_t z = blockIdx.z, m0 = (int64_t)blockIdx.y * BM, n0 = (int64_t)blockIdx.x * BN;
    const Panel a = panel_a(p, TA, z), b = panel_b(p, TB, z);

    float acc[TM][TN];
    for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

    float4 ra[kMaxLoads], rb[kMaxLoads];  // this thread's share of the next slice
    load_tile(ra, a, BM, kThreads, t, m0, 0);
    load_tile(rb, b, BN, kThreads, t, n0, 0);
    for (int64_t k0 = 0; k0 < p.K; k0 += BK) {
        store_tile(As, ra, a.along_k, BM, kThreads, t);
        store_tile(Bs, rb, b.along_k, BN, kThreads, t);
        __syncthreads();  // the whole slice is in shared memory
        if (k0 + BK < p.K) {
            load_tile(ra, a, BM, kThreads, t, m0, k0 + BK);
            load_tile(rb, b, BN, kThreads, t, n0, k0 + BK);
        }
        multiply_tile(acc, As, Bs, BM, t);
        __syncthreads();  // every thread has read the slice before it is overwritten
    }
    store_result(p, p.C + z * p.stride_c, acc, BM, t, m0, n0);
}

template <bool TA, bool TB>
void launch(const Params& p, int bm, dim3 grid) {
    if (bm == 64) {
        sgemm_kernel<TA, TB, 64><<<grid, block_threads(64), 0, stream()>>>(p);
        FW_CUDA_CHECK_LAUNCH("sgemm_kernel<BM=64>");
    } else {
        sgemm_kernel<TA, TB, 128><<<grid, block_threads(128), 0, stream()>>>(p);
        FW_CUDA_CHECK_LAUNCH("sgemm_kernel<BM=128>");
    }
}

}  // namespace

void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                          int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta, float* C,
                          int64_t ldc, int64_t stride_c, int64_t batch, const float* bias) {
    if (M < 0 || N < 0 || K < 0 || batch < 0)
        fail("cuda gemm: negative size M=", M, " N=", N, " K=", K, " batch=", batch);
    if (batch > 1 && stride_c == 0)  // every entry would write the same C at once
        fail("cuda gemm: batch=", batch, " entries share one C (stride_c = 0)");
    if (M == 0 || N == 0 || batch == 0) return;
    const int64_t grid_x = (N + BN - 1) / BN;
    if (grid_x > INT_MAX) fail("cuda gemm: N=", N, " needs more than 2^31-1 column tiles");

    // grid.y and grid.z are at most 65535: longer M or batch runs as several launches, each
    // with its pointers moved to its first row / batch entry.
    constexpr int64_t kMaxGridYZ = 65535;
    const int bm = block_rows_for(M);
    const int64_t rows_per_launch = kMaxGridYZ * bm;
    for (int64_t z0 = 0; z0 < batch; z0 += kMaxGridYZ)
        for (int64_t r0 = 0; r0 < M; r0 += rows_per_launch) {
            // rows r0.. of op(A) and C, batch entries z0..
            const Params p = make_params(std::min(rows_per_launch, M - r0), N, K,
                                         A + z0 * stride_a + (trans_a ? r0 : r0 * lda), lda, stride_a,
                                         B + z0 * stride_b, ldb, stride_b, beta, C + z0 * stride_c + r0 * ldc, ldc,
                                         stride_c, bias ? bias + r0 : nullptr);
            const dim3 grid((unsigned)grid_x, (unsigned)((p.M + bm - 1) / bm),
                            (unsigned)std::min(kMaxGridYZ, batch - z0));
            if (!trans_a && !trans_b) launch<false, false>(p, bm, grid);
            if (!trans_a && trans_b) launch<false, true>(p, bm, grid);
            if (trans_a && !trans_b) launch<true, false>(p, bm, grid);
            if (trans_a && trans_b) launch<true, true>(p, bm, grid);
        }
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
    gemm_strided_batched(trans_a, trans_b, M, N, K, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1, nullptr);
}

}  // namespace fw::cuda
