#include "diffusion/loss.h"

#include "core/error.h"
#include "core/ops.h"
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
