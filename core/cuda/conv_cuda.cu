// conv2d on the GPU as im2col + the SGEMM of core/cuda/gemm_cuda.cu, the formulation of the CPU
// path (core/kernels/simd/conv_gemm.h), with the same per-image products:
//
//   forward  y_n (Cout, P)  = W (Cout, K) col_n (K, P) + b        (bias added in the GEMM epilogue)
//   dX       dcol_n (K, P)  = W^T (K, Cout) dy_n (Cout, P);   dx_n += col2im(dcol_n)
//   dW       dW (Cout, K)  += sum_n dy_n (Cout, P) col_n^T (P, K)
//   db       db[o]         += sum_{n, p} dy[n, o, p]
//   K = Cin*KH*KW, P = OH*OW; im2col/col2im index math in core/cuda/conv_index.h.
//
// Images go in chunks: im2col writes the columns of a whole chunk into the workspace
// (fw::cuda::workspace, at most kWorkspaceBudget unless one image needs more), then ONE batched
// GEMM launch does every image of the chunk (grid.z = image), so even a 7x7 layer has enough
// blocks to fill the GPU.
//
// dW is a sum over images of small (Cout x K) products with a long reduction: as a single GEMM
// it would have only ceil(Cout/BM) * ceil(K/128) blocks (3 for a 32->32 3x3 conv). So each image
// of the chunk writes its own partial dW_n into the workspace (the batch is the split of the
// reduction), and a second kernel adds the partials to dw in image order: deterministic, no atomics.
//
// A 1x1, stride 1, unpadded conv needs no im2col (col_n is x_n itself): the GEMMs read x, y, dx
// directly, and dX accumulates straight into dx with beta = 1.
#include "core/cuda/gemm_cuda.h"

#include <algorithm>
#include <climits>

#include "core/cuda/backend.h"
#include "core/cuda/conv_index.h"
#include "core/cuda/kernels_cuda.h"  // axpy
#include "core/cuda/runtime.h"
#include "core/error.h"

namespace fw::cuda {
namespace {

constexpr int64_t kWorkspaceBudget = int64_t(64) << 20;  // bytes of scratch per conv call
constexpr int kThreads = 256;

bool is_pointwise(const ConvShape& s) { return s.KH == 1 && s.KW == 1 && s.stride == 1 && s.pad == 0; }

// col (images, K, P) from x (images, Cin, H, W). One thread per col element; consecutive
// threads take consecutive p, so the writes are coalesced (and at stride 1 the reads too).
__global__ void im2col_kernel(float* col, const float* x, ConvShape s, int images) {
    const int K = (int)(s.Cin * s.KH * s.KW), P = (int)(s.OH * s.OW), image = (int)(s.Cin * s.H * s.W);
    const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (int64_t)images * K * P) return;  // < 2^31: checked by the caller
    const int i = (int)idx, n = i / (K * P), kp = i % (K * P);
    const int src = im2col_source(s, kp / P, kp % P);
    col[i] = src < 0 ? 0.0f : x[(int64_t)n * image + src];
}

// dx (images, Cin, H, W) += col2im(dcol (images, K, P)). One thread per dx element, which
// gathers its (at most KH*KW) dcol entries: no two threads write the same element, no atomics.
__global__ void col2im_add_kernel(float* dx, const float* dcol, ConvShape s, int images) {
    const int K = (int)(s.Cin * s.KH * s.KW), P = (int)(s.OH * s.OW);
    const int H = (int)s.H, W = (int)s.W, image = (int)(s.Cin * s.H * s.W);
    const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (int64_t)images * image) return;  // < 2^31: checked by the caller
    const int i = (int)idx, n = i / image, r = i % image;
    const int c = r / (H * W), ih = (r / W) % H, iw = r % W;
    dx[i] += col2im_gather(s, dcol + (int64_t)n * K * P, c, ih, iw);
}

