// walkthrough: the DDPM derivation, step by step, on one image.
//
// Draws a digit-like 28x28 "7" in [-1, 1], then walks DERIVATION.md's chain of equations on it:
// each step prints the quantity, the equation it comes from, and a numeric check (PASS/FAIL).
// Writes two PNG strips: the forward process x_0 ... x_T (Eqs. 2, 6) and the reverse process of
// Algorithm 2 with a perfect ("oracle") denoiser for this one image (Eq. 18).
//
//   build/release/examples/walkthrough [--out DIR] [--seed N] [--help]      (or: make walkthrough)
//
// Exit status: 0 if every check passes, 1 if any fails, 2 for a bad command line.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "examples/common/flags.h"
#include "examples/common/images.h"

#include "core/ops.h"
#include "core/rng.h"
#include "diffusion/bound.h"
#include "diffusion/diffusion.h"

using namespace fw;
using namespace fw::diffusion;

namespace {

const int kSide = 28;
int g_failures = 0;

// One numeric check, printed as "  [PASS] what: detail".
void check(bool ok, const std::string& what, const std::string& detail) {
    std::printf("  [%s] %s: %s\n", ok ? "PASS" : "FAIL", what.c_str(), detail.c_str());
    if (!ok) ++g_failures;
}

std::string fmt(const char* f, double a, double b = 0, double c = 0, double d = 0) {
    char buf[256];
    std::snprintf(buf, sizeof buf, f, a, b, c, d);
    return buf;
}

// Distance from point p to the segment a-b.
double seg_dist(double px, double py, double ax, double ay, double bx, double by) {
    const double vx = bx - ax, vy = by - ay;
    double u = ((px - ax) * vx + (py - ay) * vy) / (vx * vx + vy * vy);
    u = std::fmax(0.0, std::fmin(1.0, u));
    const double dx = px - (ax + u * vx), dy = py - (ay + u * vy);
    return std::sqrt(dx * dx + dy * dy);
}

// A "7": a top bar and a diagonal stroke, 1.6 px half-width with a soft edge; background -1, ink +1.
Tensor draw_seven() {
    Tensor x = Tensor::empty({1, 1, kSide, kSide});
    for (int r = 0; r < kSide; ++r)
        for (int c = 0; c < kSide; ++c) {
            const double d = std::fmin(seg_dist(c, r, 6, 6, 21, 6), seg_dist(c, r, 21, 6, 11, 23));
            const double ink = std::fmax(0.0, std::fmin(1.0, 2.1 - d));  // 1 inside, 0 outside, a 1 px ramp
            x.data()[r * kSide + c] = (float)(2.0 * ink - 1.0);
        }
    return x;
}

// N copies of a (1, C, H, W) image along the batch axis.
Tensor repeat(const Tensor& x, int N) { return concat(std::vector<Tensor>((size_t)N, x), 0); }

// Residual statistics: mean and variance of (a - c * b) over all elements.
struct Moments { double mean, var; int64_t n; };
Moments residual(const Tensor& a, const Tensor& b, double c) {
    Moments m{0, 0, a.numel()};
    for (int64_t i = 0; i < m.n; ++i) m.mean += a.data()[i] - c * b.data()[i];
    m.mean /= (double)m.n;
    for (int64_t i = 0; i < m.n; ++i) m.var += std::pow(a.data()[i] - c * b.data()[i] - m.mean, 2);
    m.var /= (double)(m.n - 1);
    return m;
}
// Within 5 standard errors of N(mean, var) in mean and variance.
bool gaussian_ok(const Moments& m, double mean, double var) {
    return std::fabs(m.mean - mean) <= 5 * std::sqrt(var / (double)m.n) &&
           std::fabs(m.var - var) <= 5 * var * std::sqrt(2.0 / (double)(m.n - 1));
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    double d = 0;
    for (int64_t i = 0; i < a.numel(); ++i) d = std::fmax(d, std::fabs((double)a.data()[i] - b.data()[i]));
    return d;
}

// The first image of each batch side by side, 3x enlarged (examples/common/images.h); false if it
// could not be written.
bool write_strip(const std::string& path, const std::vector<Tensor>& batches) {
    std::vector<Tensor> firsts;
    for (const Tensor& b : batches) firsts.push_back(slice(b, 0, 0, 1));
    try {
        images::write_rows_png(path, {firsts}, 3, 4);
        return true;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "walkthrough: %s\n", e.what());
        return false;
    }
}

