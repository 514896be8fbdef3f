// Claims about the training objectives (diffusion/loss.h), Eqs. 16-17.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "diffusion/bound.h"
#include "diffusion/forward_process.h"
#include "diffusion/loss.h"
#include "diffusion/posterior.h"
#include "tests/diffusion_test_util.h"

using namespace fw;
using namespace fw::diffusion;

TEST_CASE("Eq. 16: the KL of Eq. 15 from the means of Eqs. 11 and 14 equals lambda_t ||eps - eps_theta||^2") {
    Schedule sch = linear_schedule();
    Generator gen(16);
    for (Sigma sigma : {Sigma::Beta, Sigma::BetaTilde})
        for (int t : {10, 100, 500, 1000}) {
            Tensor x0 = rand_uniform({1, 1, 8, 8}, gen, -1, 1), eps = randn({1, 1, 8, 8}, gen);
            Tensor eps_theta = eps + 0.3f * randn({1, 1, 8, 8}, gen);  // an imperfect prediction
            Tensor xt = q_sample(sch, x0, {t}, eps);
            Tensor mu_tilde = q_posterior_mean(sch, x0, xt, {t});             // Eq. 11: q's posterior mean
            Tensor mu_th = posterior_mean_from_eps(sch, xt, {t}, eps_theta);  // Eq. 14: p_theta's mean
            const double kl = kl_same_variance(mu_tilde, mu_th, sigma_squared(sch, t, sigma));  // Eq. 15
            double sq = 0;
            for (int64_t i = 0; i < eps.numel(); ++i) sq += std::pow((double)eps.data()[i] - eps_theta.data()[i], 2);
            INFO(sigma_name(sigma) << " t = " << t << ": KL " << kl << " vs lambda_t ||.||^2 " << lambda_t(sch, t, sigma) * sq);
            // the float means differ by ~6e-3 at t = 10 where |mu| ~ 1: ~2e-5 relative per element
            CHECK(kl == doctest::Approx(lambda_t(sch, t, sigma) * sq).epsilon(1e-3));
        }
}

TEST_CASE("Eq. 16: weighted_eps_loss averages lambda_{t_n} ||eps_n - eps_theta_n||^2 and back-propagates") {
    Schedule sch = linear_schedule();
    Generator gen(17);
    const std::vector<int> t = {2, 300, 1000};
    Tensor eps = randn({3, 1, 4, 4}, gen);
    Tensor eps_theta = randn({3, 1, 4, 4}, gen).set_requires_grad(true);
    Tensor loss = weighted_eps_loss(sch, eps, eps_theta, t, Sigma::Beta);
    double ref = 0;
    for (int n = 0; n < 3; ++n) {
        double sq = 0;
        for (int i = 0; i < 16; ++i) sq += std::pow((double)eps.data()[n * 16 + i] - eps_theta.data()[n * 16 + i], 2);
        ref += lambda_t(sch, t[n], Sigma::Beta) * sq / 3.0;
    }
    CHECK(loss.item() == doctest::Approx(ref).epsilon(1e-5));  // float sum of 48 terms
    loss.backward();
    REQUIRE(eps_theta.grad().defined());
    for (int n = 0; n < 3; ++n)
        for (int i = 0; i < 16; ++i) {
            const int k = n * 16 + i;
            // d/d eps_theta of lambda (eps - eps_theta)^2 / N = -2 lambda (eps - eps_theta) / N
            const double g = -2.0 * lambda_t(sch, t[n], Sigma::Beta) * (eps.data()[k] - eps_theta.data()[k]) / 3.0;
            CHECK(eps_theta.grad().data()[k] == doctest::Approx(g).epsilon(1e-5));
        }
    // beta_tilde_1 = 0: the t = 1 term is the decoder L_0, not a KL with a finite weight
    CHECK_THROWS_AS(lambda_t(sch, 1, Sigma::BetaTilde), fw::Error);
}

