#include "diffusion/bound.h"

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "diffusion/forward_process.h"

namespace fw::diffusion {

namespace {

constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kLog2Pi = 1.83787706640934548356;  // log(2 pi)
constexpr double kInf = std::numeric_limits<double>::infinity();

// --- Eq. 19's pieces ---------------------------------------------------------------------------

// The pixel level k of x (x = k / 127.5 - 1, k = 0..255), or -1 when x is off the levels by more
// than 1e-4 (a float level is off by < 1e-7).
int level_of(float x) {
    const double k = std::round(((double)x + 1.0) * 127.5);
    if (!(k >= 0.0 && k <= 255.0)) return -1;  // also NaN
    return std::fabs((double)x - (k / 127.5 - 1.0)) <= 1e-4 ? (int)k : -1;
}

std::vector<int> levels_of(const std::vector<float>& x, const char* who, const char* what) {
    std::vector<int> k(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        k[i] = level_of(x[i]);
        if (k[i] < 0)
            fail(who, ": ", what, "[", i, "] = ", x[i],
                 " is not one of the 256 levels k / 127.5 - 1 (k = 0..255, within 1e-4)");
    }
    return k;
}

// log Q(z) = log P(Z > z), Z ~ N(0, 1), for z >= 0, where Q(z) = 0.5 erfc(z / sqrt 2). For z > 30
// (Q < 5e-198, where erfc approaches the end of double's range) the Mills-ratio series
//   Q(z) = phi(z) / z * (1 - 1/z^2 + 3/z^4 - 15/z^6 + 105/z^8 - 945/z^10 + ...)
// whose first omitted term is 10395 / z^12 < 2e-14 at z = 30.
double log_upper_tail(double z) {
    if (z == kInf) return -kInf;
    if (z <= 30.0) return std::log(0.5 * std::erfc(z / kSqrt2));
    const double r = 1.0 / (z * z);
    const double series = 1.0 + r * (-1.0 + r * (3.0 + r * (-15.0 + r * (105.0 + r * -945.0))));
    return -0.5 * z * z - std::log(z) - 0.5 * kLog2Pi + std::log(series);
}

// log(Q(a) - Q(b)) for 0 <= a < b <= inf: the mass of [a, b] from its upper tails, in log space
// so that neither the subtraction nor an underflow of Q loses it.
double log_tail_difference(double a, double b) {
    const double log_qa = log_upper_tail(a);
    if (b == kInf) return log_qa;
    return log_qa + std::log(-std::expm1(log_upper_tail(b) - log_qa));  // log Q(a) + log(1 - Q(b) / Q(a))
}

// log P(lo < Z < hi), Z ~ N(0, 1), -inf <= lo < hi <= inf: Phi(hi) - Phi(lo) on the side of 0
// where it does not cancel.
double log_normal_interval(double lo, double hi) {
    if (lo >= 0.0) return log_tail_difference(lo, hi);    // above the mean: Q(lo) - Q(hi)
    if (hi <= 0.0) return log_tail_difference(-hi, -lo);  // below: Phi(hi) - Phi(lo) = Q(-hi) - Q(-lo)
    // straddles the mean: erf(hi) >= 0 and -erf(lo) > 0, a sum of two non-negative terms
    return std::log(0.5 * (std::erf(hi / kSqrt2) - std::erf(lo / kSqrt2)));
}

// Eq. 19 per element with double means: log int_{bin(x)} N(y; mean, sigma^2) dy.
std::vector<double> discretized_log_likelihood(const std::vector<int>& k, const std::vector<double>& mean,
                                               double sigma) {
    std::vector<double> out(k.size());
    for (size_t i = 0; i < k.size(); ++i) {
        const double x = k[i] / 127.5 - 1.0;
        // Eq. 19: the bin of x is [x - 1/255, x + 1/255], extended to -inf at x = -1 and +inf at x = 1
        const double lower = k[i] == 0 ? -kInf : (x - 1.0 / 255.0 - mean[i]) / sigma;
        const double upper = k[i] == 255 ? kInf : (x + 1.0 / 255.0 - mean[i]) / sigma;
        out[i] = log_normal_interval(lower, upper);  // Eq. 19: log(Phi(upper) - Phi(lower))
    }
    return out;
}

// --- batch helpers -----------------------------------------------------------------------------

void check_batch(const Tensor& x0, const char* who) {
    check_defined(x0, who, "x0");
    if (x0.dim() < 1 || x0.size(0) < 1) fail(who, ": x0 needs a non-empty batch axis, got ", to_string(x0.shape()));
}

// eps_theta(x_t, t) without a graph, checked to have x_t's shape; on the host.
std::vector<float> call_eps_theta(const EpsModel& eps_theta, const Tensor& xt, const std::vector<int>& t,
                                  const char* who) {
    if (!eps_theta) fail(who, ": eps_theta is an empty function");
    NoGradGuard no_grad;
    Tensor eps = eps_theta(xt, t);
    if (!eps.defined() || eps.shape() != xt.shape())
        fail(who, ": eps_theta returned ", eps.defined() ? to_string(eps.shape()) : std::string("an undefined tensor"),
             " for x_t of shape ", to_string(xt.shape()));
    return eps.to_vector();
}

// Eq. 14 in double per element: mu_theta = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_t),
// image n of `per` elements at t[n].
std::vector<double> mu_theta_host(const Schedule& sch, const std::vector<float>& xt, const std::vector<float>& eps_hat,
                                  const std::vector<int>& t, int64_t per) {
    std::vector<double> mu(xt.size());
    for (size_t n = 0; n < t.size(); ++n) {
        const int tn = t[n];
        for (int64_t i = 0; i < per; ++i) {
            const size_t j = n * (size_t)per + (size_t)i;
            // Eq. 14: mu_theta(x_t, t) = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_t)
            mu[j] = sch.sqrt_recip_alpha[tn] * ((double)xt[j] - sch.eps_coef[tn] * (double)eps_hat[j]);
        }
    }
    return mu;
}

double batch_mean(const std::vector<double>& v) {
    double s = 0.0;
    for (double x : v) s += x;
    return s / (double)v.size();
}

// log N(x; m, v) of one element: -0.5 ((x - m)^2 / v + log(2 pi v))
double log_normal(double x, double m, double v) { return -0.5 * ((x - m) * (x - m) / v + kLog2Pi + std::log(v)); }

void check_chain(const Schedule& sch, const std::vector<Tensor>& xs, const char* who) {
    if ((int)xs.size() != sch.T + 1)
        fail(who, ": got ", xs.size(), " tensors, need T + 1 = ", sch.T + 1, " (x_0, x_1, ..., x_T)");
    check_batch(xs[0], who);
    for (size_t t = 1; t < xs.size(); ++t) {
        check_defined(xs[t], who, "xs[t]");
        if (xs[t].shape() != xs[0].shape())
            fail(who, ": xs[", t, "] has shape ", to_string(xs[t].shape()), " but x_0 has ", to_string(xs[0].shape()));
    }
}

}  // namespace

// ============================================================================================
// Eq. 19: the discrete decoder
// ============================================================================================

std::vector<double> discretized_gaussian_log_likelihood(const std::vector<float>& x, const std::vector<float>& mean,
                                                        double sigma) {
    const char* who = "discretized_gaussian_log_likelihood";
    if (x.size() != mean.size()) fail(who, ": ", x.size(), " values of x but ", mean.size(), " means");
    if (!(sigma > 0.0 && std::isfinite(sigma))) fail(who, ": sigma = ", sigma, " must be finite and > 0");
    const std::vector<int> k = levels_of(x, who, "x");
    return discretized_log_likelihood(k, std::vector<double>(mean.begin(), mean.end()), sigma);
}

double decoder_variance(const Schedule& sch, Sigma sigma) {
    if (sch.T < 1) fail("decoder_variance: empty schedule (T = ", sch.T, ")");
    if (sigma == Sigma::Beta) return sch.beta[1];  // Eq. 14: sigma_1^2 = beta_1
    if (sch.T < 2) fail("decoder_variance: Sigma::BetaTilde needs T >= 2 (beta_tilde_1 = 0 is replaced by beta_tilde_2)");
    return sch.beta_tilde[2];  // beta_tilde_1 = 0: clipped to beta_tilde_2 (the original code's choice)
}

// ============================================================================================
// Eq. 10: the terms
// ============================================================================================

std::vector<double> prior_term(const Schedule& sch, const Tensor& x0) {
    check_batch(x0, "prior_term");
    const int64_t N = x0.size(0), per = x0.numel() / N;
    const std::vector<float> x = x0.to_vector();
    const double alpha_bar_T = sch.alpha_bar[sch.T];
    // Eq. 7 per element, KL(N(m, v) || N(0, 1)) = 0.5 (v + m^2 - 1 - log v), m = sqrt(alpha_bar_T) x_0,
    // v = 1 - alpha_bar_T; written with v - 1 = -alpha_bar_T and log v = log1p(-alpha_bar_T), which
    // keeps the tiny variance part (~ alpha_bar_T^2 / 4 = 4e-10) to double precision.
    const double variance_part = 0.5 * (-alpha_bar_T - std::log1p(-alpha_bar_T));
    std::vector<double> kl((size_t)N, 0.0);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < per; ++i) {
            const double x0i = x[(size_t)(n * per + i)];
            kl[(size_t)n] += 0.5 * alpha_bar_T * x0i * x0i + variance_part;  // Eq. 7: 0.5 m^2 + the variance part
        }
    return kl;
}

