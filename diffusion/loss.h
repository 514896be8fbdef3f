// The training objectives, Eqs. 16-17 of DERIVATION.md.
//
//   Eq. 16  L_{t-1} = E[ lambda_t ||eps - eps_theta(sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, t)||^2 ],
//           lambda_t = beta_t^2 / (2 sigma_t^2 alpha_t (1 - alpha_bar_t))          lambda_t, weighted_eps_loss
//           (Eqs. 13-15: the KL between q's posterior and p_theta's step, from the means)
//   Eq. 16 + Eq. 19, the bound as a loss: T / (N D) sum_n L_{t_n - 1}(n), t_n ~ U{1..T}, with
//           L_{t-1} = lambda_t ||eps - eps_theta||^2 for t >= 2 and L_0 = -log p_theta(x_0 | x_1)  l_vlb
//   Eq. 17  L_simple = E_{t ~ U{1..T}, x_0, eps ~ N(0, I)}[ ||eps - eps_theta(x_t, t)||^2 ]  l_simple
//           Algorithm 1: draw t and eps, build x_t by Eq. 6, step on the gradient of L_simple.
//
// Shapes: x0, eps, eps_theta (N, C, H, W); t: N timesteps in 1..T.
#pragma once

#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "diffusion/eps_model.h"
#include "diffusion/posterior.h"
#include "diffusion/schedule.h"

namespace fw::diffusion {

// Eq. 16: lambda_t = beta_t^2 / (2 sigma_t^2 alpha_t (1 - alpha_bar_t)).
// Throws when sigma_t^2 = 0 (beta_tilde at t = 1: that term is the decoder L_0, not a KL).
double lambda_t(const Schedule& sch, int t, Sigma sigma);

// Eq. 16 on a batch: (1/N) sum_n lambda_{t_n} ||eps_n - eps_theta_n||^2, a 0-d tensor with
// autograd through eps_theta (eps is the target).
Tensor weighted_eps_loss(const Schedule& sch, const Tensor& eps, const Tensor& eps_theta, const std::vector<int>& t,
                         Sigma sigma);

// The bound's denoising and reconstruction terms as a training loss (`train_mnist --loss vlb`),
// in nats per dimension: for each sample, t_n >= 2 gives lambda_t ||eps_n - eps_theta_n||^2 (Eq. 16,
// L_{t-1} up to a constant that has no gradient), t_n = 1 gives L_0 = -log p_theta(x_0 | x_1)
// (Eq. 19, bound.h); the loss is T / (N D) times their sum, an unbiased estimate of
// (sum_{t>=2} L_{t-1} + L_0) / D for t ~ U{1..T}. L_0 is not made of differentiable ops: its value
// is computed by Eq. 19 on the host and its exact gradient dL_0/d eps_theta is attached through
// the linear surrogate L_0 + sum(g * (eps_theta - stop_gradient(eps_theta))).
// x0 must hold pixel levels k / 127.5 - 1 (the decoder's bins).
Tensor vlb_loss(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, const std::vector<int>& t,
                const Tensor& eps, Sigma sigma);
// vlb_loss with t and eps drawn as l_simple draws them (Algorithm 1).
Tensor l_vlb(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, Generator& gen, Sigma sigma,
             std::vector<int>* t_drawn = nullptr);

// Eq. 17 for given t and eps: builds x_t = q_sample(x0, t, eps) (Eq. 6) and returns
//   mse_loss(eps_theta(x_t, t), eps) = mean over all elements of (eps_theta - eps)^2,
// a 0-d tensor whose backward() reaches the parameters of eps_theta.
Tensor simple_loss(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, const std::vector<int>& t,
                   const Tensor& eps);

// Eq. 17, Algorithm 1: draws t_n ~ U{1..T} (one per sample) and eps ~ N(0, I) from gen, then
// simple_loss. If t_drawn is given it receives the drawn timesteps.
Tensor l_simple(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, Generator& gen,
                std::vector<int>* t_drawn = nullptr);

}  // namespace fw::diffusion
