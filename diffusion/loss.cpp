#include "diffusion/loss.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "diffusion/bound.h"
#include "diffusion/forward_process.h"

namespace fw::diffusion {

double lambda_t(const Schedule& sch, int t, Sigma sigma) {
    const double s2 = sigma_squared(sch, t, sigma);  // checks t
    if (!(s2 > 0.0))
        fail("lambda_t: sigma_t^2 = ", sigma_name(sigma), "_", t, " = 0; Eq. 16 covers the KL terms t = 2..T");
    const double b = sch.beta[t];
    // Eq. 16: lambda_t = beta_t^2 / (2 sigma_t^2 alpha_t (1 - alpha_bar_t))
    return b * b / (2.0 * s2 * sch.alpha[t] * (1.0 - sch.alpha_bar[t]));
}

Tensor weighted_eps_loss(const Schedule& sch, const Tensor& eps, const Tensor& eps_theta, const std::vector<int>& t,
                         Sigma sigma) {
    check_defined(eps, "weighted_eps_loss", "eps");
    check_defined(eps_theta, "weighted_eps_loss", "eps_theta");
    if (eps.shape() != eps_theta.shape())
        fail("weighted_eps_loss: eps ", to_string(eps.shape()), " and eps_theta ", to_string(eps_theta.shape()), " differ");
    std::vector<double> lambda(sch.T + 1, 0.0);
    for (int tn : t) {
        check_timestep(sch, tn, "weighted_eps_loss");
        lambda[tn] = lambda_t(sch, tn, sigma);
    }
    Tensor w = table_at(sch, lambda, t, eps, "weighted_eps_loss");  // (N, 1, 1, 1): lambda_{t_n}
    const float N = (float)eps.size(0);
    // Eq. 16: (1/N) sum_n lambda_{t_n} ||eps_n - eps_theta_n||^2
    return sum(w * square(eps - eps_theta)) / N;
}

Tensor simple_loss(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, const std::vector<int>& t,
                   const Tensor& eps) {
    if (!eps_theta) fail("simple_loss: eps_theta is an empty function");
    Tensor xt = q_sample(sch, x0, t, eps);  // Eq. 6 (checks shapes and t)
    Tensor pred = eps_theta(xt, t);
    if (!pred.defined() || pred.shape() != eps.shape())
        fail("simple_loss: eps_theta returned ", pred.defined() ? to_string(pred.shape()) : std::string("an undefined tensor"),
             " for x_t of shape ", to_string(xt.shape()));
    // Eq. 17: L_simple = ||eps - eps_theta(x_t, t)||^2, averaged over the batch and the elements
    return mse_loss(pred, eps);
}

// d(-log P)/d mean for Eq. 19's bin probability P = Phi(z_hi) - Phi(z_lo), z = (edge - mean) / sigma:
// dP/d mean = (phi(z_lo) - phi(z_hi)) / sigma (an edge bin drops its infinite side), so
// d(-log P)/d mean = -(phi(z_lo) - phi(z_hi)) / (sigma P), each ratio phi / P taken as
// exp(log phi - log P): finite however far the mean is from the bin (log P is, bound.cpp).
static double decoder_nll_dmean(float x, double mean, double sigma, double log_p) {
    const double half_bin = 1.0 / 255.0, log_sqrt_2pi = 0.9189385332046727;
    auto phi_over_p = [&](double z) { return std::exp(-0.5 * z * z - log_sqrt_2pi - log_p); };
    const double lo = x <= -1.0f + 1e-4f ? 0.0 : phi_over_p(((double)x - half_bin - mean) / sigma);
    const double hi = x >= 1.0f - 1e-4f ? 0.0 : phi_over_p(((double)x + half_bin - mean) / sigma);
    return -(lo - hi) / sigma;
}

Tensor vlb_loss(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, const std::vector<int>& t,
                const Tensor& eps, Sigma sigma) {
    if (!eps_theta) fail("vlb_loss: eps_theta is an empty function");
    Tensor xt = q_sample(sch, x0, t, eps);  // Eq. 6 (checks shapes and t)
    Tensor pred = eps_theta(xt, t);
    if (!pred.defined() || pred.shape() != eps.shape())
        fail("vlb_loss: eps_theta returned ", pred.defined() ? to_string(pred.shape()) : std::string("an undefined tensor"),
             " for x_t of shape ", to_string(xt.shape()));
    const int64_t N = x0.size(0), D = x0.numel() / N;

    // t >= 2: Eq. 16, lambda_t ||eps - eps_theta||^2 per sample (weight 0 for the t = 1 samples)
    std::vector<double> lambda(sch.T + 1, 0.0);
    bool any_t1 = false;
    for (int tn : t) {
        if (tn == 1) any_t1 = true;
        else lambda[tn] = lambda_t(sch, tn, sigma);
    }
    Tensor w = table_at(sch, lambda, t, eps, "vlb_loss");  // (N, 1, 1, 1)
    Tensor total = sum(w * square(eps - pred));

    // t = 1: Eq. 19, L_0 = -log p_theta(x_0 | x_1), mean mu_theta(x_1, 1) = (x_1 - c eps_theta) / sqrt(alpha_1)
    if (any_t1) {
        const std::vector<float> x = x0.to_vector(), x1 = xt.to_vector(), e = pred.detach().to_vector();
        const double c = sch.beta[1] / std::sqrt(1.0 - sch.alpha_bar[1]), sa = std::sqrt(sch.alpha[1]);
        const double sd = std::sqrt(decoder_variance(sch, sigma));
        std::vector<float> xs, means;
        std::vector<int64_t> at;  // flat indices of the t = 1 samples' elements
        for (int64_t n = 0; n < N; ++n) {
            if (t[(size_t)n] != 1) continue;
            for (int64_t i = n * D; i < (n + 1) * D; ++i) {
                xs.push_back(x[(size_t)i]);
                means.push_back((float)((x1[(size_t)i] - c * e[(size_t)i]) / sa));  // Eq. 14 at t = 1
                at.push_back(i);
            }
        }
        const std::vector<double> log_p = discretized_gaussian_log_likelihood(xs, means, sd);  // Eq. 19
        std::vector<float> g((size_t)(N * D), 0.0f);
        double nll = 0.0, dot = 0.0;
        for (size_t k = 0; k < at.size(); ++k) {
            nll -= log_p[k];
            // chain rule through the mean: d mean / d eps_theta = -c / sqrt(alpha_1)
            g[(size_t)at[k]] = (float)(decoder_nll_dmean(xs[k], means[k], sd, log_p[k]) * (-c / sa));
            dot += (double)g[(size_t)at[k]] * e[(size_t)at[k]];
        }
        Tensor G = Tensor::from_vector(pred.shape(), g, pred.device());
        total = total + (sum(G * pred) + (float)(nll - dot));  // value: L_0; gradient: G
    }
    // T / (N D) sum_n term_n: the bound's t-sum per dimension, estimated from the drawn t
    return total * (float)((double)sch.T / (double)(N * D));
}

Tensor l_vlb(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, Generator& gen, Sigma sigma,
             std::vector<int>* t_drawn) {
    check_defined(x0, "l_vlb", "x0");
    if (x0.dim() < 1 || x0.size(0) < 1) fail("l_vlb: x0 needs a non-empty batch axis, got ", to_string(x0.shape()));
    std::vector<int32_t> drawn((size_t)x0.size(0));
    gen.integers(drawn.data(), (int64_t)drawn.size(), 1, sch.T + 1);  // t ~ U{1, ..., T}
    std::vector<int> t(drawn.begin(), drawn.end());
    Tensor eps = randn(x0.shape(), gen, x0.device());  // eps ~ N(0, I)
    if (t_drawn) *t_drawn = t;
    return vlb_loss(sch, eps_theta, x0, t, eps, sigma);
}

Tensor l_simple(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, Generator& gen,
                std::vector<int>* t_drawn) {
    check_defined(x0, "l_simple", "x0");
    if (x0.dim() < 1 || x0.size(0) < 1) fail("l_simple: x0 needs a non-empty batch axis, got ", to_string(x0.shape()));
    // Algorithm 1: t ~ U{1, ..., T}, one per sample
    std::vector<int32_t> drawn((size_t)x0.size(0));
    gen.integers(drawn.data(), (int64_t)drawn.size(), 1, sch.T + 1);
    std::vector<int> t(drawn.begin(), drawn.end());
    // Algorithm 1: eps ~ N(0, I)
    Tensor eps = randn(x0.shape(), gen, x0.device());
    if (t_drawn) *t_drawn = t;
    return simple_loss(sch, eps_theta, x0, t, eps);
}

}  // namespace fw::diffusion