// denoising_term with x_0 already on the host (nll_bound calls it T - 1 times with one x_0).
static std::vector<double> denoising_term_host(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0,
                                               const std::vector<float>& x0h, const std::vector<int>& t,
                                               const Tensor& eps, Sigma sigma) {
    const char* who = "denoising_term";
    const int64_t N = x0.size(0), per = x0.numel() / N;
    if ((int64_t)t.size() != N) fail(who, ": got ", t.size(), " timesteps for a batch of ", N);
    for (int64_t n = 0; n < N; ++n)
        if (t[(size_t)n] < 2 || t[(size_t)n] > sch.T)
            fail(who, ": t = ", t[(size_t)n], " (image ", n, ") out of range 2..T (T = ", sch.T,
                 "): L_{t-1} is a KL for t >= 2; t = 1 is the decoder's term L_0 (decoder_nll)");
    NoGradGuard no_grad;
    const Tensor xt = q_sample(sch, x0, t, eps);  // Eq. 6: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
    const std::vector<float> xth = xt.to_vector();
    const std::vector<double> mu = mu_theta_host(sch, xth, call_eps_theta(eps_theta, xt, t, who), t, per);  // Eq. 14
    std::vector<double> L((size_t)N, 0.0);
    int last_t = -1;
    double s2 = 0.0, variance_part = 0.0;
    for (int64_t n = 0; n < N; ++n) {
        const int tn = t[(size_t)n];
        if (tn != last_t) {  // per timestep, not per image (a batch often shares one t)
            last_t = tn;
            const double beta_tilde = sch.beta_tilde[tn];  // Eq. 11: the posterior's variance
            s2 = sigma_squared(sch, tn, sigma);            // Eq. 14: p_theta's variance sigma_t^2
            // Eq. 15 (the general KL) per element, split into a variance part, one for all elements,
            //   0.5 (log(sigma_t^2 / beta_tilde_t) + beta_tilde_t / sigma_t^2 - 1)   (0 for BetaTilde) ...
            variance_part = gaussian_kl(0.0, beta_tilde, 0.0, s2);
        }
        double sum = 0.0;
        for (int64_t i = 0; i < per; ++i) {
            const size_t j = (size_t)(n * per + i);
            // Eq. 11: mu_tilde_t = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0 + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t
            const double mu_tilde = sch.posterior_coef_x0[tn] * (double)x0h[j] + sch.posterior_coef_xt[tn] * (double)xth[j];
            const double d = mu_tilde - mu[j];
            sum += variance_part + d * d / (2.0 * s2);  // ... and a mean part, (mu_tilde - mu_theta)^2 / (2 sigma_t^2)
        }
        L[(size_t)n] = sum;
    }
    return L;
}

