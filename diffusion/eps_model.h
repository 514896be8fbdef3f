// The denoiser, as diffusion/ sees it: a function from (x_t, t) to the predicted noise
// eps_theta(x_t, t), one timestep per sample. diffusion/ does not know (or include) what network
// computes it: a UNet from nn/, an "oracle" in a test, or a lambda in an example.
//   xt: (N, C, H, W);  t: N timesteps in 1..T;  returns eps_theta of xt's shape.
#pragma once

#include <functional>
#include <vector>

#include "core/tensor.h"

namespace fw::diffusion {

using EpsModel = std::function<Tensor(const Tensor& xt, const std::vector<int>& t)>;

}  // namespace fw::diffusion
