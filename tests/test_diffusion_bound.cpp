// Claims about the whole bound (diffusion/bound.h): the discrete decoder (Eq. 19); Eq. 10's bound on
// discretized Gaussian data against a computation from the definitions in long double; Eq. 16's form
// of each denoising term; the prior term's golden value (Eq. 7); the joint log-densities of a
// trajectory (Eqs. 8-9) and their mean, which is the bound (Eq. 10).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "diffusion/bound.h"
#include "diffusion/forward_process.h"
#include "diffusion/loss.h"
#include "diffusion/schedule.h"

using namespace fw;
using namespace fw::diffusion;

namespace {

using ld = long double;
const ld kPi = std::acos((ld)-1);
const ld kSqrt2 = std::sqrt((ld)2);
const ld kInf = std::numeric_limits<ld>::infinity();

// Pixel level k as the float the data holds: k / 127.5 - 1.
float level(int k) { return (float)(k / 127.5 - 1.0); }

// log Phi(z) in long double: erfc while it is comfortably representable (z > -100), else the
// asymptotic series phi(z) / |z| (1 - 1/z^2 + 3/z^4), whose error is < 15 / z^6 = 2e-11 at |z| = 100.
ld log_Phi(ld z) {
    if (z > -100) return std::log(0.5L * std::erfc(-z / kSqrt2));
    const ld r = 1 / (z * z);
    return -z * z / 2 - std::log(-z) - 0.5L * std::log(2 * kPi) + std::log1p(-r + 3 * r * r);
}

// log of the mass of N(m, s^2) on [a, b] by composite Simpson in long double, scaled by the density's
// value at the point xs of [a, b] nearest to m so that far bins do not underflow. Only the part of
// [a, b] within R of xs is integrated: beyond it the density has fallen below e^-40 of its value at xs
// (slope (y - m) / s^2 >= |xs - m| / s^2, so R = 40 s^2 / |xs - m|) or e^-72 (R = 12 s). With
// n = 4000 the step is h <= 0.05 of the local length scale, Simpson's relative error
// (h / scale)^4 / 180 < 4e-8.
ld log_mass_simpson(ld a, ld b, ld m, ld s) {
    const ld xs = std::min(std::max(m, a), b), dist = std::fabs(xs - m);
    ld R = 12 * s;
    if (dist > 0) R = std::min(R, 40 * s * s / dist);
    const ld lo = std::max(a, xs - R), hi = std::min(b, xs + R);
    const int n = 4000;
    const ld h = (hi - lo) / n;
    ld sum = 0;
    for (int i = 0; i <= n; ++i) {
        const ld y = lo + i * h, w = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
        sum += w * std::exp(-((y - m) * (y - m) - dist * dist) / (2 * s * s));
    }
    return std::log(sum * h / 3) - dist * dist / (2 * s * s) - std::log(s * std::sqrt(2 * kPi));
}

// log P(lo < Z < hi), Z ~ N(0, 1), in long double (erfc of long double reaches 1e-4900: no series
// needed for the |z| < 20 these tests meet), the difference taken on the side that does not cancel.
ld log_normal_interval_ld(ld lo, ld hi) {
    if (lo >= 0) return std::log(0.5L * (std::erfc(lo / kSqrt2) - std::erfc(hi / kSqrt2)));
    if (hi <= 0) return std::log(0.5L * (std::erfc(-hi / kSqrt2) - std::erfc(-lo / kSqrt2)));
    return std::log1p(-0.5L * (std::erfc(hi / kSqrt2) + std::erfc(-lo / kSqrt2)));
}

// log P(bin of level k | N(mu, sigma^2)), the edge bins extended to -inf and +inf.
ld log_bin_ld(int k, ld mu, ld sigma) {
    const ld x = k / (ld)127.5 - 1;
    const ld lo = k == 0 ? -kInf : (x - 1 / (ld)255 - mu) / sigma;
    const ld hi = k == 255 ? kInf : (x + 1 / (ld)255 - mu) / sigma;
    return log_normal_interval_ld(lo, hi);
}

// The discretized Gaussian: p[k] = mass of N(m, s^2) in level k's bin (edges: the tails).
std::vector<ld> level_probabilities(ld m, ld s) {
    std::vector<ld> p(256);
    for (int k = 0; k < 256; ++k) p[(size_t)k] = std::exp(log_bin_ld(k, m, s));
    return p;
}

// N levels drawn with probabilities p (inverse CDF of uniforms).
std::vector<int> draw_levels(const std::vector<ld>& p, int N, Generator& gen) {
    std::vector<float> u((size_t)N);
    gen.uniform(u.data(), N);
    std::vector<ld> cdf(256);
    ld c = 0;
    for (int k = 0; k < 256; ++k) cdf[(size_t)k] = (c += p[(size_t)k]);
    cdf[255] = 2;  // whatever rounding left over
    std::vector<int> k((size_t)N);
    for (int n = 0; n < N; ++n) k[(size_t)n] = (int)(std::upper_bound(cdf.begin(), cdf.end(), (ld)u[(size_t)n]) - cdf.begin());
    return k;
}

// 1-pixel images (N, 1, 1, 1) at the given levels.
Tensor images_of(const std::vector<int>& k) {
    std::vector<float> v(k.size());
    for (size_t n = 0; n < k.size(); ++n) v[n] = level(k[n]);
    return Tensor::from_vector({(int64_t)k.size(), 1, 1, 1}, v);
}

// The Bayes-optimal noise predictor for continuous data x_0 ~ N(m, s^2) (E[eps | x_t] of jointly
// Gaussian x_t and eps), scaled by f (f = 1: optimal; f < 1: a worse predictor):
//   eps_hat(x_t, t) = f sqrt(1 - alpha_bar_t) (x_t - sqrt(alpha_bar_t) m) / (alpha_bar_t s^2 + 1 - alpha_bar_t)
// = a_t x_t + b_t, written with fw ops (per-image coefficients broadcast over the pixels).
EpsModel linear_eps(const Schedule& sch, double m, double s, double f) {
    std::vector<double> a((size_t)sch.T + 1, 0.0), b((size_t)sch.T + 1, 0.0);
    for (int t = 1; t <= sch.T; ++t) {
        const double ab = sch.alpha_bar[t];
        a[(size_t)t] = f * std::sqrt(1 - ab) / (ab * s * s + 1 - ab);
        b[(size_t)t] = -a[(size_t)t] * std::sqrt(ab) * m;
    }
    return [a, b](const Tensor& xt, const std::vector<int>& t) {
        Shape cs((size_t)xt.dim(), 1);
        cs[0] = xt.size(0);
        std::vector<float> av(t.size()), bv(t.size());
        for (size_t n = 0; n < t.size(); ++n) {
            av[n] = (float)a[(size_t)t[n]];
            bv[n] = (float)b[(size_t)t[n]];
        }
        return Tensor::from_vector(cs, av, xt.device()) * xt + Tensor::from_vector(cs, bv, xt.device());
    };
}

// Eq. 10's terms for x_0 = level k and eps_theta = linear_eps(m, s, f), from the definitions in long
// double, with no Monte-Carlo and none of bound.cpp's code; the schedule enters only as its betas.
//   L_T      KL(N(sqrt(ab_T) x0, 1 - ab_T) || N(0, 1)) in closed form
//   L_{t-1}  mu_tilde (Eq. 11) and mu_theta (Eq. 14 with the linear eps_hat) are both linear in x0 and
//            eps, so mu_tilde - mu_theta = A x0 + C + B eps and
//            E_eps KL = 0.5 (log(s2 / bt) + bt / s2 - 1) + ((A x0 + C)^2 + B^2) / (2 s2)
//   L_0      E_eps[-log P(bin(x0) | mu_theta(x_1, 1), sigma_1)], Simpson over eps in [-10, 10], h = 0.01
struct Independent {
    std::vector<ld> prior, denoising, decoder;  // per level k, nats
    ld total(int k) const { return prior[(size_t)k] + denoising[(size_t)k] + decoder[(size_t)k]; }
};

Independent independent_bound(const std::vector<double>& beta, Sigma sigma, ld m, ld s, ld f) {
    const int T = (int)beta.size() - 1;
    std::vector<ld> ab((size_t)T + 1, 1);
    for (int t = 1; t <= T; ++t) ab[(size_t)t] = ab[(size_t)t - 1] * (1 - (ld)beta[(size_t)t]);
    auto lin_a = [&](int t) { return f * std::sqrt(1 - ab[(size_t)t]) / (ab[(size_t)t] * s * s + 1 - ab[(size_t)t]); };
    auto lin_b = [&](int t) { return -lin_a(t) * std::sqrt(ab[(size_t)t]) * m; };
    Independent r;
    r.prior.assign(256, 0);
    r.denoising.assign(256, 0);
    r.decoder.assign(256, 0);
    const ld abT = ab[(size_t)T];
    for (int k = 0; k < 256; ++k) {
        const ld x = k / (ld)127.5 - 1;
        r.prior[(size_t)k] = 0.5L * (abT * x * x - abT - std::log1p(-abT));
    }
    for (int t = 2; t <= T; ++t) {
        const ld b = beta[(size_t)t], al = 1 - b, abt = ab[(size_t)t], abp = ab[(size_t)t - 1];
        const ld bt = (1 - abp) / (1 - abt) * b;
        const ld s2 = sigma == Sigma::Beta ? b : bt;
        const ld c0 = std::sqrt(abp) * b / (1 - abt), c1 = std::sqrt(al) * (1 - abp) / (1 - abt);
        const ld ec = b / std::sqrt(1 - abt);
        // mu_theta = (x_t - ec (a x_t + b_lin)) / sqrt(al), x_t = sqrt(abt) x0 + sqrt(1 - abt) eps
        const ld g = c1 - (1 - ec * lin_a(t)) / std::sqrt(al);  // coefficient of x_t in mu_tilde - mu_theta
        const ld A = c0 + g * std::sqrt(abt), C = ec * lin_b(t) / std::sqrt(al), B = g * std::sqrt(1 - abt);
        const ld var_part = 0.5L * (std::log(s2 / bt) + bt / s2 - 1);
        for (int k = 0; k < 256; ++k) {
            const ld x = k / (ld)127.5 - 1, mean_d = A * x + C;
            r.denoising[(size_t)k] += var_part + (mean_d * mean_d + B * B) / (2 * s2);
        }
    }
    const ld b1 = beta[1], al1 = 1 - b1, ec1 = b1 / std::sqrt(1 - ab[1]);
    const ld sigma1 = std::sqrt(sigma == Sigma::Beta ? b1 : (1 - ab[1]) / (1 - ab[2]) * (ld)beta[2]);
    const ld a1 = lin_a(1), lb1 = lin_b(1);
    const int n = 2000;
    const ld h = 20 / (ld)n;
    for (int k = 0; k < 256; ++k) {
        const ld x = k / (ld)127.5 - 1;
        // mu_theta(x_1, 1) = M0 + M1 eps
        const ld M0 = ((1 - ec1 * a1) * std::sqrt(ab[1]) * x - ec1 * lb1) / std::sqrt(al1);
        const ld M1 = (1 - ec1 * a1) * std::sqrt(1 - ab[1]) / std::sqrt(al1);
        ld sum = 0;
        for (int i = 0; i <= n; ++i) {
            const ld e = -10 + i * h, w = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
            sum += w * std::exp(-e * e / 2) / std::sqrt(2 * kPi) * -log_bin_ld(k, M0 + M1 * e, sigma1);
        }
        r.decoder[(size_t)k] = sum * h / 3;
    }
    return r;
}

struct MeanSE {
    double mean = 0, sd = 0, se = 0;
};
MeanSE mean_se(const std::vector<double>& v) {
    MeanSE r;
    for (double x : v) r.mean += x;
    r.mean /= (double)v.size();
    for (double x : v) r.sd += (x - r.mean) * (x - r.mean);
    r.sd = std::sqrt(r.sd / (double)(v.size() - 1));
    r.se = r.sd / std::sqrt((double)v.size());
    return r;
}

const double kM = 0.2, kS = 0.3;  // the data of the Eq. 10 tests: N(0.2, 0.3^2) on the 256 levels

}  // namespace