std::vector<double> denoising_term(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0,
                                   const std::vector<int>& t, const Tensor& eps, Sigma sigma) {
    check_batch(x0, "denoising_term");
    return denoising_term_host(sch, eps_theta, x0, x0.to_vector(), t, eps, sigma);
}

std::vector<double> decoder_nll(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, const Tensor& eps,
                                Sigma sigma) {
    const char* who = "decoder_nll";
    check_batch(x0, who);
    const int64_t N = x0.size(0), per = x0.numel() / N;
    const std::vector<float> x0h = x0.to_vector();
    const std::vector<int> k = levels_of(x0h, who, "x0");
    NoGradGuard no_grad;
    const std::vector<int> t1 = same_t(x0, 1);
    const Tensor x1 = q_sample(sch, x0, t1, eps);  // Eq. 6 at t = 1
    const std::vector<double> mu = mu_theta_host(sch, x1.to_vector(), call_eps_theta(eps_theta, x1, t1, who), t1, per);
    // Eq. 19: log p_theta(x_0 | x_1) = sum_i log int_{bin(x_0^i)} N(y; mu_theta(x_1, 1)^i, sigma_1^2) dy
    const std::vector<double> logp = discretized_log_likelihood(k, mu, std::sqrt(decoder_variance(sch, sigma)));
    std::vector<double> L((size_t)N, 0.0);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < per; ++i) L[(size_t)n] -= logp[(size_t)(n * per + i)];  // L_0 = -log p_theta(x_0 | x_1)
    return L;
}

