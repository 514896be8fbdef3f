// The pieces of the CUDA SGEMM kernel (core/cuda/gemm_cuda.cu), as __host__ __device__ functions:
// the kernel is these pieces in a loop, and tests/cuda/test_gemm_conv_cuda.cpp runs the very same
// pieces on the CPU (block by block, thread by thread) to check the index math without a GPU.
//
// The product: C (M,N) = op(A) (M,K) op(B) (K,N) [+ bias per row] + beta C, row-major.
// One thread block computes a BM x BN tile of C; it walks K in slices of BK:
//
//            k0     k0+BK                        n0           n0+BN
//   op(A)  [ ...  |######| ... ]  rows m0..m0+BM    op(B)   [ |########| ]  rows k0..k0+BK
//            (BM x BK tile -> shared As)                      (BK x BN tile -> shared Bs)
//
// Each operand is seen as a "panel": an (R x K) matrix, R = M for op(A), R = N for op(B), whose
// (r, k) element is either contiguous along k (A not transposed, B transposed) or along r (the
// other two cases). Both tiles go into shared memory k-major, S[k][r] (row pitch R_tile + PAD),
// so the inner product reads 4 consecutive r as one float4 whatever the transposes were.
//
// Thread t of a block owns an 8x8 piece of C (TM x TN), split into four 4x4 quadrants half a
// tile apart:   rows    ty*4 + {0..3}   and   BM/2 + ty*4 + {0..3},   ty = t / (BN/8)
//               columns tx*4 + {0..3}   and   BN/2 + tx*4 + {0..3},   tx = t % (BN/8)
// (not 8 adjacent rows/columns: with this split the 16 threads of a half-warp read 64 adjacent
// floats of Bs and write 64 adjacent floats of a C row, so shared loads have no bank conflicts
// and global stores are coalesced).
//
// Tile sizes: BN = 128, BM = 128 (256 threads) or 64 (128 threads, for M <= 64: the conv GEMMs
// with Cout = 32 or 64 would leave most of a 128-row tile idle), BK = 16. Per k step a thread
// does 64 FMAs for 16 shared loads (4 float4): register blocking is what lifts the kernel from
// shared-memory bound to FMA bound. Registers (nvcc 13, sm_90, -Xptxas -v): 133-137 per thread
// at BM = 128 (one 256-thread block per SM), 157-181 at BM = 64, no spills; capping at 128 for
// two blocks per SM (__launch_bounds__(256, 2)) spilled, so the kernel does not ask for it.
// Shared memory: 16*(128+4)*4*2 = 16.5 KiB (BM = 128).
//
// Arithmetic: each C element is sum_k a_k b_k accumulated with fmaf in k order (0, 1, ..., K-1),
// the reference's order; fp32 throughout (no TF32). The host emulation uses the same fmaf, so a
// GPU result equals the emulation's bit for bit.
#pragma once

#include <cmath>
#include <cstdint>

#include <cuda_runtime.h>  // float4, make_float4, __host__ __device__

#ifdef __CUDA_ARCH__  // the device pass of nvcc; the host compilers do not know the pragma
#define FW_UNROLL _Pragma("unroll")
#else
#define FW_UNROLL
#endif