// ============================================================================================
// Eq. 19: the discrete decoder
// ============================================================================================

TEST_CASE("Eq. 19: the 256 bin probabilities sum to 1, interior bins match Simpson integration of the density, edge bins are the tails") {
    struct Case { float mean; double sigma; };
    const float lv200 = level(200), edge200 = (float)(200.5 / 127.5 - 1.0);
    // sigma tiny (far bins deep in the tails, |z| up to 2500), huge, mean outside [-1, 1], mean on a
    // level and on a bin edge; sigma = 0.02 at mean 0.3 puts both edge boundaries at 30 < |z| < 100
    // (bound.cpp's asymptotic tails against erfc here)
    for (Case c : {Case{0.3f, 1e-3}, Case{0.3f, 0.05}, Case{0.3f, 0.02}, Case{-0.9f, 0.02}, Case{0.0f, 10.0},
                   Case{1.7f, 0.1}, Case{-1.4f, 0.5}, Case{lv200, 1e-3}, Case{edge200, 0.01}}) {
        std::vector<float> x(256), mean(256, c.mean);
        for (int k = 0; k < 256; ++k) x[(size_t)k] = level(k);
        const std::vector<double> lp = discretized_gaussian_log_likelihood(x, mean, c.sigma);
        INFO("mean " << c.mean << " sigma " << c.sigma);
        double total = 0;
        for (double l : lp) total += std::exp(l);
        CHECK(std::fabs(total - 1.0) < 1e-12);  // each probability to ~1e-15 relative; 256 of them
        const ld m = c.mean, s = c.sigma;
        double worst = 0;
        int worst_k = -1;
        for (int k = 1; k < 255; ++k) {
            const ld xk = k / (ld)127.5 - 1;
            const ld ref = log_mass_simpson(xk - 1 / (ld)255, xk + 1 / (ld)255, m, s);
            const double err = (double)(std::fabs(lp[(size_t)k] - ref) / std::max((ld)1, std::fabs(ref)));
            if (err > worst) worst = err, worst_k = k;
        }
        INFO("interior: worst bin " << worst_k << ", |log p - log Simpson| / max(1, |log p|) = " << worst);
        CHECK(worst < 1e-7);  // Simpson's relative error < 4e-8 (see log_mass_simpson); ours is exact to ~1e-13
        // the edge bins are the tails: P(x = -1) = Phi((-1 + 1/255 - mean) / sigma),
        // P(x = 1) = 1 - Phi((1 - 1/255 - mean) / sigma) = Phi(-(1 - 1/255 - mean) / sigma)
        const ld lo_tail = log_Phi((-1 + 1 / (ld)255 - m) / s), hi_tail = log_Phi(-(1 - 1 / (ld)255 - m) / s);
        INFO("log P(x = -1) = " << lp[0] << " vs log Phi = " << (double)lo_tail << "; log P(x = 1) = " << lp[255]
                                << " vs " << (double)hi_tail);
        // relative 1e-9 of the log: double's -z^2 / 2 for |z| ~ 2500, and log_Phi's series (2e-11)
        CHECK(std::fabs(lp[0] - lo_tail) <= 1e-9 * std::max((ld)1, std::fabs(lo_tail)));
        CHECK(std::fabs(lp[255] - hi_tail) <= 1e-9 * std::max((ld)1, std::fabs(hi_tail)));
    }
}