namespace {

// Pixel levels k / 127.5 - 1 (what the decoder of Eq. 19 bins), drawn uniformly.
Tensor random_levels(const Shape& shape, Generator& gen) {
    Tensor u = rand_uniform(shape, gen, 0.0f, 256.0f);
    std::vector<float> v = u.to_vector();
    for (float& x : v) x = std::min(255.0f, std::floor(x)) / 127.5f - 1.0f;
    return Tensor::from_vector(shape, v);
}

}  // namespace

TEST_CASE("Eq. 16: vlb_loss for t >= 2 is T / D times Eq. 16's weighted loss") {
    Schedule sch = linear_schedule();
    Generator gen(19);
    const std::vector<int> t = {2, 57, 999, 1000};
    Tensor x0 = random_levels({4, 1, 3, 5}, gen), eps = randn({4, 1, 3, 5}, gen);
    Tensor out = randn({4, 1, 3, 5}, gen);
    EpsModel model = [&](const Tensor&, const std::vector<int>&) { return out; };
    for (Sigma sigma : {Sigma::Beta, Sigma::BetaTilde}) {
        const double vlb = vlb_loss(sch, model, x0, t, eps, sigma).item();
        const double weighted = weighted_eps_loss(sch, eps, out, t, sigma).item();
        // both float sums of 60 terms; the factor T / D = 1000 / 15
        CHECK(vlb == doctest::Approx(weighted * 1000.0 / 15.0).epsilon(1e-5));
    }
}

TEST_CASE("Eq. 19: vlb_loss at t = 1 is T / (N D) times L_0, and its gradient is dL_0/d eps_theta") {
    Schedule sch = linear_schedule();
    Generator gen(20);
    const int64_t N = 2, D = 12;
    Tensor x0 = random_levels({N, 1, 3, 4}, gen), eps = randn({N, 1, 3, 4}, gen);
    // eps_theta near the truth (the decoder's mean then lands near x_0, where the bins matter)
    std::vector<float> p0 = (eps + 0.05f * randn({N, 1, 3, 4}, gen)).to_vector();
    Tensor P = Tensor::from_vector({N, 1, 3, 4}, p0).set_requires_grad(true);
    EpsModel model = [&](const Tensor&, const std::vector<int>&) { return P * 1.0f; };
    const std::vector<int> t = {1, 1};
    Tensor loss = vlb_loss(sch, model, x0, t, eps, Sigma::Beta);
    loss.backward();
    REQUIRE(P.grad().defined());

    // L_0 by bound.h's decoder_nll (double), and its derivative by central differences in double
    auto l0 = [&](const std::vector<float>& p) {
        Tensor fixed = Tensor::from_vector({N, 1, 3, 4}, p);
        EpsModel m = [&](const Tensor&, const std::vector<int>&) { return fixed; };
        double s = 0;
        for (double v : decoder_nll(sch, m, x0, eps, Sigma::Beta)) s += v;
        return s;
    };
    const double scale = 1000.0 / (double)(N * D);  // T / (N D)
    CHECK(loss.item() == doctest::Approx(scale * l0(p0)).epsilon(1e-5));  // float rounding of the total
    for (int64_t i = 0; i < N * D; ++i) {
        const float h = 1e-2f;  // moves the decoder's mean by c h / sqrt(alpha_1) = 1e-4, 1/100 of sigma_1
        std::vector<float> up = p0, down = p0;
        up[(size_t)i] += h;
        down[(size_t)i] -= h;
        const double fd = (l0(up) - l0(down)) / (2.0 * (double)h);
        INFO("element " << i << ": analytic " << P.grad().data()[i] / scale << ", finite difference " << fd);
        // the central difference's error is O(h^2) times the third derivative, ~1e-4 relative
        // here: 2e-3 relative. vlb_loss rounds the decoder's mean to float (6e-8 absolute), which
        // moves d(-log P)/d mean by up to 6e-8 / sigma_1^2 = 6e-4, times c / sqrt(alpha_1) = 0.01:
        // 2e-5 absolute.
        const double analytic = P.grad().data()[i] / scale;
        CHECK(std::fabs(analytic - fd) <= 2e-3 * std::fabs(fd) + 2e-5);
    }
}

