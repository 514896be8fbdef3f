// Claims about editing (diffusion/edit.h): inpainting by replacement with RePaint's resampling,
// DDIM inversion (Eq. 20 run backwards), slerp and interpolation through DDIM's latent.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "diffusion/edit.h"
#include "diffusion/sampler.h"
#include "tests/diffusion_test_util.h"

using namespace fw;
using namespace fw::diffusion;
using fw::test::max_abs_diff;

namespace {

Tensor repeat(const Tensor& x0, int N) {
    std::vector<Tensor> copies((size_t)N, x0);
    return concat(copies, 0);
}

// A (1, 1, H, W) mask: 1 (known) on the left `known_cols` columns, 0 (fill) on the rest.
Tensor left_columns_mask(int H, int W, int known_cols) {
    std::vector<float> m((size_t)(H * W));
    for (int i = 0; i < H; ++i)
        for (int j = 0; j < W; ++j) m[(size_t)(i * W + j)] = j < known_cols ? 1.0f : 0.0f;
    return Tensor::from_vector({1, 1, H, W}, m);
}

// max |a - b| over the elements where the (1, ...) mask broadcast over a's batch equals `where`.
double max_diff_where(const Tensor& a, const Tensor& b, const Tensor& mask, float where) {
    const int64_t per = mask.numel();
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i)
        if (mask.data()[i % per] == where) m = std::fmax(m, std::fabs((double)a.data()[i] - (double)b.data()[i]));
    return m;
}

// True when every element of `a` where the mask is 1 has the bits of the same element of `b`.
bool bitwise_equal_where_known(const Tensor& a, const Tensor& b, const Tensor& mask) {
    const int64_t per = mask.numel();
    for (int64_t i = 0; i < a.numel(); ++i)
        if (mask.data()[i % per] == 1.0f && std::memcmp(a.data() + i, b.data() + i, sizeof(float)) != 0) return false;
    return true;
}

// The exact eps model for data that is one of two points x_a, x_b with probability 1/2 each:
//   E[x_0 | x_t] = w_a x_a + w_b x_b,  w_k ~ exp(-|x_t - sqrt(alpha_bar_t) x_k|^2 / (2 (1 - alpha_bar_t))),
//   eps_theta = (x_t - sqrt(alpha_bar_t) E[x_0 | x_t]) / sqrt(1 - alpha_bar_t)   (Eq. 6 solved for eps)
// in double per sample; x_a, x_b: (1, ...).
EpsModel two_point_oracle(const Schedule& sch, const Tensor& x_a, const Tensor& x_b) {
    return [&sch, x_a, x_b](const Tensor& xt, const std::vector<int>& t) {
        Tensor eps = Tensor::empty(xt.shape());
        const int64_t per = xt.numel() / xt.size(0);
        for (int64_t n = 0; n < xt.size(0); ++n) {
            const int tn = t[(size_t)n];
            const double sab = sch.sqrt_alpha_bar[tn], var = 1.0 - sch.alpha_bar[tn];
            const float* x = xt.data() + n * per;
            double da = 0, db = 0;
            for (int64_t i = 0; i < per; ++i) {
                da += (x[i] - sab * x_a.data()[i]) * (x[i] - sab * x_a.data()[i]);
                db += (x[i] - sab * x_b.data()[i]) * (x[i] - sab * x_b.data()[i]);
            }
            const double w_a = 1.0 / (1.0 + std::exp((da - db) / (2.0 * var)));  // softmax of the two log-weights
            for (int64_t i = 0; i < per; ++i) {
                const double x0 = w_a * x_a.data()[i] + (1.0 - w_a) * x_b.data()[i];
                eps.data()[n * per + i] = (float)((x[i] - sab * x0) / std::sqrt(var));
            }
        }
        return eps;
    };
}