TEST_CASE("Eq. 19: discretized_gaussian_log_likelihood refuses x off the 256 levels, naming the index and value") {
    const std::vector<float> mean(3, 0.0f);
    auto ll = [&](std::vector<float> x) { return discretized_gaussian_log_likelihood(x, mean, 0.1); };
    CHECK_THROWS_WITH_AS(ll({-1.0f, 1.0f, 0.5f}), doctest::Contains("x[2] = 0.5 is not one of the 256 levels"), Error);
    CHECK_THROWS_WITH_AS(ll({0.0f, 1.0f, 1.0f}), doctest::Contains("x[0] = 0 is not one of the 256 levels"), Error);
    CHECK_THROWS_WITH_AS(ll({1.0f, 1.01f, 1.0f}), doctest::Contains("x[1] = 1.01"), Error);
    CHECK_THROWS_AS(ll({1.0f, 1.0f, std::nanf("")}), Error);
    CHECK_NOTHROW(ll({level(0), level(128) + 5e-5f, level(255)}));  // within 1e-4 of a level is that level
    CHECK_THROWS_WITH_AS(discretized_gaussian_log_likelihood({1.0f}, mean, 0.1), doctest::Contains("3 means"), Error);
    CHECK_THROWS_AS(discretized_gaussian_log_likelihood({1.0f}, {0.0f}, 0.0), Error);
}

