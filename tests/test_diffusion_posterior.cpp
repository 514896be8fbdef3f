// Claims about the forward posterior and the learned reverse step (diffusion/posterior.h),
// Eqs. 11-15.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "diffusion/forward_process.h"
#include "diffusion/posterior.h"
#include "tests/diffusion_test_util.h"

using namespace fw;
using namespace fw::diffusion;
using fw::test::max_abs_diff;

TEST_CASE("Eq. 11: the posterior's mean and variance equal the numeric Bayes product on a grid") {
    // q(x_{t-1} | x_t, x_0) is proportional to q(x_t | x_{t-1}) q(x_{t-1} | x_0) (Eq. 1 times Eq. 6 at t-1).
    // For scalar x, multiply the two densities on a fine grid of x_{t-1}, normalise numerically,
    // and compare the grid's mean and variance with Eq. 11.
    Schedule sch = linear_schedule();
    const double x0 = 0.6, xt = 0.3;
    const double lo = -6.0, hi = 6.0, dx = 1e-4;  // posterior std >= 7e-3 (t = 2): >= 70 points per std
    for (int t : {2, 10, 500, 1000}) {
        const double a = sch.alpha[t], b = sch.beta[t], ab_prev = sch.alpha_bar[t - 1];
        double z = 0, m1 = 0, m2 = 0;
        for (double x = lo; x <= hi; x += dx) {
            const double d1 = xt - std::sqrt(a) * x;               // q(x_t | x_{t-1} = x): N(sqrt(alpha_t) x, beta_t)
            const double d2 = x - std::sqrt(ab_prev) * x0;         // q(x_{t-1} = x | x_0): N(sqrt(alpha_bar_{t-1}) x0, 1 - alpha_bar_{t-1})
            const double w = std::exp(-0.5 * d1 * d1 / b - 0.5 * d2 * d2 / (1 - ab_prev));
            z += w;
            m1 += w * x;
            m2 += w * x * x;
        }
        const double grid_mean = m1 / z, grid_var = m2 / z - grid_mean * grid_mean;
        Tensor mu = q_posterior_mean(sch, Tensor::full({1, 1}, (float)x0), Tensor::full({1, 1}, (float)xt), {t});
        INFO("t = " << t << ": grid mean " << grid_mean << " var " << grid_var << "; Eq. 11 mean " << mu.item()
                    << " var " << q_posterior_variance(sch, t));
        CHECK(std::fabs(mu.item() - grid_mean) < 1e-6);  // float mean of a value < 1: ~1e-7
        // the grid's Riemann sum of a smooth Gaussian is exact to far below 1e-6; the rest is
        // double rounding in m2/z - mean^2 (~1e-12 / var >= 5e-5)
        CHECK(q_posterior_variance(sch, t) == doctest::Approx(grid_var).epsilon(1e-6));
    }
}

TEST_CASE("Eq. 12: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t) recovers x_0 from q_sample's x_t") {
    Schedule sch = linear_schedule();
    Generator gen(12);
    Tensor x0 = rand_uniform({5, 1, 4, 4}, gen, -1, 1), eps = randn({5, 1, 4, 4}, gen);
    const std::vector<int> t = {1, 10, 100, 500, 1000};
    Tensor back = predict_x0_from_eps(sch, q_sample(sch, x0, t, eps), t, eps);
    // float rounding of x_t (|x_t| <= ~5, ulp 5e-7), amplified by 1/sqrt(alpha_bar_T) = 157: < 2e-4
    CHECK(max_abs_diff(back, x0) < 2e-4);
}

