// Sampling: the reverse process p_theta, Eq. 18 (DDPM, Algorithm 2) and Eq. 20 (DDIM).
//
//   Eq. 18  x_T ~ N(0, I);  for t = T..1:
//             x_{t-1} = (x_t - (1 - alpha_t) / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_t) + sigma_t z,
//             z ~ N(0, I) for t > 1,  z = 0 for t = 1                              ddpm_step, ddpm_sample
//   Eq. 20  x_{t'} = sqrt(alpha_bar_{t'}) x0_hat + sqrt(1 - alpha_bar_{t'} - s^2) eps_theta + s z,
//             x0_hat from Eq. 12, t' the next lower timestep of a descending sequence (alpha_bar_0 = 1
//             after the last), s = eta sqrt((1 - alpha_bar_{t'}) / (1 - alpha_bar_t)) sqrt(1 - alpha_bar_t / alpha_bar_{t'}).
//             eta = 0: deterministic; eta = 1 with every step: DDPM with sigma_t^2 = beta_tilde_t.
//                                                                                  ddim_timesteps, ddim_step, ddim_sample
//
// Both samplers run under fw::NoGradGuard. Shapes: x (N, C, H, W); the model is called with the
// same t for every sample.
#pragma once

#include <functional>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "diffusion/eps_model.h"
#include "diffusion/posterior.h"
#include "diffusion/schedule.h"

namespace fw::diffusion {

// Called once per reverse step with the step's timestep t, its input x_t and the model's
// prediction x0_hat of x_0 (Eq. 12, clipped if clip_x0), before x_{t-1} is made.
using StepCallback = std::function<void(int t, const Tensor& xt, const Tensor& x0_hat)>;

struct SampleOptions {
    Sigma sigma = Sigma::Beta;  // Eq. 14's sigma_t^2 for DDPM (ignored by DDIM, which uses eta)
    bool clip_x0 = false;       // clip x0_hat to [-1, 1] (the data range) before using it
    StepCallback on_step;       // optional
    Device device = Device::CPU;  // where ddpm_sample / ddim_sample draw x_T (the model's device)
};

// One step of Eq. 18 from x_t (t in 1..T) given the model's output eps and the noise z
// (z is ignored at t = 1). Without clipping this is Eq. 18 literally; with clip_x0 the mean is
// Eq. 11 from the clipped x0_hat (equal to Eq. 18's mean when nothing is clipped, by Eq. 13).
// x0_hat_out, if given, receives x0_hat.
Tensor ddpm_step(const Schedule& sch, const Tensor& xt, int t, const Tensor& eps, const Tensor& z,
                 const SampleOptions& opts, Tensor* x0_hat_out = nullptr);

// Algorithm 2: x_T ~ N(0, I) of `shape` from gen, then Eq. 18 for t = T..1; returns x_0.
Tensor ddpm_sample(const Schedule& sch, const EpsModel& eps_theta, const Shape& shape, Generator& gen,
                   const SampleOptions& opts = {});
// The same from a given x_T (gen draws only the z's).
Tensor ddpm_sample_from(const Schedule& sch, const EpsModel& eps_theta, const Tensor& xT, Generator& gen,
                        const SampleOptions& opts = {});

// DDIM's timesteps: `steps` values evenly spaced from T down to 1, rounded,
//   tau_i = round(T - i (T - 1) / (steps - 1)),  i = 0..steps-1   (steps = 1: just {T}),
// strictly decreasing for 1 <= steps <= T. The previous timestep of tau_i is tau_{i+1}, and 0
// (alpha_bar_0 = 1) after the last.
std::vector<int> ddim_timesteps(int T, int steps);
// The timestep DDIM steps to from tau[i]: tau[i + 1], or 0 after the last.
int ddim_prev_t(const std::vector<int>& tau, size_t i);

// One step of Eq. 20 from t to t_prev (0 <= t_prev < t) with the model's eps and noise z. With
// clip_x0 the step uses the clipped x0_hat and the eps that goes with it (Eq. 12 solved for eps).
Tensor ddim_step(const Schedule& sch, const Tensor& xt, int t, int t_prev, const Tensor& eps, double eta,
                 const Tensor& z, bool clip_x0, Tensor* x0_hat_out = nullptr);

// Eq. 20 over ddim_timesteps(T, steps), from x_T ~ N(0, I) (or a given x_T); returns x_0.
Tensor ddim_sample(const Schedule& sch, const EpsModel& eps_theta, const Shape& shape, Generator& gen, int steps,
                   double eta = 0.0, const SampleOptions& opts = {});
Tensor ddim_sample_from(const Schedule& sch, const EpsModel& eps_theta, const Tensor& xT, Generator& gen, int steps,
                        double eta = 0.0, const SampleOptions& opts = {});

// Clamps every element to [-1, 1] (a copy).
Tensor clip_to_unit(const Tensor& x);

// eps_theta(x_t, t) with the same t for every sample; an undefined result or one whose shape is
// not x_t's is an error naming `who` (the sampler or edit that called it), t and both shapes.
Tensor call_eps_model(const EpsModel& eps_theta, const Tensor& xt, int t, const char* who);

}  // namespace fw::diffusion