TEST_CASE("Eq. 19: bits per dimension are nats / (D ln 2)") {
    CHECK(bits_per_dim(784 * std::log(2.0), 784) == doctest::Approx(1.0).epsilon(1e-15));
    CHECK(bits_per_dim(3.0, 1) == doctest::Approx(3.0 / std::log(2.0)).epsilon(1e-15));
    CHECK_THROWS_AS(bits_per_dim(1.0, 0), Error);
}

// ============================================================================================
// Eq. 7: the prior term
// ============================================================================================

TEST_CASE("Eq. 7: the prior term L_T for the linear schedule equals the closed form from the golden alpha_bar_T") {
    // Golden value from numpy (as in test_diffusion_schedule.cpp's Eq. 7 test):
    // np.prod(1 - np.linspace(1e-4, 0.02, 1000)) = 4.0358297653756754e-05.
    const ld ab = 4.0358297653756754e-05L;
    // per element: KL(N(sqrt(ab) x, 1 - ab) || N(0, 1)) = 0.5 (ab x^2 - ab - log(1 - ab))
    auto golden = [&](ld x, int64_t D) { return D * 0.5L * (ab * x * x - ab - std::log1p(-ab)); };
    Schedule sch = linear_schedule();
    const int64_t D = 28 * 28;
    std::vector<float> v(3 * D);
    for (int64_t i = 0; i < D; ++i) v[(size_t)i] = 1.0f, v[(size_t)(D + i)] = 0.0f, v[(size_t)(2 * D + i)] = -1.0f;
    const Tensor x0 = Tensor::from_vector({3, 1, 28, 28}, v);  // all ones, all zeros, all minus ones
    const std::vector<double> L = prior_term(sch, x0);
    REQUIRE(L.size() == 3);
    const ld want[3] = {golden(1, D), golden(0, D), golden(-1, D)};
    for (int n = 0; n < 3; ++n) {
        INFO("image " << n << ": L_T = " << L[(size_t)n] << ", golden " << (double)want[n]);
        // alpha_bar_T agrees with numpy's to ~1e-13; the zeros' 3.2e-7 = D ab^2 / 4 is kept to double
        // precision by log1p (a plain log(1 - ab) would leave ~1e-7 relative)
        CHECK(std::fabs(L[(size_t)n] - want[n]) <= 1e-10 * want[n]);
    }
    // ...and prior_kl (forward_process.h), the same KL summed over a whole tensor, agrees
    CHECK(prior_kl(sch, x0) == doctest::Approx(L[0] + L[1] + L[2]).epsilon(1e-9));
    CHECK((double)want[0] == doctest::Approx(D * 2.0179556e-5).epsilon(1e-7));  // 0.5 (ab + ab^2 / 2 + ...) per pixel
}

// ============================================================================================
// Eq. 16: each denoising term is a weighted noise error
// ============================================================================================

TEST_CASE("Eq. 16: each denoising term equals lambda_t ||eps - eps_theta||^2, plus the variance KL when sigma_t^2 = beta_t") {
    Schedule sch = linear_schedule();
    Generator gen(16);
    const Shape shape = {5, 1, 3, 3};
    const int64_t D = 9;
    Tensor x0 = rand_uniform(shape, gen, -1, 1), eps = randn(shape, gen);
    const std::vector<int> t = {2, 3, 40, 500, 1000};
    EpsModel model = [](const Tensor& x, const std::vector<int>&) { return 0.5f * x - 0.2f; };  // any function of x_t
    // what the model sees and says, recomputed here (q_sample and the model are deterministic)
    const std::vector<float> xt = q_sample(sch, x0, t, eps).to_vector();
    const std::vector<float> eh = model(q_sample(sch, x0, t, eps), t).to_vector();
    for (Sigma sigma : {Sigma::BetaTilde, Sigma::Beta}) {
        const std::vector<double> L = denoising_term(sch, model, x0, t, eps, sigma);
        for (int n = 0; n < 5; ++n) {
            const int tn = t[(size_t)n];
            // the noise the float x_t carries: Eq. 6 solved for eps (differs from eps by x_t's rounding
            // over sqrt(1 - alpha_bar_t), up to ~1e-5 at t = 2)
            double sq_carried = 0, sq_given = 0;
            for (int64_t i = 0; i < D; ++i) {
                const size_t j = (size_t)(n * D + i);
                const double e_c = ((double)xt[j] - sch.sqrt_alpha_bar[tn] * x0.data()[j]) / sch.sqrt_one_minus_alpha_bar[tn];
                sq_carried += (e_c - eh[j]) * (e_c - eh[j]);
                sq_given += ((double)eps.data()[j] - eh[j]) * ((double)eps.data()[j] - eh[j]);
            }
            const double bt = sch.beta_tilde[tn], s2 = sigma_squared(sch, tn, sigma);
            const double var_kl = D * 0.5 * (std::log(s2 / bt) + bt / s2 - 1);  // 0 for BetaTilde
            const double lam = lambda_t(sch, tn, sigma);
            INFO(std::string(sigma_name(sigma)) << ", t = " << tn << ": L = " << L[(size_t)n] << ", lambda ||eps - eps_theta||^2 = "
                                   << lam * sq_carried << ", variance KL = " << var_kl);
            if (sigma == Sigma::BetaTilde) CHECK(var_kl == 0.0);
            // double rounding of the two means (values ~3, difference >= ~1e-3): ~1e-12 relative
            CHECK(L[(size_t)n] == doctest::Approx(var_kl + lam * sq_carried).epsilon(1e-9));
            CHECK(L[(size_t)n] == doctest::Approx(var_kl + lam * sq_given).epsilon(1e-3));  // the given eps: x_t's float rounding
        }
    }
}

