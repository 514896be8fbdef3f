// Claims about the samplers (diffusion/sampler.h): Algorithm 2 (Eq. 18) and DDIM (Eq. 20).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "diffusion/posterior.h"
#include "diffusion/sampler.h"
#include "tests/diffusion_test_util.h"

using namespace fw;
using namespace fw::diffusion;
using fw::test::max_abs_diff;

namespace {
// A data point x0* in [-1, 1] (one sample, broadcast by the oracle over the batch).
Tensor data_point(Generator& gen) { return rand_uniform({1, 1, 6, 6}, gen, -0.9f, 0.9f); }
Tensor repeat(const Tensor& x0, int N) {
    std::vector<Tensor> copies((size_t)N, x0);
    return concat(copies, 0);
}
}  // namespace

TEST_CASE("Eq. 18: Algorithm 2's last step adds no noise (z = 0 at t = 1)") {
    Schedule sch = linear_schedule(50);
    Generator gen(30);
    EpsModel model = [](const Tensor& xt, const std::vector<int>&) { return 0.3f * xt; };  // deterministic
    Tensor x1;
    SampleOptions opts;
    opts.on_step = [&](int t, const Tensor& xt, const Tensor&) { if (t == 1) x1 = xt.clone(); };
    Tensor x0 = ddpm_sample(sch, model, {2, 1, 5, 5}, gen, opts);
    REQUIRE(x1.defined());
    for (int64_t i = 0; i < x0.numel(); ++i) {
        // Eq. 18 at t = 1 with z = 0: (x_1 - beta_1 / sqrt(1 - alpha_bar_1) 0.3 x_1) / sqrt(alpha_1)
        const double x = x1.data()[i];
        const double ref = (x - sch.beta[1] / std::sqrt(1 - sch.alpha_bar[1]) * 0.3 * x) / std::sqrt(sch.alpha[1]);
        // float rounding ~1e-7, where noise sigma_1 z would be ~1e-2
        CHECK(x0.data()[i] == doctest::Approx(ref).epsilon(1e-5).scale(1.0));
    }
    CHECK(!x0.requires_grad());
}

TEST_CASE("Eq. 18: with an oracle eps model for one data point x0*, Algorithm 2 returns x0*") {
    Schedule sch = linear_schedule();
    Generator gen(31);
    Tensor x0_star = data_point(gen);
    for (Sigma sigma : {Sigma::Beta, Sigma::BetaTilde})
        for (bool clip : {false, true}) {
            SampleOptions opts;
            opts.sigma = sigma;
            opts.clip_x0 = clip;
            int steps = 0, last_t = -1;
            opts.on_step = [&](int t, const Tensor&, const Tensor&) { ++steps; last_t = t; };
            Tensor x0 = ddpm_sample(sch, fw::test::oracle_for(sch, x0_star), {3, 1, 6, 6}, gen, opts);
            INFO("sigma^2 = " << sigma_name(sigma) << " clip " << clip << ": max |x0 - x0*| = " << max_abs_diff(x0, repeat(x0_star, 3)));
            CHECK(steps == sch.T);
            CHECK(last_t == 1);
            // the last step is Eq. 12 at t = 1 on an exact eps: float rounding only (~1e-6)
            CHECK(max_abs_diff(x0, repeat(x0_star, 3)) < 1e-4);
        }
}

TEST_CASE("Eq. 18: for data N(0, I) and its exact eps model, Algorithm 2 with sigma^2 = beta keeps x_t ~ N(0, I)") {
    // For x_0 ~ N(0, 1): x_t ~ N(0, 1) for every t, E[eps | x_t] = sqrt(1 - alpha_bar_t) x_t, and
    // the reverse step is exactly N(sqrt(alpha_t) x_t, beta_t) = Eq. 18 with sigma_t^2 = beta_t.
    // The last step has z = 0, so x_0 = sqrt(alpha_1) x_1 ~ N(0, alpha_1).
    Schedule sch = linear_schedule(100);
    Generator gen(32);
    EpsModel exact = [&sch](const Tensor& xt, const std::vector<int>& t) {
        return coef(sch.sqrt_one_minus_alpha_bar, t[0]) * xt;
    };
    Tensor x0 = ddpm_sample(sch, exact, {20000, 1}, gen);
    fw::test::SampleStats s = fw::test::sample_stats(x0);
    INFO("mean " << s.mean << " var " << s.var << " vs " << sch.alpha[1]);
    CHECK(fw::test::matches_gaussian(s, 0.0, sch.alpha[1]));
}

