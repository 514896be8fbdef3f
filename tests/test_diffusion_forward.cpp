// Claims about the forward process q (diffusion/forward_process.h), Eqs. 2, 4, 5, 6, 7.
// Statistical claims use a fixed seed, 1e4-1e5 draws, and 5 standard errors (matches_gaussian).
#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "diffusion/forward_process.h"
#include "tests/diffusion_test_util.h"

using namespace fw;
using namespace fw::diffusion;
using fw::test::matches_gaussian;
using fw::test::sample_stats;
using fw::test::SampleStats;

TEST_CASE("Eq. 2: one noising step has mean sqrt(1 - beta_t) x_{t-1} and variance beta_t") {
    Schedule sch = linear_schedule();
    Generator gen(2);
    const int64_t n = 100000;
    for (int t : {1, 500, 1000}) {
        Tensor x_prev = Tensor::full({n}, 0.7f);
        Tensor xt = q_step(sch, x_prev, t, randn({n}, gen));
        SampleStats s = sample_stats(xt);
        const double mean = std::sqrt(1.0 - sch.beta[t]) * 0.7, var = sch.beta[t];
        INFO("t = " << t << ": mean " << s.mean << " vs " << mean << ", var " << s.var << " vs " << var);
        CHECK(matches_gaussian(s, mean, var));
    }
}

TEST_CASE("Eq. 2: the gradient of x_t with respect to x_{t-1} is sqrt(1 - beta_t)") {
    Schedule sch = linear_schedule();
    Generator gen(3);
    for (int t : {1, 300, 1000}) {
        Tensor x_prev = randn({2, 1, 4, 4}, gen).set_requires_grad(true);
        Tensor eps = randn({2, 1, 4, 4}, gen);
        Tensor g = randn({2, 1, 4, 4}, gen);  // a random upstream gradient, not all ones
        q_step(sch, x_prev, t, eps).backward(g);
        REQUIRE(x_prev.grad().defined());
        const double d = std::sqrt(1.0 - sch.beta[t]);
        for (int64_t i = 0; i < g.numel(); ++i) {
            INFO("t = " << t << " element " << i);
            // one float multiply: 1e-6 relative
            CHECK(x_prev.grad().data()[i] == doctest::Approx(d * g.data()[i]).epsilon(1e-6));
        }
    }
}

TEST_CASE("Eq. 4: two steps at once equal two chained single steps for the same two noises") {
    Schedule sch = linear_schedule();
    Generator gen(4);
    for (int t : {2, 100, 1000}) {
        Tensor x = randn({3, 2, 5, 5}, gen), eps_prev = randn({3, 2, 5, 5}, gen), eps_t = randn({3, 2, 5, 5}, gen);
        Tensor chained = q_step(sch, q_step(sch, x, t - 1, eps_prev), t, eps_t);
        Tensor at_once = q_two_steps(sch, x, t, eps_prev, eps_t);
        INFO("t = " << t);
        CHECK(fw::test::max_abs_diff(chained, at_once) < 1e-5);  // a few float roundings of values ~4
    }
    CHECK_THROWS_AS(q_two_steps(sch, Tensor::zeros({1}), 1, Tensor::zeros({1}), Tensor::zeros({1})), fw::Error);
}

// Eq. 5's claim, tested on the statistics of x_t drawn from x_{t-2} = 0.5: the merged step must
// match N(sqrt(alpha_t alpha_{t-1}) 0.5, 1 - alpha_t alpha_{t-1}).
static bool merged_step_matches(const Schedule& sch, int t, const Tensor& xt) {
    const double a = sch.alpha[t] * sch.alpha[t - 1];
    return matches_gaussian(sample_stats(xt), std::sqrt(a) * 0.5, 1.0 - a);
}

TEST_CASE("Eq. 5: variances add: chained single steps and the merged step agree in mean and variance") {
    CHECK(merged_std(3.0, 4.0) == doctest::Approx(5.0).epsilon(1e-15));  // a 3-4-5 triangle, exact in double
    Schedule sch = linear_schedule();
    Generator gen(5);
    const int64_t n = 100000;
    for (int t : {2, 500, 1000}) {
        Tensor x = Tensor::full({n}, 0.5f);
        Tensor chained = q_step(sch, q_step(sch, x, t - 1, randn({n}, gen)), t, randn({n}, gen));
        Tensor merged = q_two_steps_merged(sch, x, t, randn({n}, gen));
        INFO("t = " << t);
        CHECK(merged_step_matches(sch, t, chained));
        CHECK(merged_step_matches(sch, t, merged));
    }
}

