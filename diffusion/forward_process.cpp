#include "diffusion/forward_process.h"

#include <cmath>

#include "core/error.h"
#include "core/ops.h"

namespace fw::diffusion {

static void check_like(const Tensor& x, const Tensor& eps, const char* who, const char* what) {
    check_defined(x, who, "x");
    check_defined(eps, who, what);
    if (x.shape() != eps.shape())
        fail(who, ": ", what, " has shape ", to_string(eps.shape()), " but x has ", to_string(x.shape()));
}

Tensor q_step(const Schedule& sch, const Tensor& x_prev, int t, const Tensor& eps_t) {
    check_timestep(sch, t, "q_step");
    check_like(x_prev, eps_t, "q_step", "eps_t");
    // Eq. 3: x_t = sqrt(alpha_t) x_{t-1} + sqrt(1 - alpha_t) eps_t   (Eq. 2 with 1 - beta_t = alpha_t)
    return coef(sch.sqrt_alpha, t) * x_prev + coef(sch.sqrt_beta, t) * eps_t;
}

Tensor q_two_steps(const Schedule& sch, const Tensor& x_prev2, int t, const Tensor& eps_prev, const Tensor& eps_t) {
    check_timestep(sch, t, "q_two_steps");
    if (t < 2) fail("q_two_steps: t = ", t, ", needs t >= 2 (two steps back from t is t - 2 >= 0)");
    check_like(x_prev2, eps_prev, "q_two_steps", "eps_prev");
    check_like(x_prev2, eps_t, "q_two_steps", "eps_t");
    const double a_t = sch.alpha[t], a_prev = sch.alpha[t - 1];
    // Eq. 4: x_t = sqrt(alpha_t alpha_{t-1}) x_{t-2} + sqrt(alpha_t (1 - alpha_{t-1})) eps_{t-1} + sqrt(1 - alpha_t) eps_t
    return (float)std::sqrt(a_t * a_prev) * x_prev2 + (float)std::sqrt(a_t * (1.0 - a_prev)) * eps_prev +
           (float)std::sqrt(1.0 - a_t) * eps_t;
}

// Eq. 5: N(0, s1^2) + N(0, s2^2) = N(0, s1^2 + s2^2)
double merged_std(double s1, double s2) { return std::sqrt(s1 * s1 + s2 * s2); }

Tensor q_two_steps_merged(const Schedule& sch, const Tensor& x_prev2, int t, const Tensor& eps_hat) {
    check_timestep(sch, t, "q_two_steps_merged");
    if (t < 2) fail("q_two_steps_merged: t = ", t, ", needs t >= 2 (two steps back from t is t - 2 >= 0)");
    check_like(x_prev2, eps_hat, "q_two_steps_merged", "eps_hat");
    const double a_t = sch.alpha[t], a_prev = sch.alpha[t - 1];
    // Eq. 5: the two noise terms of Eq. 4 merge into one with std
    //   sqrt(alpha_t (1 - alpha_{t-1}) + (1 - alpha_t)) = sqrt(1 - alpha_t alpha_{t-1})
    const double s = merged_std(std::sqrt(a_t * (1.0 - a_prev)), std::sqrt(1.0 - a_t));
    return (float)std::sqrt(a_t * a_prev) * x_prev2 + (float)s * eps_hat;
}

Tensor q_sample(const Schedule& sch, const Tensor& x0, const std::vector<int>& t, const Tensor& eps) {
    check_like(x0, eps, "q_sample", "eps");
    Tensor sqrt_alpha_bar = table_at(sch, sch.sqrt_alpha_bar, t, x0, "q_sample");  // (N, 1, 1, 1)
    Tensor sqrt_one_minus_alpha_bar = table_at(sch, sch.sqrt_one_minus_alpha_bar, t, x0, "q_sample");
    // Eq. 6: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
    return sqrt_alpha_bar * x0 + sqrt_one_minus_alpha_bar * eps;
}

double prior_kl(const Schedule& sch, const Tensor& x0) {
    check_defined(x0, "prior_kl", "x0");
    const double v = 1.0 - sch.alpha_bar[sch.T];  // Eq. 6 at t = T: variance 1 - alpha_bar_T
    const std::vector<float> x = x0.to_vector();  // on the host, from any device
    double kl = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double m = sch.sqrt_alpha_bar[sch.T] * x[i];  // Eq. 6 at t = T: mean sqrt(alpha_bar_T) x_0
        kl += 0.5 * (v + m * m - 1.0 - std::log(v));  // Eq. 7: KL(N(m, v) || N(0, 1)) per element
    }
    return kl;
}

}  // namespace fw::diffusion