TEST_CASE("Eq. 20: DDIM timesteps start at T, strictly decrease, end at 1, and step to 0 after the last") {
    for (int steps : {30, 7, 2}) {
        std::vector<int> tau = ddim_timesteps(1000, steps);
        INFO("steps = " << steps);
        REQUIRE(tau.size() == (size_t)steps);
        CHECK(tau.front() == 1000);
        CHECK(tau.back() == 1);
        for (size_t i = 1; i < tau.size(); ++i) CHECK(tau[i] < tau[i - 1]);
        for (size_t i = 0; i + 1 < tau.size(); ++i) CHECK(ddim_prev_t(tau, i) == tau[i + 1]);
        CHECK(ddim_prev_t(tau, tau.size() - 1) == 0);
    }
    CHECK(ddim_timesteps(1000, 1) == std::vector<int>{1000});  // one jump, T -> 0
    CHECK(ddim_prev_t({1000}, 0) == 0);
    CHECK(ddim_timesteps(5, 5) == std::vector<int>{5, 4, 3, 2, 1});  // every step
    CHECK(ddim_timesteps(1000, 7) == std::vector<int>{1000, 834, 667, 501, 334, 168, 1});  // 999/6 = 166.5 apart, rounded
    CHECK_THROWS_AS(ddim_timesteps(1000, 0), fw::Error);
    CHECK_THROWS_AS(ddim_timesteps(10, 11), fw::Error);
}

TEST_CASE("Eq. 20: with an oracle eps model for one data point x0*, DDIM returns x0* for 30, 7 and 1 steps") {
    Schedule sch = linear_schedule();
    Generator gen(33);
    Tensor x0_star = data_point(gen);
    for (double eta : {0.0, 1.0})
        for (int steps : {30, 7, 1}) {
            std::vector<int> visited;
            SampleOptions opts;
            opts.on_step = [&](int t, const Tensor&, const Tensor&) { visited.push_back(t); };
            Tensor x0 = ddim_sample(sch, fw::test::oracle_for(sch, x0_star), {2, 1, 6, 6}, gen, steps, eta, opts);
            INFO("eta = " << eta << " steps = " << steps << ": max |x0 - x0*| = " << max_abs_diff(x0, repeat(x0_star, 2)));
            CHECK(visited == ddim_timesteps(sch.T, steps));
            // the last step is x0_hat = Eq. 12 on an exact eps at t = tau_last, amplified by at most
            // 1/sqrt(alpha_bar_T) = 157 (one step): float rounding ~ 1e-4 at worst
            CHECK(max_abs_diff(x0, repeat(x0_star, 2)) < 3e-4);
        }
}

TEST_CASE("Eq. 20: DDIM with eta = 0 is deterministic: the same x_T gives the same x_0 whatever the generator") {
    Schedule sch = linear_schedule();
    Generator data(34);
    Tensor xT = randn({2, 1, 4, 4}, data);
    EpsModel model = [](const Tensor& xt, const std::vector<int>& t) { return 0.9f * xt + 0.01f * (float)t[0] / 1000.0f; };
    Generator g1(1), g2(999);
    Tensor a = ddim_sample_from(sch, model, xT, g1, 20, 0.0);
    Tensor b = ddim_sample_from(sch, model, xT, g2, 20, 0.0);
    CHECK(max_abs_diff(a, b) == 0.0);  // no randomness at all
    Generator g3(1), g4(999);
    Tensor c = ddim_sample_from(sch, model, xT, g3, 20, 1.0);
    Tensor d = ddim_sample_from(sch, model, xT, g4, 20, 1.0);
    CHECK(max_abs_diff(c, d) > 1e-3);  // eta = 1 does use the generator
}

