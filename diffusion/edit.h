// Editing with a trained denoiser: inpainting (Eqs. 2, 6, 18), DDIM inversion and interpolation
// (Eq. 20 run backwards, then forwards).
//
//   Inpainting by replacement (RePaint, Lugmayr et al. 2022, without its resampling = the
//   "replacement" method of Song et al.): m = mask (1 = known pixel, 0 = to fill).
//     x_T ~ N(0, I);  for t = T..1:
//       x_t     <- m * x_t^known + (1 - m) * x_t,   x_t^known = sqrt(alpha_bar_t) x_known + sqrt(1 - alpha_bar_t) eps   (Eq. 6)
//       x_{t-1} <- Eq. 18 (ddpm_step) from x_t
//     x_0 <- m * x_known + (1 - m) * x_0
//   With resampling (jumps J >= 1, jump_length L): on the way down, on reaching certain levels the
//   whole x goes back up L levels by Eq. 2 (q_step: x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) eps_t)
//   and comes down again (replacing at each level as above), J times per level: repaint_schedule.
//
//   DDIM inversion (Song, Meng, Ermon 2021: Sec. 4.3, DDIM as an ODE that can also encode x_0 into
//   x_T; Sec. 5.4, reconstruction from the latent): Eq. 20 at eta = 0,
//     x_{t'} = sqrt(alpha_bar_{t'}) x0_hat + sqrt(1 - alpha_bar_{t'}) eps_theta(x_t, t),
//     x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_bar_t)             (Eq. 12),
//   solved for x_t given x_{t'} (t' < t) is
//     x_t = sqrt(alpha_bar_t) x0_hat' + sqrt(1 - alpha_bar_t) eps_theta(x_t, t),
//     x0_hat' = (x_{t'} - sqrt(1 - alpha_bar_{t'}) eps_theta(x_t, t)) / sqrt(alpha_bar_{t'}),
//   implicit in x_t. The standard approximation replaces eps_theta(x_t, t) by eps_theta(x_{t'}, t):
//   the model at the current (lower-noise) point, with the target timestep t. Exact when eps_theta
//   does not change with x between x_{t'} and x_t; otherwise each step is first-order accurate (an
//   Euler step of the ODE that x_t / sqrt(alpha_bar_t) follows), and inverting then decoding misses
//   x_0 by O(1/steps) (tests/test_diffusion_edit.cpp measures about 3 max |x_0 - mu| / steps on
//   Gaussian data).
//
//   Interpolation (the DDIM paper's Sec. 5.3): invert two images to x_T^a, x_T^b, walk the great
//   circle between them (slerp: x_T ~ N(0, I) lives near the sphere of radius sqrt(D), where a
//   straight line would cut inside) and decode each point with DDIM (eta = 0, ddim_sample_from).
//
// Shapes: x (N, C, H, W) (any (N, ...) for slerp); masks (N, C, H, W) or (1, C, H, W). Everything
// runs through fw ops on x's device under fw::NoGradGuard; the mask and the per-sample slerp
// angles are read on the host.
#pragma once

#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "diffusion/eps_model.h"
#include "diffusion/posterior.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"

namespace fw::diffusion {

struct InpaintOptions {
    Sigma sigma = Sigma::Beta;  // Eq. 14's sigma_t^2 for the DDPM steps
    bool clip_x0 = false;       // clip x0_hat to [-1, 1] before the posterior mean (as SampleOptions)
    int jumps = 0;              // J: RePaint resampling, how many times each jump point goes back up (0: none)
    int jump_length = 10;       // L: how many levels each jump goes back up (1..T-1 when jumps > 0)
    StepCallback on_step;       // optional; called on every reverse step (t, x_t after replacement, x0_hat)
};

// RePaint's schedule (get_schedule_jump in Lugmayr et al.'s code, written with 1-indexed levels):
// the levels of x visited, from T down to 0. levels[k] -> levels[k+1] is either
//   down (levels[k+1] = levels[k] - 1): a reverse step, Eq. 18, with the model at t = levels[k], or
//   up   (levels[k+1] = levels[k] + 1): a forward step, Eq. 2, q_step at t = levels[k+1].
// Jump points are the levels l = 1 + k L (k = 0, 1, ...) with l + L <= T. Each time the walk
// comes down onto a jump point that has jumps left, it goes up L levels and comes down again;
// each jump point does this J times, so the walk makes T + 2 J L P steps (P jump points), and each
// stretch (l, l + L] is denoised J + 1 times. J = 0: T, T-1, ..., 0 (plain Algorithm 2).
// Throws unless T >= 1, J >= 0, and (J = 0 or 1 <= L <= T - 1).
std::vector<int> repaint_schedule(int T, int jumps, int jump_length);

// Inpainting by replacement, Algorithm 2 (Eq. 18) with the known region of every x_t replaced by
// Eq. 6 of x_known (a fresh eps each time), and the walk of repaint_schedule.
//   x_known: (N, C, H, W), every value in [-1, 1] (the unknown region's values are not used, but
//            must be in range too);  mask: (N, C, H, W) or (1, C, H, W), every value exactly 0 or 1
//            (refused otherwise, not thresholded), on x_known's device.
// x_T ~ N(0, I) is drawn from gen on x_known's device; gen also draws every eps and z.
// The result's known pixels are x_known's: 1 * x_known + 0 * x_0 in float (equal as floats; a
// -0.0 in x_known may come back +0.0, and a non-finite x_0 from a diverging model would spoil it).
Tensor inpaint_sample(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x_known, const Tensor& mask,
                      Generator& gen, const InpaintOptions& opts = {});

// DDIM inversion, Eq. 20 at eta = 0 run backwards along ddim_timesteps(T, steps) reversed:
// 0 -> tau_{steps-1} -> ... -> tau_0 = T, each step with eps_theta(x_{t'}, t) (the approximation
// above). x0: (N, C, H, W); returns x_T of its shape. steps in 1..T. on_step, if given, is called
// with (t, x_{t'}, x0_hat') for each step t' -> t.
Tensor ddim_invert(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, int steps,
                   const StepCallback& on_step = {});

// Spherical interpolation per sample n over all its non-batch elements:
//   theta_n = arccos(<a_n, b_n> / (|a_n| |b_n|)),
//   slerp = sin((1 - alpha) theta_n) / sin(theta_n) a_n + sin(alpha theta_n) / sin(theta_n) b_n.
// alpha in [0, 1]: alpha = 0 gives a and 1 gives b exactly. Where sin(theta_n) < 1e-6 with the
// vectors parallel (or one of them 0), the straight line (1 - alpha) a_n + alpha b_n (the limit).
// Throws for antiparallel samples (no unique great circle), shapes that differ, alpha out of range.
Tensor slerp(const Tensor& a, const Tensor& b, double alpha);

// Interpolation through DDIM's latent: x_T^a = ddim_invert(x0_a), x_T^b = ddim_invert(x0_b), then
// for each alpha, ddim_sample_from(slerp(x_T^a, x_T^b, alpha)) with eta = 0 (no randomness).
// x0_a, x0_b: (N, C, H, W) alike; every alpha in [0, 1]; steps in 1..T (both directions).
// Returns one (N, C, H, W) tensor per alpha, in order. clip_x0 applies to decoding only.
std::vector<Tensor> ddim_interpolate(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0_a,
                                     const Tensor& x0_b, const std::vector<double>& alphas, int steps,
                                     bool clip_x0 = false);

}  // namespace fw::diffusion