TEST_CASE("Eq. 16: the bound's denoising part is the sum over t = 2..T of lambda_t ||eps - eps_theta||^2 at every x_t the model saw") {
    Schedule sch = linear_schedule(100);
    Generator data(161);
    const Shape shape = {3, 1, 2, 2};
    const int64_t D = 4;
    std::vector<float> v(12);
    for (size_t i = 0; i < v.size(); ++i) v[i] = level((int)(i * 23 % 256));
    const Tensor x0 = Tensor::from_vector(shape, v);
    for (Sigma sigma : {Sigma::Beta, Sigma::BetaTilde}) {
        // a model that records every call: its x_t, t and output
        struct Call { std::vector<float> xt, eh; std::vector<int> t; };
        std::vector<Call> calls;
        EpsModel model = [&calls](const Tensor& x, const std::vector<int>& t) {
            Tensor out = 0.5f * x - 0.2f;
            calls.push_back({x.to_vector(), out.to_vector(), t});
            return out;
        };
        Generator gen(162);
        BoundOptions opt;
        opt.sigma = sigma;
        const BoundTerms r = nll_bound(sch, model, x0, gen, opt);
        REQUIRE(calls.size() == (size_t)sch.T);  // one call per t
        std::vector<double> want(3, 0.0);
        std::vector<double> per_t((size_t)sch.T + 1, 0.0);
        for (const Call& c : calls) {
            const int tc = c.t[0];
            if (tc == 1) continue;  // the decoder's call
            const double lam = lambda_t(sch, tc, sigma), bt = sch.beta_tilde[tc], s2 = sigma_squared(sch, tc, sigma);
            for (int n = 0; n < 3; ++n) {
                double sq = 0;
                for (int64_t i = 0; i < D; ++i) {
                    const size_t j = (size_t)(n * D + i);
                    const double e = ((double)c.xt[j] - sch.sqrt_alpha_bar[tc] * v[j]) / sch.sqrt_one_minus_alpha_bar[tc];
                    sq += (e - c.eh[j]) * (e - c.eh[j]);
                }
                const double L = D * 0.5 * (std::log(s2 / bt) + bt / s2 - 1) + lam * sq;  // Eq. 16 (+ variance KL)
                want[(size_t)n] += L;
                per_t[(size_t)tc] += L / 3;
            }
        }
        for (int n = 0; n < 3; ++n) {
            INFO(std::string(sigma_name(sigma)) << ", image " << n);
            CHECK(r.denoising[(size_t)n] == doctest::Approx(want[(size_t)n]).epsilon(1e-9));  // double rounding
            CHECK(r.denoising_se[(size_t)n] == 0.0);
        }
        REQUIRE(r.per_t.size() == (size_t)sch.T + 1);
        for (int tc = 2; tc <= sch.T; ++tc) CHECK(r.per_t[(size_t)tc] == doctest::Approx(per_t[(size_t)tc]).epsilon(1e-9));
    }
}

// ============================================================================================
// Eqs. 8 and 9 on a hand-sized chain
// ============================================================================================

namespace {

// A 3-step chain of 2 images of 2 pixels, values chosen by hand (x_0 on the levels).
struct HandChain {
    Schedule sch = schedule_from_betas({0.1, 0.2, 0.3});
    std::vector<std::vector<float>> x = {
        {-1.0f, 0.2f, 1.0f, -0.2f},       // x_0: levels 0, 153, 255, 102
        {-0.75f, 0.5f, 0.875f, -0.25f},   // x_1
        {-0.5f, 0.25f, 1.125f, 0.0625f},  // x_2
        {0.125f, -0.5f, 0.75f, 1.5f},     // x_3
    };
    std::vector<Tensor> xs() const {
        std::vector<Tensor> out;
        for (const auto& xt : x) out.push_back(Tensor::from_vector({2, 1, 1, 2}, xt));
        return out;
    }
};

ld log_normal_ld(ld x, ld m, ld v) { return -0.5L * ((x - m) * (x - m) / v + std::log(2 * kPi * v)); }

}  // namespace

