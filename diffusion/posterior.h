// The forward posterior and the learned reverse step, Eqs. 11-15 of DERIVATION.md.
//
//   Eq. 11  q(x_{t-1} | x_t, x_0) = N(mu_tilde_t, beta_tilde_t I)
//           mu_tilde_t = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
//                      + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t
//           beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t         q_posterior_mean, q_posterior_variance
//   Eq. 12  x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)               predict_x0_from_eps
//   Eq. 13  mu_tilde_t = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t)  posterior_mean_from_eps
//   Eq. 14  mu_theta(x_t, t) = Eq. 13 with eps_theta(x_t, t) for eps;
//           Sigma = sigma_t^2 I,  sigma_t^2 = beta_t or beta_tilde_t                 mu_theta, sigma_squared
//   Eq. 15  KL(N(mu1, s^2 I) || N(mu2, s^2 I)) = ||mu1 - mu2||^2 / (2 s^2)            kl_same_variance
//           (the general per-dimension formula it specialises:                      gaussian_kl)
//
// Shapes: x0, xt, eps (N, C, H, W) or any (N, ...); t: N timesteps in 1..T.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "diffusion/eps_model.h"
#include "diffusion/schedule.h"

namespace fw::diffusion {

// Eq. 11: the mean mu_tilde_t of q(x_{t-1} | x_t, x_0).
Tensor q_posterior_mean(const Schedule& sch, const Tensor& x0, const Tensor& xt, const std::vector<int>& t);
// Eq. 11: the variance beta_tilde_t (0 at t = 1: x_0 is then known exactly).
double q_posterior_variance(const Schedule& sch, int t);

// Eq. 12: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)
Tensor predict_x0_from_eps(const Schedule& sch, const Tensor& xt, const std::vector<int>& t, const Tensor& eps);

// Eq. 13: mu_tilde_t = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t)
Tensor posterior_mean_from_eps(const Schedule& sch, const Tensor& xt, const std::vector<int>& t, const Tensor& eps);

// Eq. 14: the two fixed variances of Ho et al.
enum class Sigma {
    Beta,       // sigma_t^2 = beta_t         (optimal for x_0 ~ N(0, I))
    BetaTilde,  // sigma_t^2 = beta_tilde_t   (optimal for x_0 a single point)
};
double sigma_squared(const Schedule& sch, int t, Sigma sigma);
const char* sigma_name(Sigma sigma);  // "beta" / "beta_tilde"

// Eq. 14: mu_theta(x_t, t) = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_t)
// Calls eps_theta once on (xt, t).
Tensor mu_theta(const Schedule& sch, const EpsModel& eps_theta, const Tensor& xt, const std::vector<int>& t);

// Eq. 15: KL(N(mu1, s2 I) || N(mu2, s2 I)) = ||mu1 - mu2||^2 / (2 s2), summed over all of mu1
// (pass one sample's means for one KL). Computed in double from the float means.
double kl_same_variance(const Tensor& mu1, const Tensor& mu2, double s2);

// The general KL of two 1-d Gaussians (per dimension; sum over dimensions for diagonal ones):
//   KL(N(m1, v1) || N(m2, v2)) = 0.5 * (log(v2 / v1) + (v1 + (m1 - m2)^2) / v2 - 1)
double gaussian_kl(double m1, double v1, double m2, double v2);

}  // namespace fw::diffusion
