// Sinusoidal timestep embedding; the formula is in nn/time_embedding.h.
#include "nn/time_embedding.h"

#include <cmath>

#include "core/error.h"

namespace fw::nn {

Tensor sinusoidal_embedding(const std::vector<int>& t, int dim) {
    if (dim < 2 || dim % 2 != 0) fail("sinusoidal_embedding: dim must be even and >= 2, got ", dim);
    if (t.empty()) fail("sinusoidal_embedding: no timesteps given");
    const int64_t N = (int64_t)t.size();
    const int half = dim / 2;
    Tensor emb = Tensor::empty({N, dim});
    float* e = emb.data();
    for (int i = 0; i < half; ++i) {
        // f_i = exp(-ln(10000) i / half), rounded to float as a float32 mirror would hold it
        const float f = (float)std::exp(-std::log(10000.0) * i / half);
        for (int64_t n = 0; n < N; ++n) {
            const float arg = (float)t[n] * f;                // t f_i, a float product
            e[n * dim + i] = (float)std::sin((double)arg);         // first half: sin
            e[n * dim + half + i] = (float)std::cos((double)arg);  // second half: cos
        }
    }
    return emb;
}

}  // namespace fw::nn