TEST_CASE("Eq. 20: one DDIM step with eta = 1 from t to t - 1 is a DDPM step with sigma^2 = beta_tilde") {
    Schedule sch = linear_schedule();
    Generator gen(35);
    for (int t : {2, 50, 500, 1000}) {
        Tensor xt = randn({2, 1, 4, 4}, gen), eps = randn({2, 1, 4, 4}, gen), z = randn({2, 1, 4, 4}, gen);
        SampleOptions opts;
        opts.sigma = Sigma::BetaTilde;
        Tensor ddpm = ddpm_step(sch, xt, t, eps, z, opts);
        Tensor ddim = ddim_step(sch, xt, t, t - 1, eps, /*eta=*/1.0, z, /*clip_x0=*/false);
        INFO("t = " << t << ": max diff " << max_abs_diff(ddpm, ddim));
        // two float routes to the same Gaussian draw; at t = 1000 DDIM goes through x0_hat = x_t / 0.0064
        CHECK(max_abs_diff(ddpm, ddim) < 1e-4);
    }
}

TEST_CASE("samplers clip x0_hat to [-1, 1] only when asked") {
    Schedule sch = linear_schedule(20);
    Generator gen(36);
    EpsModel zero = [](const Tensor& xt, const std::vector<int>&) { return Tensor::zeros(xt.shape()); };
    for (bool clip : {false, true}) {
        float max_x0_hat = 0;
        SampleOptions opts;
        opts.clip_x0 = clip;
        opts.on_step = [&](int, const Tensor&, const Tensor& x0_hat) {
            for (int64_t i = 0; i < x0_hat.numel(); ++i) max_x0_hat = std::fmax(max_x0_hat, std::fabs(x0_hat.data()[i]));
        };
        ddpm_sample_from(sch, zero, Tensor::full({1, 1, 2, 2}, 3.0f), gen, opts);
        ddim_sample_from(sch, zero, Tensor::full({1, 1, 2, 2}, 3.0f), gen, 5, 0.0, opts);
        INFO("clip " << clip << ": max |x0_hat| = " << max_x0_hat);
        if (clip) CHECK(max_x0_hat <= 1.0f);
        else CHECK(max_x0_hat > 1.0f);
    }
}

TEST_CASE("Eq. 20 with clipping: the step uses the clipped x0_hat and the eps that goes with it") {
    // x_t and an eps whose x0_hat (Eq. 12) lies partly outside [-1, 1]; DDIM from t = 30 to 20.
    Schedule sch = linear_schedule(50);
    Generator gen(41);
    const int t = 30, t_prev = 20;
    Tensor xt = randn({1, 1, 4, 4}, gen), eps = 3.0f * randn({1, 1, 4, 4}, gen);
    Tensor x0_hat;
    Tensor clipped = ddim_step(sch, xt, t, t_prev, eps, 0.0, Tensor(), /*clip_x0=*/true, &x0_hat);
    Tensor raw = ddim_step(sch, xt, t, t_prev, eps, 0.0, Tensor(), /*clip_x0=*/false);
    const double ab = sch.alpha_bar[t], ab_prev = sch.alpha_bar[t_prev];
    int clipped_pixels = 0;
    for (int64_t i = 0; i < xt.numel(); ++i) {
        const double x = xt.data()[i], e = eps.data()[i];
        const double x0 = (x - std::sqrt(1 - ab) * e) / std::sqrt(ab);  // Eq. 12
        const double x0c = std::fmax(-1.0, std::fmin(1.0, x0));
        clipped_pixels += x0c != x0;
        // the eps of the clipped x0_hat: (x_t - sqrt(ab) x0c) / sqrt(1 - ab); Eq. 20 with eta = 0
        const double e_c = (x - std::sqrt(ab) * x0c) / std::sqrt(1 - ab);
        const double want = std::sqrt(ab_prev) * x0c + std::sqrt(1 - ab_prev) * e_c;
        CHECK(clipped.data()[i] == doctest::Approx(want).epsilon(1e-5));  // float rounding of a few ops
        CHECK(x0_hat.data()[i] == doctest::Approx(x0c).epsilon(1e-5));
        if (x0c == x0) CHECK(clipped.data()[i] == doctest::Approx(raw.data()[i]).epsilon(1e-5));  // nothing clipped: Eq. 20 as is
    }
    CHECK(clipped_pixels > 3);  // the case is tested where it matters
}