TEST_CASE("Eq. 13: the posterior mean from eps equals Eq. 11's mean from x_0 to float precision") {
    Schedule sch = linear_schedule();
    Generator gen(13);
    Tensor x0 = rand_uniform({6, 2, 4, 4}, gen, -1, 1), eps = randn({6, 2, 4, 4}, gen);
    const std::vector<int> t = {1, 2, 50, 500, 999, 1000};
    Tensor xt = q_sample(sch, x0, t, eps);
    Tensor from_x0 = q_posterior_mean(sch, x0, xt, t);        // Eq. 11
    Tensor from_eps = posterior_mean_from_eps(sch, xt, t, eps);  // Eq. 13
    INFO("max |Eq. 11 - Eq. 13| = " << max_abs_diff(from_x0, from_eps));
    CHECK(max_abs_diff(from_x0, from_eps) < 1e-5);  // a few float roundings of values up to ~5
    // ...and a wrong Eq. 13 (sqrt(beta_t) for beta_t in the eps coefficient) is far off
    Tensor wrong = (1.0f / (float)std::sqrt(sch.alpha[500])) *
                   (xt - (float)(std::sqrt(sch.beta[500]) / std::sqrt(1 - sch.alpha_bar[500])) * eps);
    Tensor right_500 = posterior_mean_from_eps(sch, xt, std::vector<int>(6, 500), eps);
    CHECK(max_abs_diff(wrong, right_500) > 1e-2);
}

TEST_CASE("Eq. 14: mu_theta feeds (x_t, t) to eps_theta and applies Eq. 13; sigma_t^2 is beta_t or beta_tilde_t") {
    Schedule sch = linear_schedule();
    Generator gen(14);
    Tensor xt = randn({2, 1, 3, 3}, gen);
    const std::vector<int> t = {7, 800};
    std::vector<int> seen_t;
    EpsModel model = [&](const Tensor& x, const std::vector<int>& tt) {
        seen_t = tt;
        return 0.5f * x + 0.25f;  // any deterministic function of x_t
    };
    Tensor mu = mu_theta(sch, model, xt, t);
    CHECK(seen_t == t);
    for (int n = 0; n < 2; ++n)
        for (int i = 0; i < 9; ++i) {
            const double x = xt.data()[n * 9 + i], e = 0.5 * x + 0.25;
            const double ref = (x - sch.beta[t[n]] / std::sqrt(1 - sch.alpha_bar[t[n]]) * e) / std::sqrt(sch.alpha[t[n]]);
            CHECK(mu.data()[n * 9 + i] == doctest::Approx(ref).epsilon(1e-5));  // float coefficients
        }
    for (int s = 1; s <= sch.T; ++s) {
        INFO("t = " << s);
        CHECK(sigma_squared(sch, s, Sigma::Beta) == sch.beta[s]);
        CHECK(sigma_squared(sch, s, Sigma::BetaTilde) == sch.beta_tilde[s]);
        CHECK(sch.beta_tilde[s] <= sch.beta[s]);  // (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) <= 1
    }
}

TEST_CASE("Eq. 15: the same-variance KL equals the general Gaussian KL summed over dimensions") {
    Generator gen(15);
    Tensor mu1 = randn({3, 4, 5}, gen), mu2 = randn({3, 4, 5}, gen);
    for (double s2 : {1e-4, 0.02, 1.0, 3.0}) {
        double general = 0;
        for (int64_t i = 0; i < mu1.numel(); ++i) general += gaussian_kl(mu1.data()[i], s2, mu2.data()[i], s2);
        INFO("s^2 = " << s2);
        CHECK(kl_same_variance(mu1, mu2, s2) == doctest::Approx(general).epsilon(1e-10));  // double rounding
    }
}

TEST_CASE("Eq. 15: the general Gaussian KL formula matches numeric integration of p log(p / q)") {
    struct Case { double m1, v1, m2, v2; };
    for (Case c : {Case{0.3, 0.5, -0.2, 1.5}, Case{1.0, 2.0, 1.0, 0.7}, Case{0.0, 1.0, 0.0, 1.0}}) {
        double kl = 0;
        const double dx = 1e-4;
        for (double x = -20; x <= 20; x += dx) {
            const double lp = -0.5 * std::log(2 * M_PI * c.v1) - 0.5 * (x - c.m1) * (x - c.m1) / c.v1;
            const double lq = -0.5 * std::log(2 * M_PI * c.v2) - 0.5 * (x - c.m2) * (x - c.m2) / c.v2;
            kl += std::exp(lp) * (lp - lq) * dx;
        }
        INFO("N(" << c.m1 << ", " << c.v1 << ") || N(" << c.m2 << ", " << c.v2 << ")");
        CHECK(std::fabs(gaussian_kl(c.m1, c.v1, c.m2, c.v2) - kl) < 1e-8);  // Riemann sum of a smooth, decayed integrand
    }
}
