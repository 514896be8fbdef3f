// Index math of the CUDA convolution (core/cuda/conv_cuda.cu), as __host__ __device__ functions
// so that tests/cuda/test_gemm_conv_cuda.cpp can check it on the CPU against the reference conv.
//
// im2col turns one image x_n (Cin, H, W) into col_n (K, P), K = Cin*KH*KW, P = OH*OW:
//   col_n[k, p] = x_n[c, oh*stride + kh - pad, ow*stride + kw - pad]   (0 outside the image)
//   with k = (c*KH + kh)*KW + kw  and  p = oh*OW + ow.
// col2im is its adjoint: dx_n[c, ih, iw] += every dcol_n[k, p] whose col entry was copied from
// (c, ih, iw). Written as a gather (one GPU thread per dx element, no atomics): for each (kh, kw),
//   ih = oh*stride + kh - pad  <=>  oh = (ih + pad - kh) / stride, when that divides exactly
//   and 0 <= oh < OH (likewise ow).
// Indices inside one image are int: the callers check that Cin*H*W and K*P fit.
#pragma once

#include <algorithm>
#include <cstdint>

#include <cuda_runtime.h>  // __host__ __device__

#include "core/kernels/kernels.h"

namespace fw::cuda {

// Offset inside image x_n (Cin, H, W) that col_n[k, p] copies, or -1 where it reads padding.
__host__ __device__ inline int im2col_source(const ConvShape& s, int k, int p) {
    const int KH = (int)s.KH, KW = (int)s.KW, OW = (int)s.OW;
    const int kw = k % KW, kh = (k / KW) % KH, c = k / (KW * KH);
    const int ow = p % OW, oh = p / OW;
    const int ih = oh * (int)s.stride + kh - (int)s.pad, iw = ow * (int)s.stride + kw - (int)s.pad;
    if (ih < 0 || ih >= (int)s.H || iw < 0 || iw >= (int)s.W) return -1;
    return (c * (int)s.H + ih) * (int)s.W + iw;
}

// sum of the dcol_n (K, P) entries that im2col copied from x_n[c, ih, iw], in (kh, kw) order.
__host__ __device__ inline float col2im_gather(const ConvShape& s, const float* dcol, int c, int ih, int iw) {
    const int KH = (int)s.KH, KW = (int)s.KW, OH = (int)s.OH, OW = (int)s.OW, stride = (int)s.stride;
    const int P = OH * OW;
    float sum = 0.0f;
    for (int kh = 0; kh < KH; ++kh) {
        const int th = ih + (int)s.pad - kh;  // = oh * stride
        if (th < 0 || th % stride != 0 || th / stride >= OH) continue;
        const int oh = th / stride;
        for (int kw = 0; kw < KW; ++kw) {
            const int tw = iw + (int)s.pad - kw;  // = ow * stride
            if (tw < 0 || tw % stride != 0 || tw / stride >= OW) continue;
            const int ow = tw / stride;
            sum += dcol[(int64_t)((c * KH + kh) * KW + kw) * P + oh * OW + ow];
        }
    }
    return sum;
}

// How many images one pass handles so that its scratch (floats_per_image each) stays within
// budget_bytes: at least 1 (a single huge image gets what it needs), at most N, and at most
// 65535 (the grid.z limit the batched GEMM would otherwise split anyway).
inline int64_t images_per_chunk(int64_t N, int64_t floats_per_image, int64_t budget_bytes) {
    const int64_t bytes = std::max<int64_t>(1, floats_per_image) * (int64_t)sizeof(float);
    return std::max<int64_t>(1, std::min<int64_t>({N, budget_bytes / bytes, 65535}));
}

}  // namespace fw::cuda
