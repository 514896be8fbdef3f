#include "diffusion/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace fw::diffusion {

Schedule schedule_from_betas(const std::vector<double>& beta_1_to_T) {
    const int T = (int)beta_1_to_T.size();
    if (T < 1) fail("schedule_from_betas: needs at least one beta (T >= 1), got none");
    Schedule sch;
    sch.T = T;
    const size_t n = (size_t)T + 1;
    sch.beta.assign(n, 0.0);
    sch.alpha.assign(n, 1.0);
    sch.alpha_bar.assign(n, 1.0);
    for (int t = 1; t <= T; ++t) {
        double b = beta_1_to_T[(size_t)t - 1];
        if (!(b > 0.0 && b < 1.0)) fail("schedule_from_betas: beta_", t, " = ", b, " is not in (0, 1)");
        sch.beta[t] = b;
        sch.alpha[t] = 1.0 - b;                              // Eq. 3: alpha_t = 1 - beta_t
        sch.alpha_bar[t] = sch.alpha_bar[t - 1] * sch.alpha[t];  // Eq. 6: alpha_bar_t = prod_{s<=t} alpha_s
    }
    sch.sqrt_alpha.assign(n, 1.0);
    sch.sqrt_beta.assign(n, 0.0);
    sch.sqrt_alpha_bar.assign(n, 1.0);
    sch.sqrt_one_minus_alpha_bar.assign(n, 0.0);
    sch.sqrt_recip_alpha_bar.assign(n, 1.0);
    sch.sqrt_recip_alpha.assign(n, 1.0);
    sch.eps_coef.assign(n, 0.0);
    sch.beta_tilde.assign(n, 0.0);
    sch.posterior_coef_x0.assign(n, 0.0);
    sch.posterior_coef_xt.assign(n, 0.0);
    for (int t = 1; t <= T; ++t) {
        const double a = sch.alpha[t], b = sch.beta[t], ab = sch.alpha_bar[t], ab_prev = sch.alpha_bar[t - 1];
        sch.sqrt_alpha[t] = std::sqrt(a);
        sch.sqrt_beta[t] = std::sqrt(b);
        sch.sqrt_alpha_bar[t] = std::sqrt(ab);
        sch.sqrt_one_minus_alpha_bar[t] = std::sqrt(1.0 - ab);
        sch.sqrt_recip_alpha_bar[t] = 1.0 / std::sqrt(ab);
        sch.sqrt_recip_alpha[t] = 1.0 / std::sqrt(a);
        sch.eps_coef[t] = b / std::sqrt(1.0 - ab);                       // Eq. 13: beta_t / sqrt(1 - alpha_bar_t)
        sch.beta_tilde[t] = (1.0 - ab_prev) / (1.0 - ab) * b;            // Eq. 11: beta_tilde_t
        sch.posterior_coef_x0[t] = std::sqrt(ab_prev) * b / (1.0 - ab);  // Eq. 11: coefficient of x_0
        sch.posterior_coef_xt[t] = std::sqrt(a) * (1.0 - ab_prev) / (1.0 - ab);  // Eq. 11: coefficient of x_t
    }
    return sch;
}

Schedule linear_schedule(int T, double beta_1, double beta_T) {
    if (T < 2) fail("linear_schedule: T = ", T, ", needs T >= 2 to go from beta_1 to beta_T");
    if (!(0.0 < beta_1 && beta_1 < beta_T && beta_T < 1.0))
        fail("linear_schedule: needs 0 < beta_1 < beta_T < 1, got beta_1 = ", beta_1, ", beta_T = ", beta_T);
    std::vector<double> beta((size_t)T);
    for (int t = 1; t <= T; ++t)
        beta[(size_t)t - 1] = beta_1 + (double)(t - 1) / (double)(T - 1) * (beta_T - beta_1);  // Eq. 1 (linear)
    return schedule_from_betas(beta);
}

// Eq. 21: f(t) = cos^2( ((t/T + s) / (1 + s)) * pi/2 )
double cosine_f(double t, int T, double s) {
    const double half_pi = 1.5707963267948966;
    double c = std::cos(((t / T + s) / (1.0 + s)) * half_pi);
    return c * c;
}

Schedule cosine_schedule(int T, double s, double max_beta) {
    if (T < 1) fail("cosine_schedule: T = ", T, ", needs T >= 1");
    if (!(s >= 0.0)) fail("cosine_schedule: offset s = ", s, " must be >= 0");
    if (!(0.0 < max_beta && max_beta < 1.0)) fail("cosine_schedule: max_beta = ", max_beta, " is not in (0, 1)");
    const double f0 = cosine_f(0.0, T, s);
    std::vector<double> beta((size_t)T);
    for (int t = 1; t <= T; ++t) {
        double alpha_bar_t = cosine_f(t, T, s) / f0;         // Eq. 21: alpha_bar_t = f(t) / f(0)
        double alpha_bar_prev = cosine_f(t - 1, T, s) / f0;
        double b = 1.0 - alpha_bar_t / alpha_bar_prev;       // alpha_t = alpha_bar_t / alpha_bar_{t-1}
        beta[(size_t)t - 1] = std::min(b, max_beta);         // Eq. 21: beta_t clipped at 0.999
    }
    return schedule_from_betas(beta);
}

Tensor table_at(const Schedule& sch, const std::vector<double>& table, const std::vector<int>& t, const Tensor& x,
                const char* who) {
    check_defined(x, who, "x");
    if (x.dim() < 1) fail(who, ": x must have a batch axis, got shape ", to_string(x.shape()));
    const int64_t N = x.size(0);
    if ((int64_t)t.size() != N)
        fail(who, ": got ", t.size(), " timesteps for a batch of ", N, " (shape ", to_string(x.shape()), ")");
    Shape shape(x.shape().size(), 1);  // (N, 1, ..., 1)
    shape[0] = N;
    Tensor c = Tensor::empty(shape);
    for (int64_t n = 0; n < N; ++n) {
        check_timestep(sch, t[(size_t)n], who);
        c.data()[n] = coef(table, t[(size_t)n]);
    }
    return c.to(x.device());  // made on the host (N values), then beside x
}

std::vector<int> same_t(const Tensor& x, int t) { return std::vector<int>((size_t)x.size(0), t); }

void check_timestep(const Schedule& sch, int t, const char* who) {
    if (t < 1 || t > sch.T) fail(who, ": t = ", t, " out of range 1..T (T = ", sch.T, ")");
}

}  // namespace fw::diffusion
