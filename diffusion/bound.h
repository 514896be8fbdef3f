// The whole bound: DDPM as a hierarchical VAE in numbers, Eqs. 8-10 and 19 of DERIVATION.md.
//
//   Eq. 8   q(x_{1:T} | x_0) = prod_t q(x_t | x_{t-1})                               log_q_chain
//   Eq. 9   p_theta(x_{0:T}) = p(x_T) prod_t p_theta(x_{t-1} | x_t), p(x_T) = N(0, I)   log_p_reverse
//   Eq. 10  -log p(x_0) <= L = L_T + sum_{t=2..T} L_{t-1} + L_0, in nats per image:
//           L_T     = KL(q(x_T | x_0) || N(0, I))                (the prior term, Eq. 7)   prior_term
//           L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t))
//                     (Eq. 11's posterior against Eq. 14's step, through Eq. 15)        denoising_term
//           L_0     = -log p_theta(x_0 | x_1)                    (Eq. 19)                  decoder_nll
//   Eq. 19  p_theta(x_0 | x_1) = prod_i int_{bin(x_0^i)} N(x; mu_theta(x_1, 1)^i, sigma_1^2) dx:
//           256 bins of width 2/255 centred on the pixel values (k / 127.5 - 1), the two edge
//           bins extended to -inf and +inf                          discretized_gaussian_log_likelihood
//   bits/dim = L / (D ln 2), D = pixels per image.
//
// The expectations over x_t are Monte-Carlo: one eps per image and t (as the original DDPM code's
// calc_bpd_loop). The sum over t is exact (all T terms, the default) or, for the denoising part, a
// Monte-Carlo estimate over K draws of t ~ U{2..T} per image: (T - 1) * mean of the K terms, with
// its standard error; L_0 and L_T are then still computed once each, exactly in t.
//
// Variances: p_theta's step has sigma_t^2 of Eq. 14 (Sigma::Beta or Sigma::BetaTilde). At t = 1
// beta_tilde_1 = 0, so the decoder uses decoder_variance(): for BetaTilde beta_tilde_2 (the original
// DDPM code's posterior_log_variance_clipped); for Beta sigma_1^2 = beta_1 as Eq. 14 says (the
// original code's "fixedlarge" uses beta_tilde_2 at t = 1 too, "to get a better decoder log
// likelihood"; we keep Eq. 14's beta_1).
//
// Shapes: x0 (N, C, H, W) with values on the 256 levels k / 127.5 - 1; t: N timesteps.
// Results are per image, in nats, in double.
#pragma once

#include <functional>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "diffusion/eps_model.h"
#include "diffusion/posterior.h"
#include "diffusion/schedule.h"

