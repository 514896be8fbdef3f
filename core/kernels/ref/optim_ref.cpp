// Scalar reference kernels for the optimizer and the EMA: in place, on a list of tensors (tensor j
// is n[j] floats).
// The equations are in nn/optim.h and nn/ema.h; nn/optim.cpp computes the AdamStep constants.
#include "core/kernels/ref/ref.h"

#include <cmath>

namespace fw::ref {

static void adam_one(float* p, const float* g_in, float* m, float* v, int64_t n, const AdamStep& s) {
    for (int64_t i = 0; i < n; ++i) {
        float g = g_in[i];
        if (s.weight_decay != 0.0f) {
            if (s.decoupled) p[i] *= 1.0f - s.lr * s.weight_decay;  // AdamW: p = p - lr wd p = p (1 - lr wd)
            else g += s.weight_decay * p[i];                        // Adam:  g = g + wd p
        }
        m[i] = s.beta1 * m[i] + (1.0f - s.beta1) * g;      // m = b1 m + (1 - b1) g
        v[i] = s.beta2 * v[i] + (1.0f - s.beta2) * g * g;  // v = b2 v + (1 - b2) g^2
        const float denom = std::sqrt(v[i]) / s.sqrt_bc2 + s.eps;  // sqrt(vhat) + eps
        p[i] -= s.step_size * m[i] / denom;                // p = p - lr mhat / (sqrt(vhat) + eps)
    }
}

void adam_update(float* const* p, const float* const* g, float* const* m, float* const* v, const int64_t* n,
                 int64_t count, const AdamStep& s) {
    for (int64_t j = 0; j < count; ++j) adam_one(p[j], g[j], m[j], v[j], n[j], s);
}

// shadow = d shadow + (1 - d) p
void ema_update(float* const* shadow, const float* const* p, const int64_t* n, int64_t count, float decay) {
    for (int64_t j = 0; j < count; ++j)
        for (int64_t i = 0; i < n[j]; ++i) shadow[j][i] = decay * shadow[j][i] + (1.0f - decay) * p[j][i];
}

// sum_j sum_i xs[j][i]^2, in double, tensor by tensor in index order
double sum_squares(const float* const* xs, const int64_t* ns, int64_t count) {
    double acc = 0.0;
    for (int64_t j = 0; j < count; ++j)
        for (int64_t i = 0; i < ns[j]; ++i) acc += (double)xs[j][i] * xs[j][i];
    return acc;
}

}  // namespace fw::ref