// db[o] += sum_{n, p} dy[n, o, p]. Block o; thread t sums p = t, t + 256, ... of every image,
// then a tree over the block's 256 partial sums (fixed order: deterministic).
__global__ void bias_grad_kernel(float* db, const float* dy, int64_t N, int64_t Cout, int64_t P) {
    __shared__ float part[kThreads];
    const int64_t o = blockIdx.x;
    const int t = threadIdx.x;
    float acc = 0.0f;
    for (int64_t n = 0; n < N; ++n) {
        const float* row = dy + (n * Cout + o) * P;  // dy[n, o, :]
        for (int64_t p = t; p < P; p += kThreads) acc += row[p];
    }
    part[t] = acc;
    __syncthreads();
    for (int half = kThreads / 2; half > 0; half /= 2) {
        if (t < half) part[t] += part[t + half];
        __syncthreads();
    }
    if (t == 0) db[o] += part[0];
}

// dw[i] += sum_{z < count} partial[z, i], z in order. One thread per dw element.
__global__ void add_partials_kernel(float* dw, const float* partial, int count, int64_t size) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= size) return;
    float acc = 0.0f;
    for (int z = 0; z < count; ++z) acc += partial[z * size + i];
    dw[i] += acc;
}

// Images per pass for `scratch` workspace floats per image. The index kernels count in int
// over a chunk (chunk * K*P and chunk * Cin*H*W elements): the budget keeps that below 2^31,
// except for a single image too large for it, which is refused.
int64_t chunk_for(const ConvShape& s, int64_t scratch) {
    const int64_t K = s.Cin * s.KH * s.KW, P = s.OH * s.OW, image = s.Cin * s.H * s.W;
    const int64_t chunk = images_per_chunk(s.N, std::max({scratch, K * P, image}), kWorkspaceBudget);
    if (chunk * std::max(K * P, image) >= INT_MAX)
        fail("cuda conv2d: one image of Cin=", s.Cin, " H=", s.H, " W=", s.W, " k=", s.KH, "x", s.KW,
             " needs more than 2^31 im2col elements");
    return chunk;
}

void im2col(float* col, const float* x, const ConvShape& s, int64_t images) {
    const int64_t total = images * s.Cin * s.KH * s.KW * s.OH * s.OW;
    if (total == 0) return;
    im2col_kernel<<<fw_cuda_blocks(total, kThreads), kThreads, 0, stream()>>>(col, x, s, (int)images);
    FW_CUDA_CHECK_LAUNCH("im2col_kernel");
}

void col2im_add(float* dx, const float* dcol, const ConvShape& s, int64_t images) {
    const int64_t total = images * s.Cin * s.H * s.W;
    if (total == 0) return;
    col2im_add_kernel<<<fw_cuda_blocks(total, kThreads), kThreads, 0, stream()>>>(dx, dcol, s, (int)images);
    FW_CUDA_CHECK_LAUNCH("col2im_add_kernel");
}

}  // namespace

void conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s) {
    const int64_t K = s.Cin * s.KH * s.KW, P = s.OH * s.OW, image = s.Cin * s.H * s.W;
    if (s.N == 0 || s.Cout == 0 || P == 0) return;
    if (is_pointwise(s)) {  // y_n = W x_n + b for all images in one launch
        gemm_strided_batched(false, false, s.Cout, P, K, w, K, 0, x, P, image, 0.0f, y, P, s.Cout * P, s.N, b);
        return;
    }
    const int64_t chunk = chunk_for(s, K * P);
    float* col = static_cast<float*>(workspace(chunk * K * P * sizeof(float)));
    for (int64_t n0 = 0; n0 < s.N; n0 += chunk) {
        const int64_t images = std::min(chunk, s.N - n0);
        im2col(col, x + n0 * image, s, images);
        // y_n (Cout, P) = W (Cout, K) col_n (K, P) + b, n = n0 .. n0 + images - 1
        gemm_strided_batched(false, false, s.Cout, P, K, w, K, 0, col, P, K * P, 0.0f, y + n0 * s.Cout * P, P,
                             s.Cout * P, images, b);
    }
}