namespace fw::diffusion {

// --- Eq. 19: the discrete decoder ------------------------------------------------------------
// log P(bin of x | N(mean, sigma^2)) per element, in double: log(Phi(upper) - Phi(lower)) with
// upper/lower = (x +- 1/255 - mean) / sigma, Phi(+inf) = 1 for x = 1, Phi(-inf) = 0 for x = -1.
// Phi from std::erfc / std::erf (exact to double rounding), the difference taken where it does not
// cancel: in log space between upper tails when the bin lies above the mean, lower tails when
// below, erf(upper) - erf(lower) (two terms of one sign) when it straddles the mean. Tails too thin
// for erfc (|z| > 30) use the asymptotic series of the Mills ratio (relative error < 1e-13), so the
// result is finite and accurate however far x is from the mean (no floor).
// x: values on the 256 levels (checked: within 1e-4 of k / 127.5 - 1, else an error naming the
// index and value); mean: one per x; sigma > 0 is the standard deviation.
std::vector<double> discretized_gaussian_log_likelihood(const std::vector<float>& x, const std::vector<float>& mean,
                                                        double sigma);
// The decoder's variance sigma_1^2 (see above).
double decoder_variance(const Schedule& sch, Sigma sigma);

// --- Eq. 10: the terms, per image in nats ------------------------------------------------------
// L_T: KL(N(sqrt(alpha_bar_T) x_0, (1 - alpha_bar_T) I) || N(0, I)) (Eq. 7's prior term).
std::vector<double> prior_term(const Schedule& sch, const Tensor& x0);
// L_{t-1} for t >= 2 (one t per image): the KL between N(mu_tilde_t(x_0, x_t), beta_tilde_t I)
// (Eq. 11) and N(mu_theta(x_t, t), sigma_t^2 I) (Eq. 14), x_t = q_sample(x_0, t, eps) (Eq. 6);
// one call of eps_theta on the batch (under NoGradGuard). Both means in double from the float x_0,
// x_t and eps_theta. A t outside 2..T is an error (t = 1 is the decoder's term, decoder_nll).
std::vector<double> denoising_term(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0,
                                   const std::vector<int>& t, const Tensor& eps, Sigma sigma);
// L_0 = -log p_theta(x_0 | x_1), x_1 = q_sample(x_0, 1, eps): Eq. 19 with mean mu_theta(x_1, 1).
std::vector<double> decoder_nll(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, const Tensor& eps,
                                Sigma sigma);

// --- Eq. 10: the bound of a batch --------------------------------------------------------------
struct BoundOptions {
    Sigma sigma = Sigma::Beta;
    int mc_t = 0;  // 0: all T terms; K >= 2: K draws of t ~ U{2..T} per image for the denoising part
    // Called after each t (exact: total = T) or each draw (Monte-Carlo: total = K) with how many of
    // `total` are done.
    std::function<void(int64_t done, int64_t total)> on_progress;
};
struct BoundTerms {
    std::vector<double> prior, denoising, decoder;  // per image, nats: L_T, sum_{t>=2} L_{t-1}, L_0
    std::vector<double> denoising_se;               // per image: the Monte-Carlo standard error of
                                                    // `denoising` over t, (T - 1) * sd / sqrt(K)
                                                    // (0 when exact)
    std::vector<double> per_t;                      // exact only: T + 1 entries, [t] = the batch's
                                                    // mean of L_{t-1} (t >= 2), [1] = mean L_0, [0] = 0
    std::vector<double> total() const;              // per image: prior + denoising + decoder
};
// The bound for a batch of images x0 (N, C, H, W); gen draws every eps (and t when mc_t > 0).
// Exact: eps_theta is called T times on the batch (t = T..1); Monte-Carlo: K + 1 times. x0 is
// checked to be on the 256 levels before the first call.
BoundTerms nll_bound(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, Generator& gen,
                     const BoundOptions& opt = {});
// nats per image -> bits per dimension: nats / (D ln 2).
double bits_per_dim(double nats, int64_t dims);

// --- Eqs. 8 and 9: the joint log-densities of a sampled trajectory -----------------------------
// xs[0] = x_0, xs[t] = x_t for t = 1..T (each (N, ...)); per image, in nats (continuous densities;
// for x_0 the discrete decoder of Eq. 19 is used as p_theta(x_0 | x_1)).
// Eq. 8: log q(x_{1:T} | x_0) = sum_{t=1..T} log N(x_t; sqrt(alpha_t) x_{t-1}, beta_t I).
std::vector<double> log_q_chain(const Schedule& sch, const std::vector<Tensor>& xs);
// Eq. 9: log p_theta(x_{0:T}) = log N(x_T; 0, I) + sum_{t=2..T} log N(x_{t-1}; mu_theta(x_t, t), sigma_t^2 I)
//        + log p_theta(x_0 | x_1) (Eq. 19).
std::vector<double> log_p_reverse(const Schedule& sch, const EpsModel& eps_theta, const std::vector<Tensor>& xs,
                                  Sigma sigma);
// A trajectory of Eq. 8: x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) eps_t (Eq. 2), t = 1..T;
// returns T + 1 tensors, [0] = x0.
std::vector<Tensor> sample_chain(const Schedule& sch, const Tensor& x0, Generator& gen);

}  // namespace fw::diffusion