// The perfect denoiser for data = this one image: Eq. 6 solved for eps.
EpsModel oracle_for(const Schedule& sch, const Tensor& image) {
    return [&sch, image](const Tensor& x, const std::vector<int>& t) {
        Tensor e = Tensor::empty(x.shape());
        const int64_t per = x.numel() / x.size(0);
        for (int64_t n = 0; n < x.size(0); ++n)
            for (int64_t i = 0; i < per; ++i)
                e.data()[n * per + i] = (float)((x.data()[n * per + i] - sch.sqrt_alpha_bar[t[n]] * image.data()[i]) /
                                                sch.sqrt_one_minus_alpha_bar[t[n]]);
        return e;
    };
}

// Eqs. 8-10 and 19: the bound for the oracle of one image, each term against its closed form.
void bound_of_the_oracle(const Schedule& sch, const Tensor& x0, Generator& gen) {
    // The decoder bins pixels on 256 levels: the image rounded to them.
    std::vector<float> v = x0.to_vector();
    for (float& x : v) x = std::round((x + 1.0f) * 127.5f) / 127.5f - 1.0f;
    const Tensor x0q = Tensor::from_vector(x0.shape(), v);
    const EpsModel oracle = oracle_for(sch, x0q);
    const double D = (double)x0q.numel(), to_bits = 1.0 / (D * std::log(2.0));
    for (Sigma sigma : {Sigma::BetaTilde, Sigma::Beta}) {
        BoundOptions opt;
        opt.sigma = sigma;
        const BoundTerms b = nll_bound(sch, oracle, x0q, gen, opt);
        std::printf("  sigma_t^2 = %s: L_T %.3g, sum_t L_{t-1} %.4f, L_0 %.4f, total %.4f bits/dim\n", sigma_name(sigma),
                    b.prior[0] * to_bits, b.denoising[0] * to_bits, b.decoder[0] * to_bits, b.total()[0] * to_bits);
        // L_{t-1}: the oracle's mean is q's posterior mean, so only the variances differ (Eq. 15's general form)
        double expected = 0;
        for (int t = 2; t <= sch.T; ++t) {
            const double vq = sch.beta_tilde[t], vp = sigma_squared(sch, t, sigma);
            expected += 0.5 * D * (std::log(vp / vq) + vq / vp - 1.0);
        }
        check(std::fabs(b.denoising[0] - expected) <= 1e-3 + 1e-6 * expected, "Eq. 10: the denoising terms",
              fmt("%.6f nats = sum_t D/2 (log(sigma_t^2 / beta_tilde_t) + beta_tilde_t / sigma_t^2 - 1) = %.6f", b.denoising[0], expected));
        // L_0: the oracle's decoder mean is the pixel itself: -log of the mass of N(x, sigma_1^2) on x's bin
        const double sd = std::sqrt(decoder_variance(sch, sigma)), w = 1.0 / 255.0;
        double l0 = 0;
        for (float x : v) {
            const double inner = std::erf(w / (sd * std::sqrt(2.0)));       // both sides: Phi(w/sd) - Phi(-w/sd)
            const double edge = 0.5 * std::erfc(-w / (sd * std::sqrt(2.0)));  // an edge bin: Phi(w/sd)
            l0 -= std::log(x <= -1.0f + 1e-4f || x >= 1.0f - 1e-4f ? edge : inner);
        }
        check(std::fabs(b.decoder[0] - l0) <= 1e-3 * l0, "Eq. 19: L_0 = -log p(x_0 | x_1)",
              fmt("%.3f nats = -sum_i log(mass of N(x_0^i, %.3g^2) on x_0^i's bin) = %.3f", b.decoder[0], sd, l0));
    }
    // L_T: KL(N(sqrt(alpha_bar_T) x_0, 1 - alpha_bar_T) || N(0, 1)) per pixel, about alpha_bar_T x_0^2 / 2
    const double ab = sch.alpha_bar[sch.T];
    double lt = 0;
    for (float x : v) lt += 0.5 * (ab * x * x - ab - std::log(1.0 - ab));
    const double prior = prior_term(sch, x0q)[0];
    check(std::fabs(prior - lt) <= 1e-9 + 1e-6 * lt, "Eq. 7 as L_T: the prior term",
          fmt("%.3g nats = sum_i (alpha_bar_T x_i^2 - alpha_bar_T - log(1 - alpha_bar_T)) / 2 = %.3g", prior, lt));
}

}  // namespace