TEST_CASE("Eq. 17: with eps_theta = 0, L_simple is E||eps||^2 / dim, about 1") {
    Schedule sch = linear_schedule();
    Generator gen(18);
    Tensor x0 = rand_uniform({64, 1, 8, 8}, gen, -1, 1);
    EpsModel zero = [](const Tensor& xt, const std::vector<int>&) { return Tensor::zeros(xt.shape()); };
    Tensor loss = l_simple(sch, zero, x0, gen);
    const double n = (double)x0.numel(), se = std::sqrt(2.0 / n);  // Var(eps^2) = 2 for N(0, 1)
    INFO("L_simple = " << loss.item() << ", SE " << se);
    CHECK(loss.dim() == 0);
    CHECK(std::fabs(loss.item() - 1.0) < 5 * se);
}

TEST_CASE("Eq. 17: with an oracle that inverts Eq. 6 at the t it is given, L_simple is 0") {
    // If l_simple built x_t with one t and asked the model about another, or used another eps
    // as the target, the oracle's answer would be wrong and the loss far from 0.
    Schedule sch = linear_schedule();
    Generator gen(19);
    Tensor x0 = rand_uniform({32, 1, 6, 6}, gen, -1, 1);
    std::vector<int> t;
    Tensor loss = l_simple(sch, fw::test::oracle_for(sch, x0), x0, gen, &t);
    REQUIRE(t.size() == 32);
    INFO("L_simple = " << loss.item());
    // x_t's float rounding (~3e-7) amplified by 1/sqrt(1 - alpha_bar_1) = 100: eps off by ~3e-5, squared ~1e-9
    CHECK(loss.item() < 1e-8);
}

TEST_CASE("Eq. 17: Algorithm 1 draws t uniformly from 1..T") {
    Schedule sch = linear_schedule();
    Generator gen(20);
    const int N = 20000;
    EpsModel zero = [](const Tensor& xt, const std::vector<int>&) { return Tensor::zeros(xt.shape()); };
    std::vector<int> t;
    l_simple(sch, zero, Tensor::zeros({N, 1}), gen, &t);
    REQUIRE(t.size() == (size_t)N);
    CHECK(*std::min_element(t.begin(), t.end()) == 1);  // P(1 never drawn) = (1 - 1/T)^N ~ 2e-9
    CHECK(*std::max_element(t.begin(), t.end()) == sch.T);
    double mean = 0;
    for (int v : t) mean += v;
    mean /= N;
    const double se = std::sqrt(((double)sch.T * sch.T - 1) / 12.0 / N);  // std of U{1..T} / sqrt(N)
    INFO("mean t = " << mean << " vs " << (sch.T + 1) / 2.0 << ", SE " << se);
    CHECK(std::fabs(mean - (sch.T + 1) / 2.0) < 5 * se);
}

TEST_CASE("Eq. 17: backward() of L_simple reaches the parameters of eps_theta") {
    Schedule sch = linear_schedule();
    Tensor w = Tensor::full({1}, 0.4f).set_requires_grad(true);  // eps_theta(x_t) = w x_t: one parameter
    EpsModel model = [&w](const Tensor& xt, const std::vector<int>&) { return w * xt; };
    Generator data_gen(21);
    Tensor x0 = rand_uniform({8, 1, 4, 4}, data_gen, -1, 1);
    Generator gen(22);
    Tensor loss = l_simple(sch, model, x0, gen);
    loss.backward();
    REQUIRE(w.grad().defined());
    // central difference with the same draws (a fresh generator with the same seed)
    auto loss_at = [&](float wv) {
        Tensor wc = Tensor::full({1}, wv);
        EpsModel m = [&wc](const Tensor& xt, const std::vector<int>&) { return wc * xt; };
        Generator g(22);
        return (double)l_simple(sch, m, x0, g).item();
    };
    const float h = 1e-2f;
    const double numeric = (loss_at(0.4f + h) - loss_at(0.4f - h)) / (2 * h);
    INFO("analytic " << w.grad().item() << " numeric " << numeric);
    // the loss is quadratic in w: central differences are exact up to float rounding of ~1/h
    CHECK(w.grad().item() == doctest::Approx(numeric).epsilon(1e-3));
}
