// Sinusoidal timestep embedding (Vaswani et al. 2017, as used by DDPM's UNet).
//
// For an integer timestep t and an even dimension D, half = D / 2:
//   f_i    = exp(-ln(10000) * i / half),                      i = 0 .. half-1
//   emb(t) = [sin(t f_0), ..., sin(t f_{half-1}), cos(t f_0), ..., cos(t f_{half-1})]
// (sin first, then cos; NOT interleaved). For UNet-S, D = 32, half = 16.
//
// Float details, so a PyTorch mirror computing `freqs = torch.exp(-math.log(10000) *
// torch.arange(16) / 16)` in float32 and `args = t.float()[:, None] * freqs[None]` agrees to
// ~1 ulp: f_i is rounded to float, the argument t * f_i is a float product, and sin/cos are
// evaluated in double on that float argument and rounded once.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace fw::nn {

// t: N timesteps  ->  (N, dim), no autograd (a constant input to the time MLP).
Tensor sinusoidal_embedding(const std::vector<int>& t, int dim);

}  // namespace fw::nn
