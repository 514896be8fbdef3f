// Scalar reference group normalization (Wu & He, 2018).
//
// Shapes: x, y (N, C, HW); w, b (C); mean, rstd (N, G). Channels split into G groups of C/G;
// each (sample n, group g) is normalized over its M = (C/G) * HW values:
//   mu    = (1/M) sum x
//   var   = (1/M) sum (x - mu)^2              (biased, as PyTorch)
//   rstd  = 1 / sqrt(var + eps)
//   xhat  = (x - mu) * rstd
//   y     = xhat * w[c] + b[c]
// Backward (g = dL/dy; gh = g * w[c] = dL/dxhat; sums over the M values of the group):
//   db[c] += sum_{n,hw} g
//   dw[c] += sum_{n,hw} g * xhat
//   dx     = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))
// (the last line is d/dx of xhat with mu and rstd depending on x; it is what makes the gradient
// orthogonal to "shift all x of the group" and "scale all x of the group").
// Statistics are accumulated in double: var = E[(x-mu)^2] over up to ~50,000 floats.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/kernels/ref/ref.h"

namespace fw::ref {

void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        const GroupNormShape& s) {
    const int64_t cpg = s.C / s.G, M = cpg * s.HW;
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t g = 0; g < s.G; ++g) {
            const int64_t base = (n * s.C + g * cpg) * s.HW;  // the group is M contiguous floats
            double sum = 0.0;
            for (int64_t i = 0; i < M; ++i) sum += x[base + i];
            double mu = sum / M;
            double sq = 0.0;
            for (int64_t i = 0; i < M; ++i) sq += (x[base + i] - mu) * (x[base + i] - mu);
            double r = 1.0 / std::sqrt(sq / M + s.eps);
            mean[n * s.G + g] = (float)mu;
            rstd[n * s.G + g] = (float)r;
            for (int64_t c = g * cpg; c < (g + 1) * cpg; ++c) {
                const int64_t off = (n * s.C + c) * s.HW;
                for (int64_t i = 0; i < s.HW; ++i) {
                    float xhat = (float)((x[off + i] - mu) * r);
                    y[off + i] = xhat * w[c] + b[c];
                }
            }
        }
}

void group_norm_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* mean,
                         const float* rstd, const float* w, const GroupNormShape& s) {
    const int64_t cpg = s.C / s.G, M = cpg * s.HW;
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t g = 0; g < s.G; ++g) {
            const float mu = mean[n * s.G + g], r = rstd[n * s.G + g];
            double sum_gh = 0.0, sum_gh_xhat = 0.0;
            for (int64_t c = g * cpg; c < (g + 1) * cpg; ++c) {
                const int64_t off = (n * s.C + c) * s.HW;
                for (int64_t i = 0; i < s.HW; ++i) {
                    float xhat = (x[off + i] - mu) * r;
                    float gh = dy[off + i] * w[c];
                    sum_gh += gh;
                    sum_gh_xhat += gh * xhat;
                    if (db) db[c] += dy[off + i];
                    if (dw) dw[c] += dy[off + i] * xhat;
                }
            }
            if (!dx) continue;
            const float mean_gh = (float)(sum_gh / M), mean_gh_xhat = (float)(sum_gh_xhat / M);
            for (int64_t c = g * cpg; c < (g + 1) * cpg; ++c) {
                const int64_t off = (n * s.C + c) * s.HW;
                for (int64_t i = 0; i < s.HW; ++i) {
                    float xhat = (x[off + i] - mu) * r;
                    float gh = dy[off + i] * w[c];
                    dx[off + i] += r * (gh - mean_gh - xhat * mean_gh_xhat);
                }
            }
        }
}

// group_norm + SiLU, fused (the SIMD paths do it in one pass; here it is the plain composition),
// of x shifted per (sample, channel) first (shift (N, C) or null: none):
//   xs = x + shift[n, c],  z = group_norm(xs) = xhat w[c] + b[c],  y = silu(z) = z s(z)
// Backward: gz = dL/dz = g s(z) (1 + z (1 - s(z)))   (silu's derivative, activation_ref.cpp),
// then group_norm's backward above with gz in place of g, giving dL/dxs; dL/dx = dL/dxs and
// dshift[n, c] += sum_hw dL/dxs[n, c, hw] (the shift reaches every pixel of its channel).
// z is recomputed from xs, mean, rstd.

// xs = x + shift[n, c] as a new array (x itself when there is no shift)
static std::vector<float> shifted(const float* x, const float* shift, const GroupNormShape& s) {
    std::vector<float> xs(x, x + s.N * s.C * s.HW);
    if (shift)
        for (int64_t nc = 0; nc < s.N * s.C; ++nc)
            for (int64_t j = 0; j < s.HW; ++j) xs[nc * s.HW + j] += shift[nc];
    return xs;
}

void group_norm_silu_forward(float* y, float* mean, float* rstd, const float* x, const float* shift, const float* w,
                             const float* b, const GroupNormShape& s) {
    const std::vector<float> xs = shifted(x, shift, s);
    group_norm_forward(y, mean, rstd, xs.data(), w, b, s);  // y = z
    silu_forward(y, y, s.N * s.C * s.HW);                   // y = silu(z), elementwise in place
}

void group_norm_silu_backward(float* dx, float* dshift, float* dw, float* db, const float* dy, const float* x,
                              const float* shift, const float* mean, const float* rstd, const float* w, const float* b,
                              const GroupNormShape& s, GradWrite dx_write) {
    const int64_t cpg = s.C / s.G, n = s.N * s.C * s.HW;
    const std::vector<float> xs = shifted(x, shift, s);
    std::vector<float> z(n), gz(n, 0.0f), dxs(n, 0.0f);
    for (int64_t i = 0; i < s.N; ++i)
        for (int64_t c = 0; c < s.C; ++c) {
            const int64_t ng = i * s.G + c / cpg, off = (i * s.C + c) * s.HW;
            for (int64_t j = 0; j < s.HW; ++j) z[off + j] = (xs[off + j] - mean[ng]) * rstd[ng] * w[c] + b[c];
        }
    silu_backward(gz.data(), dy, z.data(), n);  // gz = dy s(z) (1 + z (1 - s(z)))
    group_norm_backward(dx || dshift ? dxs.data() : nullptr, dw, db, gz.data(), xs.data(), mean, rstd, w, s);
    if (dx)
        for (int64_t i = 0; i < n; ++i) dx[i] = dx_write == GradWrite::Overwrite ? dxs[i] : dx[i] + dxs[i];
    if (dshift)
        for (int64_t nc = 0; nc < s.N * s.C; ++nc) {
            double sum = 0.0;
            for (int64_t j = 0; j < s.HW; ++j) sum += dxs[nc * s.HW + j];
            dshift[nc] += (float)sum;
        }
}

}  // namespace fw::ref