// ============================================================================================
// Eq. 10: the bound of a batch
// ============================================================================================

std::vector<double> BoundTerms::total() const {
    std::vector<double> out(prior.size());
    // Eq. 10: L = L_T + sum_{t=2..T} L_{t-1} + L_0
    for (size_t n = 0; n < out.size(); ++n) out[n] = prior[n] + denoising[n] + decoder[n];
    return out;
}

BoundTerms nll_bound(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, Generator& gen,
                     const BoundOptions& opt) {
    const char* who = "nll_bound";
    check_batch(x0, who);
    if (opt.mc_t < 0 || opt.mc_t == 1)
        fail(who, ": mc_t = ", opt.mc_t, "; use 0 (all T terms) or K >= 2 draws of t (K = 1 has no standard error)");
    const std::vector<float> x0h = x0.to_vector();
    levels_of(x0h, who, "x0");  // refuse off-level data before T model calls, not after
    const size_t N = (size_t)x0.size(0);
    BoundTerms r;
    r.prior = prior_term(sch, x0);  // L_T (Eq. 7)
    r.denoising.assign(N, 0.0);
    r.denoising_se.assign(N, 0.0);
    if (opt.mc_t == 0) {
        // all T terms, t = T..1 as the original code's calc_bpd_loop; one fresh eps per t
        r.per_t.assign((size_t)sch.T + 1, 0.0);
        for (int t = sch.T; t >= 1; --t) {
            const Tensor eps = randn(x0.shape(), gen, x0.device());
            const std::vector<double> L = t >= 2 ? denoising_term_host(sch, eps_theta, x0, x0h, same_t(x0, t), eps, opt.sigma)
                                                 : decoder_nll(sch, eps_theta, x0, eps, opt.sigma);
            if (t >= 2)
                for (size_t n = 0; n < N; ++n) r.denoising[n] += L[n];  // sum_{t=2..T} L_{t-1}
            else
                r.decoder = L;  // L_0
            r.per_t[(size_t)t] = batch_mean(L);
            if (opt.on_progress) opt.on_progress(sch.T - t + 1, sch.T);
        }
        return r;
    }
    // Monte-Carlo over t: L_0 exactly (its own eps), and
    //   sum_{t=2..T} L_{t-1} = (T - 1) E_{t ~ U{2..T}}[L_{t-1}] ~ (T - 1) * mean of K draws per image,
    // standard error (T - 1) * sd / sqrt(K). Drawing t from 2..T (not 1..T with L_0 among the draws)
    // leaves the decoder's large, very different term out of the average: a smaller variance.
    r.decoder = decoder_nll(sch, eps_theta, x0, randn(x0.shape(), gen, x0.device()), opt.sigma);
    const int K = opt.mc_t;
    if (sch.T < 2) return r;  // no denoising terms at all
    std::vector<double> sum(N, 0.0), sum_sq(N, 0.0);
    std::vector<int32_t> drawn(N);
    for (int k = 1; k <= K; ++k) {
        gen.integers(drawn.data(), (int64_t)N, 2, sch.T + 1);  // t ~ U{2..T}, one per image
        const std::vector<int> t(drawn.begin(), drawn.end());
        const std::vector<double> L =
            denoising_term_host(sch, eps_theta, x0, x0h, t, randn(x0.shape(), gen, x0.device()), opt.sigma);
        for (size_t n = 0; n < N; ++n) {
            sum[n] += L[n];
            sum_sq[n] += L[n] * L[n];
        }
        if (opt.on_progress) opt.on_progress(k, K);
    }
    const double Tm1 = (double)(sch.T - 1);
    for (size_t n = 0; n < N; ++n) {
        const double mean = sum[n] / K;
        const double var = std::fmax(0.0, (sum_sq[n] - K * mean * mean) / (K - 1));  // unbiased sample variance
        r.denoising[n] = Tm1 * mean;
        r.denoising_se[n] = Tm1 * std::sqrt(var / K);
    }
    return r;
}