void conv2d_forward_add(float* y, const float* x, const float* w, const float* b, const float* r, const ConvShape& s) {
    conv2d_forward(y, x, w, b, s);
    axpy(y, r, 1.0f, s.N * s.Cout * s.OH * s.OW);
}

void conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                     const ConvShape& s, GradWrite dx_write) {
    const int64_t K = s.Cin * s.KH * s.KW, P = s.OH * s.OW, image = s.Cin * s.H * s.W;
    if (dx && dx_write == GradWrite::Overwrite) fill(dx, 0.0f, s.N * image);  // then the passes below add
    if (s.N == 0 || s.Cout == 0 || P == 0) return;
    const bool pointwise = is_pointwise(s);

    // One workspace for both passes (it is valid until the next workspace() call):
    //   dW pass, per image: col_n (K*P, none when pointwise) + partial dW_n (Cout*K)
    //   dX pass, per image: dcol_n (K*P, none when pointwise)
    // Every chunk size (and its check) comes before the first launch: a shape refused changes no
    // gradient. The partials start on a 64-float boundary, so the dW GEMM stores them as float4.
    const int64_t scratch_w = (pointwise ? 0 : K * P) + s.Cout * K, scratch_x = pointwise ? 0 : K * P;
    const int64_t chunk_w = dw ? chunk_for(s, scratch_w) : 0, chunk_x = dx && !pointwise ? chunk_for(s, scratch_x) : 0;
    const int64_t cols_w = pointwise ? 0 : (chunk_w * K * P + 63) / 64 * 64;
    const int64_t bytes = std::max(cols_w + chunk_w * s.Cout * K, chunk_x * scratch_x) * sizeof(float);
    float* scratch = bytes ? static_cast<float*>(workspace(bytes)) : nullptr;

    if (db) {
        bias_grad_kernel<<<(unsigned)s.Cout, kThreads, 0, stream()>>>(db, dy, s.N, s.Cout, P);
        FW_CUDA_CHECK_LAUNCH("bias_grad_kernel");
    }

    if (dw && K > 0) {
        float* col = scratch;               // (chunk, K, P)
        float* partial = scratch + cols_w;  // (chunk, Cout, K)
        for (int64_t n0 = 0; n0 < s.N; n0 += chunk_w) {
            const int64_t images = std::min(chunk_w, s.N - n0);
            const float* cols = x + n0 * image;  // pointwise: col_n is x_n
            if (!pointwise) {
                im2col(col, cols, s, images);
                cols = col;
            }
            // partial_n (Cout, K) = dy_n (Cout, P) col_n^T (P, K); col_n stored (K, P) = trans_b
            gemm_strided_batched(false, true, s.Cout, K, P, dy + n0 * s.Cout * P, P, s.Cout * P, cols, P, K * P,
                                 0.0f, partial, K, s.Cout * K, images, nullptr);
            const int64_t size = s.Cout * K;
            add_partials_kernel<<<fw_cuda_blocks(size, kThreads), kThreads, 0, stream()>>>(dw, partial, (int)images,
                                                                                         size);
            FW_CUDA_CHECK_LAUNCH("add_partials_kernel");
        }
    }

    if (dx && K > 0) {
        // W stored (Cout, K) is op(A) = W^T (K, Cout) with trans_a, lda = K
        if (pointwise) {  // dx_n (Cin, P) += W^T dy_n, all images in one launch
            gemm_strided_batched(true, false, K, P, s.Cout, w, K, 0, dy, P, s.Cout * P, 1.0f, dx, P, image, s.N,
                                 nullptr);
            return;
        }
        float* dcol = scratch;  // (chunk, K, P)
        for (int64_t n0 = 0; n0 < s.N; n0 += chunk_x) {
            const int64_t images = std::min(chunk_x, s.N - n0);
            gemm_strided_batched(true, false, K, P, s.Cout, w, K, 0, dy + n0 * s.Cout * P, P, s.Cout * P, 0.0f, dcol,
                                 P, K * P, images, nullptr);
            col2im_add(dx + n0 * image, dcol, s, images);
        }
    }
}

}  // namespace fw::cuda