namespace fw::cuda::sgemm {

constexpr int BN = 128;      // block tile: columns of C
constexpr int BK = 16;       // k slice held in shared memory at a time
constexpr int TM = 8;        // per thread: rows of C
constexpr int TN = 8;        // per thread: columns of C
constexpr int PAD = 4;       // shared row padding: keeps float4 alignment, breaks store bank conflicts
constexpr int kMaxLoads = 4; // float4 loads per thread per operand tile (BN tile with 128 threads)

// BM = 128 or 64 rows; threads = (BM/TM) * (BN/TN) = 256 or 128.
__host__ __device__ constexpr int block_threads(int bm) { return (bm / TM) * (BN / TN); }
inline int block_rows_for(int64_t M) { return M <= 64 ? 64 : 128; }

// Everything one launch needs. Batched: block z uses A + z*stride_a, B + z*stride_b, C + z*stride_c.
struct Params {
    int64_t M, N, K;
    const float* A;
    int64_t lda, stride_a;
    const float* B;
    int64_t ldb, stride_b;
    float* C;
    int64_t ldc, stride_c;
    float beta;
    const float* bias;         // bias[m] added to row m of C, or null
    bool vec_a, vec_b, vec_c;  // float4 access allowed: pointer 16-byte aligned, ld and stride % 4 == 0
};

// The launch parameters of one strided batch, with float4 allowed exactly where it is legal:
// every batch entry's pointer 16-byte aligned (base aligned, stride % 4 == 0) and ld % 4 == 0,
// so that every float4 the kernel forms (4 consecutive elements starting at a multiple of 4
// along the contiguous direction) is 16-byte aligned.
inline bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }
inline Params make_params(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, int64_t stride_a,
                          const float* B, int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc,
                          int64_t stride_c, const float* bias) {
    Params p{M, N, K, A, lda, stride_a, B, ldb, stride_b, C, ldc, stride_c, beta, bias, false, false, false};
    p.vec_a = aligned16(A) && lda % 4 == 0 && stride_a % 4 == 0;
    p.vec_b = aligned16(B) && ldb % 4 == 0 && stride_b % 4 == 0;
    p.vec_c = aligned16(C) && ldc % 4 == 0 && stride_c % 4 == 0;
    return p;
}

// One operand as an (R x K) matrix: element (r, k) at p[r*ld + k] (along_k) or p[k*ld + r].
struct Panel {
    const float* p;
    int64_t ld, R, K;
    bool along_k;
    bool vec;
};

// Group g (of 4 elements) of an (rows x BK) tile -> tile coordinates (r, k) of its first element.
// along_k: the 4 elements are (r, k..k+3); otherwise (r..r+3, k). Consecutive groups walk the
// contiguous direction first, so neighbouring threads read neighbouring addresses.
__host__ __device__ __forceinline__ void group_coords(int g, bool along_k, int rows, int& r, int& k) {
    if (along_k) {
        r = g / (BK / 4);
        k = (g % (BK / 4)) * 4;
    } else {
        k = g / (rows / 4);
        r = (g % (rows / 4)) * 4;
    }
}