TEST_CASE("Eq. 8: log_q_chain of a hand-sized 3-step chain is the sum of its Gaussian step log-densities") {
    HandChain h;
    const ld beta[4] = {0, 0.1L, 0.2L, 0.3L};
    const std::vector<double> lq = log_q_chain(h.sch, h.xs());
    REQUIRE(lq.size() == 2);
    for (int n = 0; n < 2; ++n) {
        ld want = 0;
        for (int t = 1; t <= 3; ++t)
            for (int i = 0; i < 2; ++i)  // q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t)
                want += log_normal_ld(h.x[(size_t)t][(size_t)(2 * n + i)],
                                      std::sqrt(1 - beta[t]) * h.x[(size_t)t - 1][(size_t)(2 * n + i)], beta[t]);
        INFO("image " << n << ": log_q_chain " << lq[(size_t)n] << ", by hand " << (double)want);
        CHECK(std::fabs(lq[(size_t)n] - want) < 1e-12 * std::max((ld)1, std::fabs(want)));  // double rounding
    }
    std::vector<Tensor> short_chain = h.xs();
    short_chain.pop_back();
    CHECK_THROWS_WITH_AS(log_q_chain(h.sch, short_chain), doctest::Contains("need T + 1 = 4"), Error);
}

TEST_CASE("Eq. 9: log_p_reverse of a hand-sized 3-step chain with eps_theta = 0 is the sum of its step log-densities and the decoder's") {
    HandChain h;
    const ld beta[4] = {0, 0.1L, 0.2L, 0.3L};
    const ld ab[4] = {1, 0.9L, 0.9L * 0.8L, 0.9L * 0.8L * 0.7L};
    std::vector<int> seen_t;
    EpsModel zero = [&seen_t](const Tensor& x, const std::vector<int>& t) {
        seen_t.push_back(t[0]);
        return Tensor::zeros(x.shape());
    };
    const int k0[4] = {0, 153, 255, 102};  // x_0's levels
    for (Sigma sigma : {Sigma::Beta, Sigma::BetaTilde}) {
        seen_t.clear();
        const std::vector<double> lp = log_p_reverse(h.sch, zero, h.xs(), sigma);
        CHECK(seen_t == std::vector<int>{3, 2, 1});
        auto s2 = [&](int t) { return sigma == Sigma::Beta ? beta[t] : (1 - ab[t - 1]) / (1 - ab[t]) * beta[t]; };
        const ld sigma1 = std::sqrt(sigma == Sigma::Beta ? beta[1] : s2(2));  // the decoder's variance
        for (int n = 0; n < 2; ++n) {
            ld want = 0;
            for (int i = 0; i < 2; ++i) {
                const size_t j = (size_t)(2 * n + i);
                want += log_normal_ld(h.x[3][j], 0, 1);  // p(x_T) = N(0, 1)
                // with eps_theta = 0, mu_theta(x_t, t) = x_t / sqrt(alpha_t)
                for (int t = 3; t >= 2; --t)
                    want += log_normal_ld(h.x[(size_t)t - 1][j], h.x[(size_t)t][j] / std::sqrt(1 - beta[t]), s2(t));
                // the decoder: the mass of N(x_1 / sqrt(alpha_1), sigma_1^2) in x_0's bin
                const ld mu = h.x[1][j] / std::sqrt(1 - beta[1]), x = k0[j] / (ld)127.5 - 1;
                const ld Phi_hi = k0[j] == 255 ? 1 : 0.5L * std::erfc(-(x + 1 / (ld)255 - mu) / (sigma1 * kSqrt2));
                const ld Phi_lo = k0[j] == 0 ? 0 : 0.5L * std::erfc(-(x - 1 / (ld)255 - mu) / (sigma1 * kSqrt2));
                want += std::log(Phi_hi - Phi_lo);
            }
            INFO(std::string(sigma_name(sigma)) << ", image " << n << ": log_p_reverse " << lp[(size_t)n] << ", by hand " << (double)want);
            // double rounding; the decoder's bins here hold 1e-3..0.5 of the mass (no cancellation)
            CHECK(std::fabs(lp[(size_t)n] - want) < 1e-10 * std::max((ld)1, std::fabs(want)));
        }
    }
}

// ============================================================================================
// Eq. 10: the bound against its definition
// ============================================================================================