// The exact eps model for data x_0 ~ N(mu, s^2) per element (mu: (1, ...)):
//   x_t ~ N(sqrt(alpha_bar_t) mu, alpha_bar_t s^2 + 1 - alpha_bar_t), and
//   E[eps | x_t] = sqrt(1 - alpha_bar_t) (x_t - sqrt(alpha_bar_t) mu) / (alpha_bar_t s^2 + 1 - alpha_bar_t):
// linear in x_t (smooth), and unlike the one-point oracle it maps different x_T to different x_0.
EpsModel gaussian_oracle(const Schedule& sch, const Tensor& mu, double s) {
    return [&sch, mu, s](const Tensor& xt, const std::vector<int>& t) {
        Tensor eps = Tensor::empty(xt.shape());
        const int64_t per = xt.numel() / xt.size(0);
        for (int64_t n = 0; n < xt.size(0); ++n) {
            const int tn = t[(size_t)n];
            const double ab = sch.alpha_bar[tn];
            for (int64_t i = 0; i < per; ++i)
                eps.data()[n * per + i] = (float)(std::sqrt(1.0 - ab) * (xt.data()[n * per + i] - std::sqrt(ab) * mu.data()[i]) /
                                                  (ab * s * s + 1.0 - ab));
        }
        return eps;
    };
}

