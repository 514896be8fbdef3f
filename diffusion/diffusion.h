// DDPM, equation by equation (Ho, Jain, Abbeel 2020; the numbers are DERIVATION.md's).
//
// The forward process q adds a little Gaussian noise T times (schedule.h, forward_process.h):
//   Eq. 1   q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I), beta_1 < ... < beta_T
//   Eq. 2   so x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps_t: a differentiable sample
//   Eq. 3   name alpha_t = 1 - beta_t
//   Eq. 4   two steps at once carry two independent noises ...
//   Eq. 5   ... which merge into one, because the VARIANCES of independent Gaussians add
//   Eq. 6   and by induction x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, alpha_bar_t = prod alpha_s:
//           any x_t in one draw, no chain needed (q_sample, what training uses)
//   Eq. 7   alpha_bar_T ~ 4e-5, so x_T is N(0, I) whatever x_0 was: where sampling starts
// DDPM is a hierarchical VAE whose encoder is q (Eqs. 8-9); its ELBO (Eq. 10) is a sum of KLs
// between q's posterior and the learned reverse step (posterior.h):
//   Eq. 11  q(x_{t-1} | x_t, x_0) = N(mu_tilde_t, beta_tilde_t I): a Gaussian we can write down (Bayes)
//   Eq. 12  Eq. 6 solved for x_0: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)
//   Eq. 13  put into Eq. 11: mu_tilde_t = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t)
//   Eq. 14  so let the network predict eps: mu_theta = Eq. 13 with eps_theta; variance fixed at
//           sigma_t^2 = beta_t or beta_tilde_t
//   Eq. 15  two Gaussians with one variance: KL = ||mu1 - mu2||^2 / (2 sigma^2)
// and each KL becomes a weighted noise-prediction error (loss.h):
//   Eq. 16  L_{t-1} = lambda_t ||eps - eps_theta||^2, lambda_t = beta_t^2 / (2 sigma_t^2 alpha_t (1 - alpha_bar_t))
//   Eq. 17  drop lambda_t, draw t uniformly: L_simple = ||eps - eps_theta(x_t, t)||^2 (Algorithm 1)
// Sampling walks the learned chain back from noise (sampler.h):
//   Eq. 18  x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_t) + sigma_t z,
//           z = 0 at t = 1 (Algorithm 2)
//   Eq. 20  DDIM: jump along a shorter descending sequence of timesteps, deterministic at eta = 0
//   Eq. 21  the cosine schedule (schedule.h), an alternative to Eq. 1's linear betas
// The whole bound in numbers (bound.h):
//   Eqs. 8-9  log q(x_{1:T} | x_0) and log p_theta(x_{0:T}) of a sampled trajectory
//   Eq. 10    -log p(x_0) <= L_T + sum_{t=2..T} L_{t-1} + L_0, per image in nats (nll_bound)
//   Eq. 19    the discrete decoder p_theta(x_0 | x_1) over 256 pixel bins, and bits/dim
//
// Time is 1-indexed, t = 1..T; schedule tables have T+1 entries with alpha_bar[0] = 1.
// The denoiser comes in as an EpsModel (eps_model.h); this folder depends on core/ only.
#pragma once

#include "diffusion/bound.h"
#include "diffusion/edit.h"
#include "diffusion/eps_model.h"
#include "diffusion/forward_process.h"
#include "diffusion/guidance.h"
#include "diffusion/loss.h"
#include "diffusion/posterior.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