TEST_CASE("Eq. 10: on discretized Gaussian data with the Bayes-optimal linear eps_theta, nll_bound equals the bound computed independently in long double") {
    Schedule sch = linear_schedule();
    const std::vector<ld> p = level_probabilities(kM, kS);
    ld H = 0;  // the data's entropy, the least any model's -log p can average
    for (ld pk : p)
        if (pk > 0) H -= pk * std::log(pk);
    const int N = 8192;
    Generator data_gen(100);
    const std::vector<int> k = draw_levels(p, N, data_gen);
    const Tensor x0 = images_of(k);
    for (Sigma sigma : {Sigma::Beta, Sigma::BetaTilde}) {
        const double f[2] = {1.0, 0.8};  // the optimal predictor and a worse one (80% of it)
        double ours[2] = {0, 0}, ours_se[2] = {0, 0};
        ld indep[2] = {0, 0};
        for (int w = 0; w < 2; ++w) {
            const Independent ind = independent_bound(sch.beta, sigma, kM, kS, f[w]);
            for (int kk = 0; kk < 256; ++kk) indep[w] += p[(size_t)kk] * ind.total(kk);
            Generator gen(200 + (uint64_t)w);
            int64_t calls = 0, last_done = 0, last_total = 0;
            BoundOptions opt;
            opt.sigma = sigma;
            opt.on_progress = [&](int64_t done, int64_t total) { ++calls, last_done = done, last_total = total; };
            const BoundTerms r = nll_bound(sch, linear_eps(sch, kM, kS, f[w]), x0, gen, opt);
            CHECK(calls == sch.T);
            CHECK(last_done == sch.T);
            CHECK(last_total == sch.T);
            const std::vector<double> tot = r.total();
            // residuals against the independent value of each image's own x_0: only eps is random in them
            std::vector<double> res_tot((size_t)N), res_den((size_t)N), res_dec((size_t)N);
            double worst_prior = 0;
            for (int n = 0; n < N; ++n) {
                const int kn = k[(size_t)n];
                res_tot[(size_t)n] = tot[(size_t)n] - (double)ind.total(kn);
                res_den[(size_t)n] = r.denoising[(size_t)n] - (double)ind.denoising[(size_t)kn];
                res_dec[(size_t)n] = r.decoder[(size_t)n] - (double)ind.decoder[(size_t)kn];
                worst_prior = std::max(worst_prior, (double)(std::fabs(r.prior[(size_t)n] - ind.prior[(size_t)kn]) / ind.prior[(size_t)kn]));
            }
            const MeanSE rt = mean_se(res_tot), rd = mean_se(res_den), rc = mean_se(res_dec), all = mean_se(tot);
            ours[w] = all.mean, ours_se[w] = all.se;
            INFO(std::string(sigma_name(sigma)) << ", eps_hat x " << f[w] << ": ours " << all.mean << " +- " << all.se
                                   << " nats; independent " << (double)indep[w] << "; residual " << rt.mean << " +- " << rt.se
                                   << " (denoising " << rd.mean << " +- " << rd.se << ", decoder " << rc.mean << " +- " << rc.se << ")");
            // L_T has no randomness; ours reads the float x_0 (relative rounding ~6e-8, doubled in x_0^2),
            // the independent value the exact level
            CHECK(worst_prior < 1e-6);
            CHECK(std::fabs(rt.mean) < 4 * rt.se);
            CHECK(std::fabs(rd.mean) < 4 * rd.se);
            CHECK(std::fabs(rc.mean) < 4 * rc.se);
            CHECK(std::fabs(all.mean - (double)indep[w]) < 4 * all.se);  // against E over the data too
            // per_t: T + 1 batch means that add up to the parts
            REQUIRE(r.per_t.size() == (size_t)sch.T + 1);
            double per_t_sum = 0;
            for (int t = 2; t <= sch.T; ++t) per_t_sum += r.per_t[(size_t)t];
            CHECK(r.per_t[0] == 0.0);
            CHECK(per_t_sum == doctest::Approx(mean_se(r.denoising).mean).epsilon(1e-12));
            CHECK(r.per_t[1] == doctest::Approx(mean_se(r.decoder).mean).epsilon(1e-12));
            MESSAGE(std::string(sigma_name(sigma)) << ", eps_hat x " << f[w] << ": bound " << all.mean << " +- " << all.se << " nats ("
                                      << bits_per_dim(all.mean, 1) << " bits/dim), independent " << (double)indep[w]
                                      << ", entropy " << (double)H << "; residual vs independent per image " << rt.mean
                                      << " +- " << rt.se << "; L_T " << mean_se(r.prior).mean << " denoising "
                                      << mean_se(r.denoising).mean << " L_0 " << mean_se(r.decoder).mean);
        }
        INFO(std::string(sigma_name(sigma)) << ": entropy " << (double)H << ", bound " << (double)indep[0] << " (ours " << ours[0]
                               << " +- " << ours_se[0] << "), worse predictor " << (double)indep[1] << " (ours " << ours[1] << ")");
        CHECK(indep[0] >= H);                        // E[bound] >= cross-entropy >= entropy
        CHECK(ours[0] >= (double)H - 4 * ours_se[0]);
        CHECK(indep[1] > indep[0]);                  // a worse predictor has a larger bound ...
        CHECK(ours[1] > ours[0]);                    // ... and so does our estimate of it
    }
}

TEST_CASE("Eq. 10: the Monte-Carlo estimate over t (K draws of t ~ U{2..T}) agrees with the exact sum within its standard error") {
    Schedule sch = linear_schedule();
    const std::vector<ld> p = level_probabilities(kM, kS);
    const int N = 2048, K = 16;
    Generator data_gen(110);
    const std::vector<int> k = draw_levels(p, N, data_gen);
    const Tensor x0 = images_of(k);
    const Independent ind = independent_bound(sch.beta, Sigma::Beta, kM, kS, 1.0);
    Generator gen(210);
    int64_t calls = 0, last_done = 0, last_total = 0;
    BoundOptions opt;
    opt.mc_t = K;
    opt.on_progress = [&](int64_t done, int64_t total) { ++calls, last_done = done, last_total = total; };
    const BoundTerms r = nll_bound(sch, linear_eps(sch, kM, kS, 1.0), x0, gen, opt);
    CHECK(calls == K);
    CHECK(last_done == K);
    CHECK(last_total == K);
    CHECK(r.per_t.empty());
    std::vector<double> res_den((size_t)N), res_dec((size_t)N), se2((size_t)N);
    for (int n = 0; n < N; ++n) {
        res_den[(size_t)n] = r.denoising[(size_t)n] - (double)ind.denoising[(size_t)k[(size_t)n]];
        res_dec[(size_t)n] = r.decoder[(size_t)n] - (double)ind.decoder[(size_t)k[(size_t)n]];
        se2[(size_t)n] = r.denoising_se[(size_t)n] * r.denoising_se[(size_t)n];
    }
    const MeanSE rd = mean_se(res_den), rc = mean_se(res_dec);
    // each image's denoising_se^2 is an unbiased estimate of its Monte-Carlo variance, whose average
    // over the images is the variance of the residuals
    const double se2_mean = mean_se(se2).mean, ratio = se2_mean / (rd.sd * rd.sd);
    INFO("denoising: residual " << rd.mean << " +- " << rd.se << " (sd " << rd.sd << ", mean reported se "
                                << std::sqrt(se2_mean) << ", ratio of variances " << ratio << "); decoder residual "
                                << rc.mean << " +- " << rc.se);
    MESSAGE("Monte-Carlo over t, K = " << K << ": denoising residual " << rd.mean << " +- " << rd.se << " nats, per-image sd "
                                       << rd.sd << " vs reported se " << std::sqrt(se2_mean));
    CHECK(std::fabs(rd.mean) < 4 * rd.se);
    CHECK(std::fabs(rc.mean) < 4 * rc.se);
    CHECK(ratio > 0.8);  // two estimates of one variance from 2048 images: ~5% apart
    CHECK(ratio < 1.25);
    opt.mc_t = 1;
    CHECK_THROWS_WITH_AS(nll_bound(sch, linear_eps(sch, kM, kS, 1.0), x0, gen, opt), doctest::Contains("mc_t = 1"), Error);
    opt.mc_t = -2;
    CHECK_THROWS_AS(nll_bound(sch, linear_eps(sch, kM, kS, 1.0), x0, gen, opt), Error);
}