int main(int argc, char** argv) {
    std::string out = "out/walkthrough";
    int64_t seed = 0;
    flags::Parser p("walkthrough", "Steps through the DDPM derivation on one drawn digit, with PASS/FAIL checks.");
    p.add_string("out", &out, "where the PNG strips go");
    p.add_int("seed", &seed, "the random seed", 0, INT64_MAX);
    try {
        if (!p.parse(argc, argv)) return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    try {
        std::filesystem::create_directories(out);
        Generator gen((uint64_t)seed);
        const Tensor x0 = draw_seven();  // (1, 1, 28, 28) in [-1, 1]
        std::printf("walkthrough: DDPM on one 28x28 image (a drawn \"7\"), seed %llu\n\n", (unsigned long long)seed);

        std::printf("Eq. 1  q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I), linear betas, T = 1000\n");
        const Schedule sch = linear_schedule();
        bool increasing = true;
        for (int t = 1; t <= sch.T; ++t)
            increasing = increasing && sch.beta[t] > 0 && sch.beta[t] < 1 && (t == 1 || sch.beta[t] > sch.beta[t - 1]);
        std::printf("  beta_1 = %.3g, beta_500 = %.5g, beta_T = %.3g\n", sch.beta[1], sch.beta[500], sch.beta[sch.T]);
        check(increasing, "beta strictly increasing in (0, 1)", fmt("%.0f betas", sch.T));

        std::printf("\nEq. 3  alpha_t = 1 - beta_t;  Eq. 6  alpha_bar_t = prod_{s<=t} alpha_s\n");
        std::printf("  alpha_bar_1 = %.6f, alpha_bar_500 = %.6f, alpha_bar_T = %.6g\n", sch.alpha_bar[1],
                    sch.alpha_bar[500], sch.alpha_bar[sch.T]);
        check(std::fabs(sch.alpha_bar[sch.T] / 4.0358e-5 - 1) < 1e-3, "Eq. 7: alpha_bar_T is the golden 4.0358e-5",
              fmt("%.6g (1e-3 relative)", sch.alpha_bar[sch.T]));

        // 16 copies of the image, so that each statistic below has 16 * 784 = 12544 draws.
        const int B = 16;
        const Tensor x0s = repeat(x0, B);
        std::printf("\nEq. 2  x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps_t, one step at t = 500 (%d copies)\n", B);
        {
            Tensor x500 = q_step(sch, x0s, 500, randn(x0s.shape(), gen));
            Moments m = residual(x500, x0s, std::sqrt(1 - sch.beta[500]));
            check(gaussian_ok(m, 0, sch.beta[500]), "x_t - sqrt(1 - beta_t) x_{t-1} ~ N(0, beta_t)",
                  fmt("mean %.2e, var %.5f vs beta_t %.5f (5 SE)", m.mean, m.var, sch.beta[500]));
        }

        std::printf("\nEq. 2 chained t times vs Eq. 6 in closed form, on the image (strip: forward_process.png)\n");
        const std::vector<int> strip_t = {0, 50, 100, 200, 300, 400, 600, 800, 1000};
        std::vector<Tensor> forward_strip;
        Tensor xt = x0s;
        for (int t = 0; t <= sch.T; ++t) {
            if (t > 0) xt = q_step(sch, xt, t, randn(xt.shape(), gen));  // Eq. 2, one step
            bool in_strip = false;
            for (int s : strip_t) in_strip = in_strip || s == t;
            if (!in_strip) continue;
            forward_strip.push_back(xt);
            if (t == 0) continue;
            Moments chained = residual(xt, x0s, sch.sqrt_alpha_bar[t]);
            Tensor closed = q_sample(sch, x0s, std::vector<int>(B, t), randn(x0s.shape(), gen));  // Eq. 6
            Moments direct = residual(closed, x0s, sch.sqrt_alpha_bar[t]);
            const double var = 1 - sch.alpha_bar[t];
            check(gaussian_ok(chained, 0, var) && gaussian_ok(direct, 0, var),
                  fmt("t = %4.0f: x_t - sqrt(alpha_bar_t) x_0 ~ N(0, 1 - alpha_bar_t)", t),
                  fmt("chained var %.4f, closed form var %.4f, expected %.4f (5 SE)", chained.var, direct.var, var));
        }
        check(write_strip(out + "/forward_process.png", forward_strip), "wrote " + out + "/forward_process.png",
              "t = 0, 50, 100, 200, 300, 400, 600, 800, 1000");

        std::printf("\nEq. 4-5  two steps: the noises merge with variance 1 - alpha_t alpha_{t-1} (variances add)\n");
        {
            const int t = 1000;
            const double a = sch.alpha[t] * sch.alpha[t - 1];
            Tensor merged = q_two_steps_merged(sch, x0s, t, randn(x0s.shape(), gen));
            Tensor two = q_two_steps(sch, x0s, t, randn(x0s.shape(), gen), randn(x0s.shape(), gen));
            Moments mm = residual(merged, x0s, std::sqrt(a)), mt = residual(two, x0s, std::sqrt(a));
            check(gaussian_ok(mm, 0, 1 - a) && gaussian_ok(mt, 0, 1 - a), "merged and two-noise steps at t = 1000",
                  fmt("var %.5f and %.5f vs 1 - alpha_t alpha_{t-1} = %.5f", mm.var, mt.var, 1 - a));
            const double s1 = std::sqrt(sch.alpha[t] * (1 - sch.alpha[t - 1])), s2 = std::sqrt(1 - sch.alpha[t]);
            std::printf("  adding standard deviations instead would give variance %.5f, not %.5f\n",
                        std::pow(s1 + s2, 2), merged_std(s1, s2) * merged_std(s1, s2));
        }

        std::printf("\nEq. 7  x_T ~ N(0, I) whatever x_0: KL(q(x_T | x_0) || N(0, I)) = %.3g nats for the image\n",
                    prior_kl(sch, x0));
        {
            Moments m = residual(forward_strip.back(), x0s, 0.0);
            check(gaussian_ok(m, 0, 1), "x_T of the image ~ N(0, 1)", fmt("mean %.4f var %.4f", m.mean, m.var));
        }

        std::printf("\nEq. 11-13  the posterior q(x_{t-1} | x_t, x_0), at t = 500\n");
        const std::vector<int> t500(B, 500);
        const Tensor eps = randn(x0s.shape(), gen);
        const Tensor x500 = q_sample(sch, x0s, t500, eps);
        {
            std::printf("  beta_tilde_500 = %.6g (beta_500 = %.6g)\n", q_posterior_variance(sch, 500), sch.beta[500]);
            Tensor mu11 = q_posterior_mean(sch, x0s, x500, t500);      // Eq. 11
            Tensor mu13 = posterior_mean_from_eps(sch, x500, t500, eps);  // Eq. 13
            check(max_abs_diff(mu11, mu13) < 1e-5, "Eq. 11 (from x_0) == Eq. 13 (from eps)",
                  fmt("max |diff| %.2e (float precision: < 1e-5)", max_abs_diff(mu11, mu13)));
            Tensor back = predict_x0_from_eps(sch, x500, t500, eps);  // Eq. 12
            check(max_abs_diff(back, x0s) < 1e-4, "Eq. 12: x_0 from (x_t, eps)",
                  fmt("max |x0_hat - x0| %.2e (< 1e-4)", max_abs_diff(back, x0s)));
        }

        std::printf("\nEq. 14-16  a noisy eps_theta: KL of the two steps from their means == lambda_t ||eps - eps_theta||^2\n");
        {
            Tensor x0_1 = slice(x0s, 0, 0, 1), eps_1 = slice(eps, 0, 0, 1), xt_1 = slice(x500, 0, 0, 1);
            Tensor eps_theta = eps_1 + 0.2f * randn(eps_1.shape(), gen);
            EpsModel noisy = [&](const Tensor&, const std::vector<int>&) { return eps_theta; };
            Tensor mu_q = q_posterior_mean(sch, x0_1, xt_1, {500});
            Tensor mu_p = mu_theta(sch, noisy, xt_1, {500});  // Eq. 14
            for (Sigma sigma : {Sigma::Beta, Sigma::BetaTilde}) {
                const double kl = kl_same_variance(mu_q, mu_p, sigma_squared(sch, 500, sigma));  // Eq. 15
                double sq = 0;
                for (int64_t i = 0; i < eps_1.numel(); ++i) sq += std::pow(eps_1.data()[i] - eps_theta.data()[i], 2);
                const double weighted = lambda_t(sch, 500, sigma) * sq;  // Eq. 16
                check(std::fabs(kl / weighted - 1) < 1e-3, std::string("sigma^2 = ") + sigma_name(sigma),
                      fmt("KL %.5f vs lambda_t ||.||^2 %.5f (lambda_t = %.4g; 1e-3 relative)", kl, weighted,
                          lambda_t(sch, 500, sigma)));
            }
        }

        EpsModel oracle = oracle_for(sch, x0);
        EpsModel zero = [](const Tensor& x, const std::vector<int>&) { return Tensor::zeros(x.shape()); };

        std::printf("\nEq. 17  L_simple = ||eps - eps_theta(x_t, t)||^2, t ~ U{1..T} (Algorithm 1)\n");
        {
            const double l_zero = l_simple(sch, zero, x0s, gen).item();
            const double l_oracle = l_simple(sch, oracle, x0s, gen).item();
            const double se = std::sqrt(2.0 / (double)x0s.numel());
            check(std::fabs(l_zero - 1) < 5 * se, "eps_theta = 0 gives E eps^2 = 1", fmt("%.4f (5 SE = %.3f)", l_zero, 5 * se));
            check(l_oracle < 1e-8, "the oracle gives 0", fmt("%.2e (< 1e-8)", l_oracle));
        }

        std::printf("\nEqs. 8-10, 19  the bound -log p(x_0) <= L_T + sum_{t>=2} L_{t-1} + L_0 for the oracle\n");
        bound_of_the_oracle(sch, x0, gen);

        std::printf("\nEq. 18  Algorithm 2 with the oracle, z = 0 at t = 1 (strip: reverse_process.png)\n");
        {
            std::vector<Tensor> reverse_strip;
            SampleOptions opts;
            opts.on_step = [&](int t, const Tensor& x, const Tensor&) {
                for (int s : strip_t)
                    if (s == t) reverse_strip.push_back(x.clone());  // t = T first
            };
            Tensor sample = ddpm_sample(sch, oracle, {1, 1, kSide, kSide}, gen, opts);
            reverse_strip.push_back(sample);
            check(max_abs_diff(sample, x0) < 1e-4, "DDPM returns the image",
                  fmt("max |x_0 - image| %.2e (< 1e-4)", max_abs_diff(sample, x0)));
            check(write_strip(out + "/reverse_process.png", reverse_strip), "wrote " + out + "/reverse_process.png",
                  "x_t for t = 1000, 800, ..., 50, then x_0 (the forward strip, right to left)");
        }

        std::printf("\nEq. 20  DDIM (eta = 0) with the oracle\n");
        for (int steps : {50, 7, 1}) {
            std::vector<int> tau = ddim_timesteps(sch.T, steps);
            Tensor sample = ddim_sample(sch, oracle, {1, 1, kSide, kSide}, gen, steps, 0.0);
            check(max_abs_diff(sample, x0) < 3e-4,
                  fmt("%2.0f steps (%.0f -> ... -> %.0f -> 0) return the image", steps, tau.front(), tau.back()),
                  fmt("max |x_0 - image| %.2e (< 3e-4)", max_abs_diff(sample, x0)));
        }

        std::printf("\nEq. 21  the cosine schedule, s = 0.008\n");
        {
            const Schedule cos_sch = cosine_schedule();
            double worst = 0;
            for (int t = 0; t < cos_sch.T; ++t)
                worst = std::fmax(worst, std::fabs(cos_sch.alpha_bar[t] - cosine_f(t, cos_sch.T) / cosine_f(0, cos_sch.T)));
            check(worst < 1e-10 && cos_sch.beta[cos_sch.T] <= 0.999 && cos_sch.alpha_bar[cos_sch.T] < 1e-5,
                  "alpha_bar_t = f(t)/f(0), beta <= 0.999, alpha_bar_T ~ 0",
                  fmt("max |diff| %.1e, beta_T %.3f, alpha_bar_T %.2e, alpha_bar_500 %.4f", worst, cos_sch.beta[cos_sch.T],
                      cos_sch.alpha_bar[cos_sch.T], cos_sch.alpha_bar[500]));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "walkthrough: %s\n", e.what());
        return 1;
    }
    std::printf("\n%s: %d check(s) failed\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