// The message of the fw::Error f throws ("" if it throws none).
template <typename F>
std::string error_of(F f) {
    try {
        f();
    } catch (const fw::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

// ---------------------------------------------------------------------------
// Inpainting

TEST_CASE("repaint_schedule: T down to 0 in steps of one, up L levels at every jump point, J times each") {
    CHECK(repaint_schedule(5, 0, 10) == std::vector<int>{5, 4, 3, 2, 1, 0});  // J = 0: Algorithm 2's walk
    // T = 10, J = 1, L = 3: jump points 1, 4, 7 (7 + 3 <= 10)
    CHECK(repaint_schedule(10, 1, 3) == std::vector<int>{10, 9, 8, 7, 8, 9, 10, 9, 8, 7, 6, 5, 4, 5, 6, 7, 6, 5, 4,
                                                         3,  2, 1, 2, 3, 4,  3, 2, 1, 0});
    for (int T : {10, 11, 40})
        for (int J : {1, 3})
            for (int L : {1, 3, 9}) {
                const std::vector<int> lv = repaint_schedule(T, J, L);
                INFO("T = " << T << " J = " << J << " L = " << L);
                CHECK(lv.front() == T);
                CHECK(lv.back() == 0);
                std::vector<int> down((size_t)T + 1, 0);  // down[t]: reverse steps with the model at t
                bool unit_steps = true, in_range = true;
                for (size_t k = 0; k + 1 < lv.size(); ++k) {
                    unit_steps = unit_steps && std::abs(lv[k + 1] - lv[k]) == 1;
                    in_range = in_range && lv[k + 1] >= 0 && lv[k + 1] <= T;
                    if (lv[k + 1] == lv[k] - 1) ++down[(size_t)lv[k]];
                }
                CHECK(unit_steps);
                CHECK(in_range);
                CHECK(std::count(lv.begin(), lv.end(), 0) == 1);  // level 0 only at the end
                int P = 0;  // jump points l = 1 + k L with l + L <= T
                for (int l = 1; l + L <= T; l += L) ++P;
                CHECK(lv.size() == (size_t)(T + 2 * J * L * P + 1));
                // each t in a stretch (l, l + L] is denoised J + 1 times, every other t once
                for (int t = 1; t <= T; ++t) {
                    const bool stretched = t >= 2 && (t - 2) / L < P;  // t in [k L + 2, k L + L + 1] for a k < P
                    CHECK(down[(size_t)t] == (stretched ? J + 1 : 1));
                }
            }
    CHECK_THROWS_WITH_AS(repaint_schedule(10, -1, 3), doctest::Contains("repaint_schedule: jumps = -1"), fw::Error);
    CHECK_THROWS_WITH_AS(repaint_schedule(10, 1, 0), doctest::Contains("repaint_schedule: jump_length = 0"), fw::Error);
    CHECK_THROWS_WITH_AS(repaint_schedule(10, 1, 10), doctest::Contains("must be in 1..T-1"), fw::Error);
    CHECK(repaint_schedule(10, 0, 10).size() == 11);  // L unused without jumps
}

TEST_CASE("inpainting walks repaint_schedule: down by Eq. 18 with the chosen sigma, up by Eq. 2 at the level it reaches") {
    // Nothing known (mask of zeros) and eps_theta = 0.5 x_t: every step is linear in x plus fresh
    // noise, so Var(x) follows a recurrence along the walk, from Var(x_T) = 1:
    //   down at t: x_{t-1} = k_t x_t + sigma_t z,  k_t = (1 - 0.5 beta_t / sqrt(1 - alpha_bar_t)) / sqrt(alpha_t)  (Eq. 18; z = 0 at t = 1)
    //   up to t:   x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) eps                                             (Eq. 2)
    // Betas that alternate between large and small make a step taken at the wrong t visible.
    Schedule sch = schedule_from_betas({0.3, 0.05, 0.4, 0.02, 0.5, 0.1});
    Generator gen(47);
    EpsModel model = [](const Tensor& xt, const std::vector<int>&) { return 0.5f * xt; };
    for (Sigma sigma : {Sigma::Beta, Sigma::BetaTilde}) {
        InpaintOptions opts;
        opts.sigma = sigma;
        opts.jumps = 2;
        opts.jump_length = 2;
        // one image of 100 x 200 independent pixels: 20000 draws
        Tensor x0 = inpaint_sample(sch, model, Tensor::zeros({1, 1, 100, 200}), Tensor::zeros({1, 1, 100, 200}), gen, opts);
        const std::vector<int> lv = repaint_schedule(sch.T, opts.jumps, opts.jump_length);
        double v = 1.0;
        for (size_t k = 0; k + 1 < lv.size(); ++k) {
            if (lv[k + 1] == lv[k] - 1) {
                const int t = lv[k];
                const double k_t = (1.0 - 0.5 * sch.beta[t] / std::sqrt(1.0 - sch.alpha_bar[t])) / std::sqrt(sch.alpha[t]);
                v = k_t * k_t * v + (t > 1 ? sigma_squared(sch, t, sigma) : 0.0);
            } else {
                const int t = lv[k + 1];
                v = sch.alpha[t] * v + sch.beta[t];
            }
        }
        fw::test::SampleStats st = fw::test::sample_stats(x0);
        INFO("sigma^2 = " << std::string(sigma_name(sigma)) << ": mean " << st.mean << " var " << st.var << " vs " << v);
        CHECK(fw::test::matches_gaussian(st, 0.0, v));  // 5 standard errors (diffusion_test_util.h)
    }
}

TEST_CASE("inpainting with an oracle model for one image x*: known pixels come back bitwise, filled pixels reach x*") {
    Schedule sch = linear_schedule();
    Generator gen(40);
    Tensor x_star = rand_uniform({1, 1, 8, 8}, gen, -0.9f, 0.9f);
    Tensor mask = left_columns_mask(8, 8, 3);
    // x_known holds x* where known and a wrong value (0.5) where it is to be filled: only the
    // known part may reach the output
    Tensor x_known = repeat(mask * x_star + (neg(mask) + 1.0f) * 0.5f, 3);
    for (int jumps : {0, 2}) {
        InpaintOptions opts;
        opts.jumps = jumps;
        opts.jump_length = 10;
        int reverse_steps = 0;
        opts.on_step = [&](int, const Tensor&, const Tensor&) { ++reverse_steps; };
        Tensor x0 = inpaint_sample(sch, fw::test::oracle_for(sch, x_star), x_known, mask, gen, opts);
        const double fill_err = max_diff_where(x0, repeat(x_star, 3), mask, 0.0f);
        INFO("jumps = " << jumps << ": max |x0 - x*| over the filled pixels " << fill_err);
        CHECK(x0.shape() == x_known.shape());
        CHECK(bitwise_equal_where_known(x0, x_known, mask));  // 1 * x_known + 0 * x_0
        // the last step is Eq. 18 at t = 1 on an exact eps (x0_hat = x* whatever x_1): float rounding
        // only (~1e-6), as in the sampler's oracle test
        CHECK(fill_err < 1e-4);
        // J = 2, L = 10, T = 1000: 99 jump points, each redoing 10 reverse steps twice
        CHECK(reverse_steps == sch.T + jumps * 10 * 99);
    }
}

TEST_CASE("inpainting with a mask of all ones returns x_known exactly") {
    Schedule sch = linear_schedule(50);
    Generator gen(41);
    Tensor x_known = rand_uniform({2, 1, 5, 5}, gen, -1.0f, 1.0f);
    EpsModel model = [](const Tensor& xt, const std::vector<int>&) { return 0.3f * xt; };
    for (const Tensor& ones : {Tensor::ones({2, 1, 5, 5}), Tensor::ones({1, 1, 5, 5})}) {
        InpaintOptions opts;
        opts.jumps = 1;
        opts.jump_length = 5;
        Tensor x0 = inpaint_sample(sch, model, x_known, ones, gen, opts);
        INFO("mask " << to_string(ones.shape()));
        CHECK(bitwise_equal_where_known(x0, x_known, Tensor::ones({1, 1, 5, 5})));
    }
}

TEST_CASE("inpainting: with two possible images, the known pixels decide which one fills the rest") {
    // Data: x_a or x_b with probability 1/2 each, and its exact eps model. Unconditional sampling
    // (mask of zeros) reaches both; with the left half of x_a known, every sample fills in x_a.
    Schedule sch = linear_schedule(200);
    Generator gen(42);
    Tensor x_a = rand_uniform({1, 1, 6, 6}, gen, -0.9f, 0.9f);
    Tensor x_b = rand_uniform({1, 1, 6, 6}, gen, -0.9f, 0.9f);
    EpsModel model = two_point_oracle(sch, x_a, x_b);
    const int N = 16;
    auto count_near = [&](const Tensor& x0, const Tensor& target, double& worst) {
        int count = 0;
        const int64_t per = target.numel();
        for (int n = 0; n < N; ++n) {
            double d = 0;
            for (int64_t i = 0; i < per; ++i) d = std::fmax(d, std::fabs(x0.data()[n * per + i] - target.data()[i]));
            if (d < 1e-3) {
                ++count;
                worst = std::fmax(worst, d);
            }
        }
        return count;
    };
    double worst = 0;
    Tensor free = inpaint_sample(sch, model, repeat(x_a, N), Tensor::zeros({1, 1, 6, 6}), gen);
    const int free_a = count_near(free, x_a, worst), free_b = count_near(free, x_b, worst);
    INFO("mask of zeros: " << free_a << " x_a, " << free_b << " x_b of " << N);
    CHECK(free_a + free_b == N);
    CHECK(free_a > 0);  // P(all 16 the same) = 2^-15 for a correct sampler
    CHECK(free_b > 0);
    Tensor mask = left_columns_mask(6, 6, 3);
    for (int jumps : {0, 3}) {
        InpaintOptions opts;
        opts.jumps = jumps;
        opts.jump_length = 5;
        for (const Tensor* known : {&x_a, &x_b}) {
            Tensor x0 = inpaint_sample(sch, model, repeat(*known, N), mask, gen, opts);
            const int hits = count_near(x0, *known, worst);
            INFO("jumps = " << jumps << " known " << (known == &x_a ? "x_a" : "x_b") << ": " << hits << " of " << N);
            CHECK(hits == N);
        }
    }
    // at t = 1 the posterior weight of the other point is exp(-|x_a - x_b|^2 / 2e-4) ~ 0: the last
    // step returns the point to float rounding (~1e-6); 1e-3 above only tells the two points apart
    INFO("worst max |x0 - point| " << worst);
    CHECK(worst < 1e-4);
}

// ---------------------------------------------------------------------------
// DDIM inversion and interpolation

TEST_CASE("Eq. 20: DDIM inversion followed by DDIM sampling returns the input, for 10, 50 and 1000 steps, the error shrinking as 1/steps") {
    Schedule sch = linear_schedule();
    Generator gen(43);
    // Data N(mu, 0.5^2) per pixel and its exact (linear, smooth) eps model: x_T differs with x_0,
    // so the round trip is a real test (with the one-point oracle any x_T decodes to x*).
    const double s = 0.5;
    Tensor mu = rand_uniform({1, 1, 6, 6}, gen, -0.5f, 0.5f);
    EpsModel model = gaussian_oracle(sch, mu, s);
    Tensor x0 = repeat(mu, 4) + (float)s * randn({4, 1, 6, 6}, gen);
    const double spread = max_abs_diff(x0, repeat(mu, 4));  // max |x_0 - mu|
    // the probability-flow ODE of this data maps x_0 to
    //   x_T = sqrt(alpha_bar_T) mu + sqrt(alpha_bar_T s^2 + 1 - alpha_bar_T) (x_0 - mu) / s
    const double ab = sch.alpha_bar[sch.T];
    Tensor xT_ode = (float)std::sqrt(ab) * repeat(mu, 4) + (float)(std::sqrt(ab * s * s + 1 - ab) / s) * (x0 - repeat(mu, 4));
    for (int steps : {10, 50, 1000}) {
        Tensor xT = ddim_invert(sch, model, x0, steps);
        Generator unused(0);
        Tensor back = ddim_sample_from(sch, model, xT, unused, steps, /*eta=*/0.0);
        const double trip = max_abs_diff(back, x0), ode = max_abs_diff(xT, xT_ode);
        INFO("steps = " << steps << ": max |x0 - decode(invert(x0))| = " << trip << " (" << trip * steps / spread
                        << " max |x0 - mu| / steps), max |x_T - ODE x_T| = " << ode << " (" << ode * steps << " / steps)");
        // eps_theta(x_{t'}, t) for eps_theta(x_t, t) makes each DDIM step an Euler step of the ODE,
        // first order: both errors are proportional to 1/steps, the round trip's also to |x_0 - mu|
        // (eps_theta is linear in x_t - sqrt(alpha_bar_t) mu). Over 29 other seeds and these step counts,
        // trip * steps / max |x_0 - mu| lay in 2.5..3.8 and ode * steps in 2.4..3.9 (here 3.3 and 3.1 at
        // 10 steps): bounds 4.5 and 5. A wrong coefficient or timestep gives an error that stays O(1)
        // at 1000 steps.
        CHECK(trip < 4.5 * spread / steps);
        CHECK(ode < 5.0 / steps);
    }
    // the one-point oracle: inversion then sampling returns x* itself (float rounding)
    Tensor x_star = rand_uniform({1, 1, 6, 6}, gen, -0.9f, 0.9f);
    Generator unused(0);
    Tensor back = ddim_sample_from(sch, fw::test::oracle_for(sch, x_star),
                                   ddim_invert(sch, fw::test::oracle_for(sch, x_star), x_star, 10), unused, 10, 0.0);
    INFO("one-point oracle: max |x* - decode(invert(x*))| = " << max_abs_diff(back, x_star));
    CHECK(max_abs_diff(back, x_star) < 3e-4);  // as the sampler's oracle test: Eq. 12 amplifies rounding <= 157x
}

TEST_CASE("slerp: alpha = 0 gives a, 1 gives b exactly; between them equal norms are kept, where a straight line shrinks them") {
    Generator gen(44);
    const int N = 3, D = 64;
    Tensor a = randn({N, 1, 8, 8}, gen), b = randn({N, 1, 8, 8}, gen);
    CHECK(max_abs_diff(slerp(a, b, 0.0), a) == 0.0);
    CHECK(max_abs_diff(slerp(a, b, 1.0), b) == 0.0);
    // scale each b_n to |a_n|: equal norms
    auto norms = [&](const Tensor& x) {
        std::vector<double> out((size_t)N, 0.0);
        for (int n = 0; n < N; ++n)
            for (int i = 0; i < D; ++i) out[(size_t)n] += (double)x.data()[n * D + i] * x.data()[n * D + i];
        for (double& v : out) v = std::sqrt(v);
        return out;
    };
    const std::vector<double> na = norms(a), nb = norms(b);
    std::vector<float> scale((size_t)N);
    for (int n = 0; n < N; ++n) scale[(size_t)n] = (float)(na[(size_t)n] / nb[(size_t)n]);
    Tensor b_eq = Tensor::from_vector({N, 1, 1, 1}, scale) * b;
    for (double alpha : {0.25, 0.5, 0.8}) {
        const std::vector<double> ns = norms(slerp(a, b_eq, alpha));
        const std::vector<double> nl = norms((float)(1 - alpha) * a + (float)alpha * b_eq);
        for (int n = 0; n < N; ++n) {
            INFO("alpha = " << alpha << " n = " << n << ": |a| = " << na[(size_t)n] << " |slerp| = " << ns[(size_t)n]
                            << " |lerp| = " << nl[(size_t)n]);
            // float sums of 64 squares and float weights: relative rounding ~1e-6
            CHECK(std::fabs(ns[(size_t)n] / na[(size_t)n] - 1.0) < 1e-5);
            // two independent 64-d Gaussians are nearly orthogonal (cos ~ +-1/8): the line's midpoint
            // is ~sqrt(1/2) as long; 0.95 is far from both
            if (alpha == 0.5) CHECK(nl[(size_t)n] / na[(size_t)n] < 0.95);
        }
    }
    // parallel vectors: the straight line (slerp's limit); antiparallel ones: refused
    CHECK(max_abs_diff(slerp(a, 2.0f * a, 0.5), 1.5f * a) < 1e-6);
    CHECK_THROWS_WITH_AS(slerp(a, -1.0f * a, 0.5), doctest::Contains("slerp: sample 0"), fw::Error);
}

TEST_CASE("DDIM interpolation: alpha = 0 and 1 decode to the two inputs, and one result comes back per alpha") {
    Schedule sch = linear_schedule();
    Generator gen(45);
    const double s = 0.5;
    Tensor mu = rand_uniform({1, 1, 6, 6}, gen, -0.5f, 0.5f);
    EpsModel model = gaussian_oracle(sch, mu, s);
    Tensor x0_a = repeat(mu, 2) + (float)s * randn({2, 1, 6, 6}, gen);
    Tensor x0_b = repeat(mu, 2) + (float)s * randn({2, 1, 6, 6}, gen);
    const std::vector<double> alphas{0.0, 0.5, 1.0};
    std::vector<Tensor> out = ddim_interpolate(sch, model, x0_a, x0_b, alphas, 50);
    REQUIRE(out.size() == alphas.size());
    for (const Tensor& x : out) CHECK(x.shape() == x0_a.shape());
    INFO("max |out[0] - x0_a| = " << max_abs_diff(out[0], x0_a) << ", max |out[2] - x0_b| = " << max_abs_diff(out[2], x0_b)
                                  << ", max |out[1] - x0_a| = " << max_abs_diff(out[1], x0_a));
    // slerp's endpoints are exact, so the endpoints are Eq. 20's round trip at 50 steps: the bound of
    // the round-trip test, 4.5 max |x_0 - mu| / steps
    CHECK(max_abs_diff(out[0], x0_a) < 4.5 * max_abs_diff(x0_a, repeat(mu, 2)) / 50);
    CHECK(max_abs_diff(out[2], x0_b) < 4.5 * max_abs_diff(x0_b, repeat(mu, 2)) / 50);
    CHECK(max_abs_diff(out[1], x0_a) > 0.1);  // the midpoint is neither input
    CHECK(max_abs_diff(out[1], x0_b) > 0.1);
}

TEST_CASE("inpainting, DDIM inversion, slerp and interpolation refuse bad input, naming the function and what was wrong") {
    Schedule sch = linear_schedule(20);
    Generator gen(46);
    EpsModel model = [](const Tensor& xt, const std::vector<int>&) { return 0.3f * xt; };
    Tensor x = rand_uniform({2, 1, 4, 4}, gen, -1.0f, 1.0f);
    Tensor mask = Tensor::ones({1, 1, 4, 4});
    auto inpaint = [&](const Tensor& xk, const Tensor& m, InpaintOptions o = {}) {
        return [&, xk, m, o] { inpaint_sample(sch, model, xk, m, gen, o); };
    };
    std::string e = error_of(inpaint(x, Tensor::ones({1, 1, 4, 5})));
    CHECK(e.find("inpaint_sample: mask has shape [1, 1, 4, 5] but x_known has [2, 1, 4, 4]") != std::string::npos);
    CHECK(error_of(inpaint(x, Tensor::ones({3, 1, 4, 4}))).find("inpaint_sample: mask has shape [3, 1, 4, 4]") != std::string::npos);
    CHECK(error_of(inpaint(x, Tensor::ones({1, 4, 4}))).find("inpaint_sample: mask has shape [1, 4, 4]") != std::string::npos);
    e = error_of(inpaint(x, Tensor::full({1, 1, 4, 4}, 0.5f)));  // refused, not thresholded
    CHECK(e.find("inpaint_sample: mask [1, 1, 4, 4] holds 0.5 at flat index 0") != std::string::npos);
    e = error_of(inpaint(Tensor::full({2, 1, 4, 4}, 255.0f), mask));
    CHECK(e.find("inpaint_sample: x_known [2, 1, 4, 4] holds 255") != std::string::npos);
    CHECK(error_of(inpaint(Tensor::zeros({2, 16}), Tensor::ones({2, 16}))).find("inpaint_sample: x_known must be (N, C, H, W)") !=
          std::string::npos);
    InpaintOptions bad_jump;
    bad_jump.jumps = 1;
    bad_jump.jump_length = 20;
    CHECK(error_of(inpaint(x, mask, bad_jump)).find("inpaint_sample: jump_length = 20 must be in 1..T-1 (T = 20)") !=
          std::string::npos);

    CHECK_THROWS_WITH_AS(ddim_invert(sch, model, x, 0), doctest::Contains("ddim_invert: steps = 0 must be in 1..T (T = 20)"), fw::Error);
    CHECK_THROWS_WITH_AS(ddim_invert(sch, model, x, 21), doctest::Contains("ddim_invert: steps = 21"), fw::Error);
    EpsModel wrong = [](const Tensor&, const std::vector<int>&) { return Tensor::zeros({1}); };
    CHECK_THROWS_WITH_AS(ddim_invert(sch, wrong, x, 5), doctest::Contains("ddim_invert: eps_theta returned [1]"), fw::Error);

    CHECK_THROWS_WITH_AS(slerp(x, x, 1.5), doctest::Contains("slerp: alpha = 1.5 must be in [0, 1]"), fw::Error);
    CHECK_THROWS_WITH_AS(slerp(x, x, -0.1), doctest::Contains("slerp: alpha = -0.1"), fw::Error);
    CHECK_THROWS_WITH_AS(slerp(x, x, std::nan("")), doctest::Contains("slerp: alpha = nan"), fw::Error);
    CHECK_THROWS_WITH_AS(slerp(x, Tensor::zeros({2, 16}), 0.5), doctest::Contains("slerp: a has shape [2, 1, 4, 4] but b has [2, 16]"),
                         fw::Error);

    CHECK_THROWS_WITH_AS(ddim_interpolate(sch, model, x, x, {0.0, 1.2}, 5), doctest::Contains("ddim_interpolate: alphas[1] = 1.2"),
                         fw::Error);
    CHECK_THROWS_WITH_AS(ddim_interpolate(sch, model, x, x, {0.5}, 0), doctest::Contains("ddim_interpolate: steps = 0"), fw::Error);
    CHECK_THROWS_WITH_AS(ddim_interpolate(sch, model, x, Tensor::zeros({1, 1, 4, 4}), {0.5}, 5),
                         doctest::Contains("ddim_interpolate: x0_a has shape [2, 1, 4, 4] but x0_b has [1, 1, 4, 4]"), fw::Error);
}