TEST_CASE("Eq. 10: the mean of log q(x_{1:T} | x_0) - log p_theta(x_{0:T}) over sampled trajectories equals nll_bound's mean") {
    // The bound is this expectation (Eq. 10 from Eqs. 8-9): sampling whole chains estimates it with
    // none of nll_bound's KLs.
    Schedule sch = linear_schedule();
    const std::vector<ld> p = level_probabilities(kM, kS);
    const int N = 4096;
    Generator data_gen(120);
    const std::vector<int> k = draw_levels(p, N, data_gen);
    const Tensor x0 = images_of(k);
    Generator chain_gen(320);
    const std::vector<Tensor> xs = sample_chain(sch, x0, chain_gen);
    REQUIRE(xs.size() == (size_t)sch.T + 1);
    CHECK(xs[0].to_vector() == x0.to_vector());
    const std::vector<double> lq = log_q_chain(sch, xs);
    const EpsModel model = linear_eps(sch, kM, kS, 1.0);
    for (Sigma sigma : {Sigma::Beta, Sigma::BetaTilde}) {
        const std::vector<double> lp = log_p_reverse(sch, model, xs, sigma);
        Generator gen(420);
        BoundOptions opt;
        opt.sigma = sigma;
        const std::vector<double> tot = nll_bound(sch, model, x0, gen, opt).total();
        const Independent ind = independent_bound(sch.beta, sigma, kM, kS, 1.0);
        std::vector<double> chain((size_t)N), paired((size_t)N), res((size_t)N);
        for (int n = 0; n < N; ++n) {
            chain[(size_t)n] = lq[(size_t)n] - lp[(size_t)n];
            paired[(size_t)n] = chain[(size_t)n] - tot[(size_t)n];  // same x_0, independent noise
            res[(size_t)n] = chain[(size_t)n] - (double)ind.total(k[(size_t)n]);
        }
        const MeanSE c = mean_se(chain), d = mean_se(paired), rs = mean_se(res), b = mean_se(tot);
        INFO(std::string(sigma_name(sigma)) << ": trajectories " << c.mean << " +- " << c.se << ", nll_bound " << b.mean << " +- "
                               << b.se << "; paired difference " << d.mean << " +- " << d.se << "; vs independent "
                               << rs.mean << " +- " << rs.se);
        MESSAGE(std::string(sigma_name(sigma)) << ": E[log q - log p] over " << N << " trajectories " << c.mean << " +- " << c.se
                                  << " (per-chain sd " << c.sd << "), nll_bound " << b.mean << " +- " << b.se
                                  << ", paired difference " << d.mean << " +- " << d.se);
        // the SE of the per-image differences combines both estimates' noise (the x_0 they share cancels)
        CHECK(std::fabs(d.mean) < 4 * d.se);
        CHECK(std::fabs(rs.mean) < 4 * rs.se);
    }
}

TEST_CASE("Eq. 10: denoising_term refuses t = 1 (the decoder's term L_0), naming the function and t") {
    Schedule sch = linear_schedule();
    const Tensor x0 = Tensor::full({2, 1, 2, 2}, 1.0f), eps = Tensor::zeros({2, 1, 2, 2});
    EpsModel zero = [](const Tensor& x, const std::vector<int>&) { return Tensor::zeros(x.shape()); };
    CHECK_THROWS_WITH_AS(denoising_term(sch, zero, x0, {5, 1}, eps, Sigma::Beta),
                         doctest::Contains("denoising_term: t = 1 (image 1) out of range 2..T"), Error);
    CHECK_THROWS_WITH_AS(denoising_term(sch, zero, x0, {1001, 2}, eps, Sigma::Beta),
                         doctest::Contains("denoising_term: t = 1001"), Error);
    CHECK_THROWS_AS(denoising_term(sch, zero, x0, {2}, eps, Sigma::Beta), Error);  // one t for two images
    CHECK_NOTHROW(denoising_term(sch, zero, x0, {2, 1000}, eps, Sigma::BetaTilde));
}