double bits_per_dim(double nats, int64_t dims) {
    if (dims < 1) fail("bits_per_dim: dims = ", dims, " must be >= 1");
    return nats / ((double)dims * std::log(2.0));  // bits/dim = L / (D ln 2)
}

// ============================================================================================
// Eqs. 8 and 9: a trajectory's joint log-densities
// ============================================================================================

std::vector<double> log_q_chain(const Schedule& sch, const std::vector<Tensor>& xs) {
    check_chain(sch, xs, "log_q_chain");
    const size_t N = (size_t)xs[0].size(0);
    const size_t per = (size_t)xs[0].numel() / N;
    std::vector<double> lq(N, 0.0);
    std::vector<float> prev = xs[0].to_vector();
    for (int t = 1; t <= sch.T; ++t) {
        const std::vector<float> cur = xs[(size_t)t].to_vector();
        for (size_t n = 0; n < N; ++n)
            for (size_t i = 0; i < per; ++i) {
                const size_t j = n * per + i;
                // Eq. 8 (with Eq. 1): log q(x_t | x_{t-1}) = log N(x_t; sqrt(alpha_t) x_{t-1}, beta_t I)
                lq[n] += log_normal(cur[j], sch.sqrt_alpha[t] * (double)prev[j], sch.beta[t]);
            }
        prev = cur;
    }
    return lq;
}

std::vector<double> log_p_reverse(const Schedule& sch, const EpsModel& eps_theta, const std::vector<Tensor>& xs,
                                  Sigma sigma) {
    const char* who = "log_p_reverse";
    check_chain(sch, xs, who);
    const size_t N = (size_t)xs[0].size(0);
    const int64_t per = xs[0].numel() / (int64_t)N;
    const std::vector<int> k = levels_of(xs[0].to_vector(), who, "x0");
    std::vector<double> lp(N, 0.0);
    std::vector<float> cur = xs[(size_t)sch.T].to_vector();
    for (size_t j = 0; j < cur.size(); ++j) lp[j / (size_t)per] += log_normal(cur[j], 0.0, 1.0);  // Eq. 9: p(x_T) = N(0, I)
    for (int t = sch.T; t >= 2; --t) {
        const std::vector<int> tt = same_t(xs[0], t);
        const std::vector<double> mu = mu_theta_host(sch, cur, call_eps_theta(eps_theta, xs[(size_t)t], tt, who), tt, per);
        const double s2 = sigma_squared(sch, t, sigma);  // Eq. 14
        const std::vector<float> prev = xs[(size_t)t - 1].to_vector();
        for (size_t j = 0; j < prev.size(); ++j)
            lp[j / (size_t)per] += log_normal(prev[j], mu[j], s2);  // Eq. 9: log N(x_{t-1}; mu_theta(x_t, t), sigma_t^2 I)
        cur = prev;
    }
    // Eq. 9 at t = 1 with Eq. 19: log p_theta(x_0 | x_1), the discrete decoder
    const std::vector<int> t1 = same_t(xs[0], 1);
    const std::vector<double> mu = mu_theta_host(sch, cur, call_eps_theta(eps_theta, xs[1], t1, who), t1, per);
    const std::vector<double> logp = discretized_log_likelihood(k, mu, std::sqrt(decoder_variance(sch, sigma)));
    for (size_t j = 0; j < logp.size(); ++j) lp[j / (size_t)per] += logp[j];
    return lp;
}

std::vector<Tensor> sample_chain(const Schedule& sch, const Tensor& x0, Generator& gen) {
    check_batch(x0, "sample_chain");
    NoGradGuard no_grad;
    std::vector<Tensor> xs{x0};
    xs.reserve((size_t)sch.T + 1);
    for (int t = 1; t <= sch.T; ++t)
        xs.push_back(q_step(sch, xs.back(), t, randn(x0.shape(), gen, x0.device())));  // Eq. 2: one noising step
    return xs;
}

}  // namespace fw::diffusion