// The 4 elements of panel P starting at (r, k), along its contiguous direction; zeros outside
// the matrix (so edge tiles multiply by zero instead of reading past the end).
__host__ __device__ __forceinline__ float4 load4(const Panel& P, int64_t r, int64_t k) {
    float e[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (P.along_k) {
        if (r >= P.R) return make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (P.vec && k + 3 < P.K) return *reinterpret_cast<const float4*>(P.p + r * P.ld + k);
        for (int j = 0; j < 4; ++j)
            if (k + j < P.K) e[j] = P.p[r * P.ld + k + j];
    } else {
        if (k >= P.K) return make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (P.vec && r + 3 < P.R) return *reinterpret_cast<const float4*>(P.p + k * P.ld + r);
        for (int j = 0; j < 4; ++j)
            if (r + j < P.R) e[j] = P.p[k * P.ld + r + j];
    }
    return make_float4(e[0], e[1], e[2], e[3]);
}

// Thread t's share of the (rows x BK) tile of P at (r0, k0), global memory -> registers v.
// The tile has rows*BK/4 groups; thread t loads groups t, t + threads, t + 2 threads, ...
__host__ __device__ __forceinline__ void load_tile(float4 (&v)[kMaxLoads], const Panel& P, int rows, int threads,
                                                   int t, int64_t r0, int64_t k0) {
    const int loads = rows * BK / 4 / threads;  // 2 or 4
    FW_UNROLL
    for (int i = 0; i < kMaxLoads; ++i) {
        if (i >= loads) break;
        int r, k;
        group_coords(t + i * threads, P.along_k, rows, r, k);
        v[i] = load4(P, r0 + r, k0 + k);
    }
}

// Registers v -> shared tile S[k][r] (pitch rows + PAD): the same groups as load_tile.
__host__ __device__ __forceinline__ void store_tile(float* S, const float4 (&v)[kMaxLoads], bool along_k, int rows,
                                                    int threads, int t) {
    const int loads = rows * BK / 4 / threads, pitch = rows + PAD;
    FW_UNROLL
    for (int i = 0; i < kMaxLoads; ++i) {
        if (i >= loads) break;
        int r, k;
        group_coords(t + i * threads, along_k, rows, r, k);
        if (along_k) {  // 4 values of one r at k..k+3: a transposing store
            S[(k + 0) * pitch + r] = v[i].x;
            S[(k + 1) * pitch + r] = v[i].y;
            S[(k + 2) * pitch + r] = v[i].z;
            S[(k + 3) * pitch + r] = v[i].w;
        } else {
            *reinterpret_cast<float4*>(S + k * pitch + r) = v[i];
        }
    }
}

// Tile row of thread row i (0..7) of thread ty; likewise columns (see the quadrant split above).
__host__ __device__ __forceinline__ int thread_row(int bm, int ty, int i) { return (i < 4 ? 0 : bm / 2) + ty * 4 + (i & 3); }
__host__ __device__ __forceinline__ int thread_col(int tx, int j) { return (j < 4 ? 0 : BN / 2) + tx * 4 + (j & 3); }

// acc[i][j] += sum_{k < BK} As[k][row i] * Bs[k][col j]: the 8x8 outer products of one BK slice.
__host__ __device__ __forceinline__ void multiply_tile(float (&acc)[TM][TN], const float* As, const float* Bs, int bm,
                                                       int t) {
    const int tx = t % (BN / TN), ty = t / (BN / TN);
    const int pa = bm + PAD, pb = BN + PAD;
    FW_UNROLL
    for (int k = 0; k < BK; ++k) {
        const float4 a0 = *reinterpret_cast<const float4*>(As + k * pa + ty * 4);
        const float4 a1 = *reinterpret_cast<const float4*>(As + k * pa + bm / 2 + ty * 4);
        const float4 b0 = *reinterpret_cast<const float4*>(Bs + k * pb + tx * 4);
        const float4 b1 = *reinterpret_cast<const float4*>(Bs + k * pb + BN / 2 + tx * 4);
        const float a[TM] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
        const float b[TN] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
        FW_UNROLL
        for (int i = 0; i < TM; ++i) {
            FW_UNROLL
            for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
    }
}

// C[m, n] = acc + bias[m] + beta C[m, n] for the thread's 8x8 piece inside the matrix. C is this
// batch entry's C. beta == 0 never reads C (it may hold NaN). float4 where the 4 columns are inside.
__host__ __device__ __forceinline__ void store_result(const Params& p, float* C, const float (&acc)[TM][TN], int bm,
                                                      int t, int64_t m0, int64_t n0) {
    const int tx = t % (BN / TN), ty = t / (BN / TN);
    FW_UNROLL
    for (int i = 0; i < TM; ++i) {
        const int64_t m = m0 + thread_row(bm, ty, i);
        if (m >= p.M) continue;
        const float bias = p.bias ? p.bias[m] : 0.0f;
        float* crow = C + m * p.ldc;
        FW_UNROLL
        for (int h = 0; h < 2; ++h) {  // the two 4-column quadrants
            const int64_t n = n0 + thread_col(tx, h * 4);
            float out[4];
            for (int j = 0; j < 4; ++j) out[j] = acc[i][h * 4 + j] + bias;
            if (p.vec_c && n + 3 < p.N) {
                float4* c4 = reinterpret_cast<float4*>(crow + n);
                if (p.beta != 0.0f) {
                    const float4 c = *c4;
                    out[0] = fmaf(p.beta, c.x, out[0]);
                    out[1] = fmaf(p.beta, c.y, out[1]);
                    out[2] = fmaf(p.beta, c.z, out[2]);
                    out[3] = fmaf(p.beta, c.w, out[3]);
                }
                *c4 = make_float4(out[0], out[1], out[2], out[3]);
            } else {
                for (int j = 0; j < 4; ++j) {
                    if (n + j >= p.N) break;
                    crow[n + j] = p.beta == 0.0f ? out[j] : fmaf(p.beta, crow[n + j], out[j]);
                }
            }
        }
    }
}

// The two panels of batch entry z.
__host__ __device__ __forceinline__ Panel panel_a(const Params& p, bool trans_a, int64_t z) {
    return Panel{p.A + z * p.stride_a, p.lda, p.M, p.K, !trans_a, p.vec_a};
}
__host__ __device__ __forceinline__ Panel panel_b(const Params& p, bool trans_b, int64_t z) {
    return Panel{p.B + z * p.stride_b, p.ldb, p.N, p.K, trans_b, p.vec_b};
}

}  // namespace fw::cuda::sgemm