TEST_CASE("Eq. 5: a merge that adds standard deviations instead of variances fails the same test") {
    Schedule sch = linear_schedule();
    Generator gen(5);
    const int64_t n = 100000;
    for (int t : {500, 1000}) {
        const double a_t = sch.alpha[t], a_prev = sch.alpha[t - 1];
        const double wrong_std = std::sqrt(a_t * (1 - a_prev)) + std::sqrt(1 - a_t);  // seed 000's slip
        Tensor x = Tensor::full({n}, 0.5f);
        Tensor wrong = (float)std::sqrt(a_t * a_prev) * x + (float)wrong_std * randn({n}, gen);
        INFO("t = " << t << ": var " << sample_stats(wrong).var << " vs " << 1 - a_t * a_prev);
        CHECK_FALSE(merged_step_matches(sch, t, wrong));
    }
}

TEST_CASE("Eq. 6: t chained single steps and one closed-form draw agree in mean and variance") {
    Schedule sch = linear_schedule();
    Generator gen(6);
    const int64_t n = 10000;
    for (int t : {1, 10, 100, 300}) {
        Tensor x0 = Tensor::full({n, 1}, 0.8f);
        Tensor chained = x0;
        for (int s = 1; s <= t; ++s) chained = q_step(sch, chained, s, randn({n, 1}, gen));  // Eq. 2, t times
        Tensor closed = q_sample(sch, x0, std::vector<int>((size_t)n, t), randn({n, 1}, gen));
        long double alpha_bar = 1.0L;  // computed here from the betas, independently of the schedule's table
        for (int s = 1; s <= t; ++s) alpha_bar *= 1.0L - (long double)sch.beta[s];
        const double mean = std::sqrt((double)alpha_bar) * 0.8, var = 1.0 - (double)alpha_bar;
        SampleStats c = sample_stats(chained), d = sample_stats(closed);
        INFO("t = " << t << ": chained mean " << c.mean << " var " << c.var << "; closed mean " << d.mean << " var "
                    << d.var << "; expected " << mean << ", " << var);
        CHECK(matches_gaussian(c, mean, var));
        CHECK(matches_gaussian(d, mean, var));
    }
}

TEST_CASE("Eq. 6: q_sample applies each sample's own t, broadcast over C, H, W") {
    Schedule sch = linear_schedule();
    Generator gen(7);
    Tensor x0 = randn({3, 2, 3, 3}, gen), eps = randn({3, 2, 3, 3}, gen);
    const std::vector<int> t = {1, 500, 1000};
    Tensor xt = q_sample(sch, x0, t, eps);
    const int64_t per = 2 * 3 * 3;
    for (int n = 0; n < 3; ++n)
        for (int64_t i = 0; i < per; ++i) {
            const int64_t k = n * per + i;
            const double ref = sch.sqrt_alpha_bar[t[n]] * x0.data()[k] + sch.sqrt_one_minus_alpha_bar[t[n]] * eps.data()[k];
            INFO("sample " << n << " (t = " << t[n] << ") element " << i);
            CHECK(xt.data()[k] == doctest::Approx(ref).epsilon(1e-6).scale(1.0));  // float rounding of values ~3
        }
    CHECK_THROWS_AS(q_sample(sch, x0, {1, 2}, eps), fw::Error);          // 2 timesteps for 3 samples
    CHECK_THROWS_AS(q_sample(sch, x0, {1, 0, 5}, eps), fw::Error);       // t = 0 is not a timestep
    CHECK_THROWS_AS(q_sample(sch, x0, {1, 2, 1001}, eps), fw::Error);    // beyond T
}

TEST_CASE("Eq. 7: x_T is close to N(0, I) whatever x_0 is, and KL(q(x_T | x_0) || N(0, I)) is close to 0") {
    Schedule sch = linear_schedule();
    Generator gen(8);
    const Shape shape = {40, 1, 28, 28};  // 31360 draws: SE of the mean 0.006
    Tensor plus = Tensor::full(shape, 1.0f), minus = Tensor::full(shape, -1.0f), checker = Tensor::empty(shape);
    for (int64_t i = 0; i < checker.numel(); ++i) checker.data()[i] = (i % 2) ? 1.0f : -1.0f;
    for (const Tensor& x0 : {plus, minus, checker}) {
        Tensor xT = q_sample(sch, x0, std::vector<int>(40, sch.T), randn(shape, gen));
        SampleStats s = sample_stats(xT);
        INFO("x0[0] = " << x0.data()[0] << ": mean " << s.mean << " var " << s.var);
        CHECK(matches_gaussian(s, 0.0, 1.0));
        // |x0| = 1 everywhere, so per element KL = 0.5 (ab - ab - log(1 - ab)) = -0.5 log(1 - ab) = 2.0180e-5,
        // from the golden ab = alpha_bar_T = 4.0358297653756754e-05 (numpy; see test_diffusion_schedule.cpp).
        // 1e-9 relative: alpha_bar_T agrees with numpy's to ~1e-13, the double sum of 31360 terms to ~1e-12.
        // (test_diffusion_bound.cpp checks prior_term, the per-image L_T, against the same golden value.)
        const double golden = -0.5 * std::log1p(-4.0358297653756754e-05) * (double)x0.numel();
        CHECK(prior_kl(sch, x0) == doctest::Approx(golden).epsilon(1e-9));
    }
}
