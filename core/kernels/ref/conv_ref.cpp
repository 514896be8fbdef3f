// Scalar reference conv2d (cross-correlation, as every deep-learning framework defines it).
//
// Shapes: x (N, Cin, H, W), w (Cout, Cin, KH, KW), b (Cout) or null, y (N, Cout, OH, OW),
//   OH = (H + 2 pad - KH) / stride + 1,  OW = (W + 2 pad - KW) / stride + 1.
// Forward:
//   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] * x[n, c, i*stride + p - pad, j*stride + q - pad]
// (terms whose x index falls outside the image read zero padding).
// Backward, from the same sum: each product w*x contributed to one y, so
//   dx[n,c,ih,iw] += dy[n,o,i,j] * w[o,c,p,q]   for every (o,i,j,p,q) that read x[n,c,ih,iw]
//   dw[o,c,p,q]   += dy[n,o,i,j] * x[n,c,ih,iw]
//   db[o]         += dy[n,o,i,j]
// Written as one loop nest over the forward's terms, so forward and backward visibly match.
#include <algorithm>

#include "core/kernels/ref/ref.h"

namespace fw::ref {

void conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s) {
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t o = 0; o < s.Cout; ++o)
            for (int64_t i = 0; i < s.OH; ++i)
                for (int64_t j = 0; j < s.OW; ++j) {
                    float acc = b ? b[o] : 0.0f;
                    for (int64_t c = 0; c < s.Cin; ++c)
                        for (int64_t p = 0; p < s.KH; ++p) {
                            int64_t ih = i * s.stride + p - s.pad;
                            if (ih < 0 || ih >= s.H) continue;  // zero padding
                            for (int64_t q = 0; q < s.KW; ++q) {
                                int64_t iw = j * s.stride + q - s.pad;
                                if (iw < 0 || iw >= s.W) continue;
                                acc += w[((o * s.Cin + c) * s.KH + p) * s.KW + q] * x[((n * s.Cin + c) * s.H + ih) * s.W + iw];
                            }
                        }
                    y[((n * s.Cout + o) * s.OH + i) * s.OW + j] = acc;
                }
}

// y = conv2d_forward's y + r (r like y): the conv, then y[i] += r[i]
void conv2d_forward_add(float* y, const float* x, const float* w, const float* b, const float* r, const ConvShape& s) {
    conv2d_forward(y, x, w, b, s);
    const int64_t n = s.N * s.Cout * s.OH * s.OW;
    for (int64_t i = 0; i < n; ++i) y[i] += r[i];
}

void conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                     const ConvShape& s, GradWrite dx_write) {
    if (dx && dx_write == GradWrite::Overwrite) std::fill(dx, dx + s.N * s.Cin * s.H * s.W, 0.0f);  // then add
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t o = 0; o < s.Cout; ++o)
            for (int64_t i = 0; i < s.OH; ++i)
                for (int64_t j = 0; j < s.OW; ++j) {
                    float g = dy[((n * s.Cout + o) * s.OH + i) * s.OW + j];
                    if (db) db[o] += g;
                    for (int64_t c = 0; c < s.Cin; ++c)
                        for (int64_t p = 0; p < s.KH; ++p) {
                            int64_t ih = i * s.stride + p - s.pad;
                            if (ih < 0 || ih >= s.H) continue;
                            for (int64_t q = 0; q < s.KW; ++q) {
                                int64_t iw = j * s.stride + q - s.pad;
                                if (iw < 0 || iw >= s.W) continue;
                                int64_t xi = ((n * s.Cin + c) * s.H + ih) * s.W + iw;
                                int64_t wi = ((o * s.Cin + c) * s.KH + p) * s.KW + q;
                                if (dx) dx[xi] += g * w[wi];
                                if (dw) dw[wi] += g * x[xi];
                            }
                        }
                }
}

}  // namespace fw::ref
