#include "diffusion/posterior.h"

#include <cmath>

#include "core/error.h"
#include "core/ops.h"

namespace fw::diffusion {

static void check_same_shape(const Tensor& a, const Tensor& b, const char* who, const char* an, const char* bn) {
    check_defined(a, who, an);
    check_defined(b, who, bn);
    if (a.shape() != b.shape())
        fail(who, ": ", an, " has shape ", to_string(a.shape()), " but ", bn, " has ", to_string(b.shape()));
}

Tensor q_posterior_mean(const Schedule& sch, const Tensor& x0, const Tensor& xt, const std::vector<int>& t) {
    check_same_shape(x0, xt, "q_posterior_mean", "x0", "xt");
    Tensor c_x0 = table_at(sch, sch.posterior_coef_x0, t, xt, "q_posterior_mean");  // sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t)
    Tensor c_xt = table_at(sch, sch.posterior_coef_xt, t, xt, "q_posterior_mean");  // sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)
    // Eq. 11: mu_tilde_t = c_x0 x_0 + c_xt x_t
    return c_x0 * x0 + c_xt * xt;
}

double q_posterior_variance(const Schedule& sch, int t) {
    check_timestep(sch, t, "q_posterior_variance");
    return sch.beta_tilde[t];  // Eq. 11: beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t
}

Tensor predict_x0_from_eps(const Schedule& sch, const Tensor& xt, const std::vector<int>& t, const Tensor& eps) {
    check_same_shape(xt, eps, "predict_x0_from_eps", "xt", "eps");
    Tensor sqrt_one_minus_alpha_bar = table_at(sch, sch.sqrt_one_minus_alpha_bar, t, xt, "predict_x0_from_eps");
    Tensor sqrt_recip_alpha_bar = table_at(sch, sch.sqrt_recip_alpha_bar, t, xt, "predict_x0_from_eps");
    // Eq. 12: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)
    return sqrt_recip_alpha_bar * (xt - sqrt_one_minus_alpha_bar * eps);
}

Tensor posterior_mean_from_eps(const Schedule& sch, const Tensor& xt, const std::vector<int>& t, const Tensor& eps) {
    check_same_shape(xt, eps, "posterior_mean_from_eps", "xt", "eps");
    Tensor eps_coef = table_at(sch, sch.eps_coef, t, xt, "posterior_mean_from_eps");  // beta_t / sqrt(1 - alpha_bar_t)
    Tensor sqrt_recip_alpha = table_at(sch, sch.sqrt_recip_alpha, t, xt, "posterior_mean_from_eps");
    // Eq. 13: mu_tilde_t = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t)
    return sqrt_recip_alpha * (xt - eps_coef * eps);
}

double sigma_squared(const Schedule& sch, int t, Sigma sigma) {
    check_timestep(sch, t, "sigma_squared");
    // Eq. 14: sigma_t^2 = beta_t  or  beta_tilde_t
    return sigma == Sigma::Beta ? sch.beta[t] : sch.beta_tilde[t];
}

const char* sigma_name(Sigma sigma) { return sigma == Sigma::Beta ? "beta" : "beta_tilde"; }

Tensor mu_theta(const Schedule& sch, const EpsModel& eps_theta, const Tensor& xt, const std::vector<int>& t) {
    if (!eps_theta) fail("mu_theta: eps_theta is an empty function");
    Tensor eps = eps_theta(xt, t);
    if (!eps.defined() || eps.shape() != xt.shape())
        fail("mu_theta: eps_theta returned ", eps.defined() ? to_string(eps.shape()) : std::string("an undefined tensor"),
             " for x_t of shape ", to_string(xt.shape()));
    // Eq. 14: mu_theta(x_t, t) = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_t)
    return posterior_mean_from_eps(sch, xt, t, eps);
}

double kl_same_variance(const Tensor& mu1, const Tensor& mu2, double s2) {
    check_same_shape(mu1, mu2, "kl_same_variance", "mu1", "mu2");
    if (!(s2 > 0.0)) fail("kl_same_variance: variance s^2 = ", s2, " must be > 0");
    const std::vector<float> a = mu1.to_vector(), b = mu2.to_vector();  // on the host, from any device
    double sq = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
        double d = (double)a[i] - (double)b[i];
        sq += d * d;
    }
    return sq / (2.0 * s2);  // Eq. 15: ||mu1 - mu2||^2 / (2 s^2)
}

double gaussian_kl(double m1, double v1, double m2, double v2) {
    if (!(v1 > 0.0 && v2 > 0.0)) fail("gaussian_kl: variances must be > 0, got v1 = ", v1, ", v2 = ", v2);
    // KL(N(m1, v1) || N(m2, v2)) = 0.5 (log(v2 / v1) + (v1 + (m1 - m2)^2) / v2 - 1)
    return 0.5 * (std::log(v2 / v1) + (v1 + (m1 - m2) * (m1 - m2)) / v2 - 1.0);
}

}  // namespace fw::diffusion
