// The forward (noising) process q, Eqs. 1-7 of DERIVATION.md.
//
//   Eq. 1  q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)          (the schedule: schedule.h)
//   Eq. 2  x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps_t                 q_step
//   Eq. 3  alpha_t = 1 - beta_t:  x_t = sqrt(alpha_t) x_{t-1} + sqrt(1 - alpha_t) eps_t
//   Eq. 4  two steps: x_t = sqrt(alpha_t alpha_{t-1}) x_{t-2}
//                         + sqrt(alpha_t (1 - alpha_{t-1})) eps_{t-1} + sqrt(1 - alpha_t) eps_t   q_two_steps
//   Eq. 5  independent N(0, s1^2) + N(0, s2^2) = N(0, s1^2 + s2^2): VARIANCES add, so
//          x_t = sqrt(alpha_t alpha_{t-1}) x_{t-2} + sqrt(1 - alpha_t alpha_{t-1}) eps_hat         q_two_steps_merged
//   Eq. 6  x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps                                 q_sample
//   Eq. 7  alpha_bar_T ~ 0, so q(x_T | x_0) ~ N(0, I) whatever x_0:  KL to N(0, I) ~ 0            prior_kl
//
// Shapes: x (N, C, H, W) (any shape with a leading batch axis for q_sample); eps like x.
// All functions are built from core ops, so they are differentiable in x (Eq. 2's point).
#pragma once

#include <vector>

#include "core/tensor.h"
#include "diffusion/schedule.h"

namespace fw::diffusion {

// Eq. 2 / Eq. 3: one noising step, t in 1..T, eps_t ~ N(0, I) of x_prev's shape.
//   x_t = sqrt(alpha_t) x_{t-1} + sqrt(1 - alpha_t) eps_t
Tensor q_step(const Schedule& sch, const Tensor& x_prev, int t, const Tensor& eps_t);

// Eq. 4: from x_{t-2} to x_t with the two step noises kept apart (t in 2..T).
Tensor q_two_steps(const Schedule& sch, const Tensor& x_prev2, int t, const Tensor& eps_prev, const Tensor& eps_t);

// Eq. 5: the standard deviation of the sum of independent N(0, s1^2) and N(0, s2^2):
//   sqrt(s1^2 + s2^2)   (variances add; s1 + s2 would be wrong)
double merged_std(double s1, double s2);

// Eq. 5 applied to Eq. 4: one noise eps_hat ~ N(0, I) instead of two (t in 2..T).
//   x_t = sqrt(alpha_t alpha_{t-1}) x_{t-2} + sqrt(1 - alpha_t alpha_{t-1}) eps_hat
Tensor q_two_steps_merged(const Schedule& sch, const Tensor& x_prev2, int t, const Tensor& eps_hat);

// Eq. 6: the closed form q(x_t | x_0), one timestep per sample.
//   x0, eps: (N, ...);  t: N timesteps in 1..T
//   x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
Tensor q_sample(const Schedule& sch, const Tensor& x0, const std::vector<int>& t, const Tensor& eps);

// Eq. 7 (the prior matching term of Eq. 10): KL(q(x_T | x_0) || N(0, I)) summed over all
// elements of x0, with q(x_T | x_0) = N(sqrt(alpha_bar_T) x_0, (1 - alpha_bar_T) I) (Eq. 6).
// Per element (Eq. 15's general form against N(0, 1)):
//   0.5 * (v + m^2 - 1 - log v),  m = sqrt(alpha_bar_T) x_0,  v = 1 - alpha_bar_T
double prior_kl(const Schedule& sch, const Tensor& x0);

}  // namespace fw::diffusion
