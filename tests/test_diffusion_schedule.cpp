// Claims about the noise schedules (diffusion/schedule.h): Eq. 1 (linear), Eq. 3 (alpha),
// Eq. 6's alpha_bar, Eq. 7's golden alpha_bar_T, Eq. 21 (cosine).
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "diffusion/schedule.h"

using namespace fw;
using namespace fw::diffusion;

TEST_CASE("Eq. 1: the linear schedule is strictly increasing in (0, 1), from beta_1 = 1e-4 to beta_T = 0.02") {
    Schedule sch = linear_schedule();
    REQUIRE(sch.T == 1000);
    REQUIRE(sch.beta.size() == 1001);  // T + 1 entries, t = 0..T
    CHECK(sch.beta[1] == doctest::Approx(1e-4).epsilon(1e-12));   // double arithmetic: exact to rounding
    CHECK(sch.beta[1000] == doctest::Approx(0.02).epsilon(1e-12));
    for (int t = 1; t <= sch.T; ++t) {
        INFO("t = " << t << " beta_t = " << sch.beta[t]);
        CHECK(sch.beta[t] > 0.0);
        CHECK(sch.beta[t] < 1.0);
        if (t > 1) CHECK(sch.beta[t] > sch.beta[t - 1]);
    }
}

TEST_CASE("Eq. 1: consecutive linear betas differ by one constant, (0.02 - 1e-4) / 999") {
    // "linear" means equal steps: a schedule that was increasing but curved would pass the test above.
    Schedule sch = linear_schedule();
    const double step = (0.02 - 1e-4) / 999.0;
    for (int t = 2; t <= sch.T; ++t) {
        INFO("t = " << t);
        CHECK(sch.beta[t] - sch.beta[t - 1] == doctest::Approx(step).epsilon(1e-9));  // double: ~1e-13 relative
    }
}

TEST_CASE("Eq. 3: alpha_t = 1 - beta_t, and alpha_bar_t = prod_{s<=t} alpha_s with alpha_bar_0 = 1") {
    Schedule sch = linear_schedule();
    CHECK(sch.alpha_bar[0] == 1.0);
    CHECK(sch.alpha[0] == 1.0);
    long double prod = 1.0L;  // an independent product in long double
    for (int t = 1; t <= sch.T; ++t) {
        prod *= 1.0L - (long double)sch.beta[t];
        INFO("t = " << t);
        CHECK(sch.alpha[t] == 1.0 - sch.beta[t]);
        CHECK(sch.alpha_bar[t] == doctest::Approx((double)prod).epsilon(1e-12));  // 1000 double roundings: ~1e-13
    }
}

TEST_CASE("Eq. 7: alpha_bar_T of the linear schedule is the golden value 4.0358e-5 (close to 0)") {
    Schedule sch = linear_schedule();
    // Golden value from numpy: np.prod(1 - np.linspace(1e-4, 0.02, 1000)) = 4.0358297653756754e-05.
    CHECK(sch.alpha_bar[sch.T] == doctest::Approx(4.0358e-5).epsilon(1e-3));  // 1e-3 relative: the 5 digits quoted
}

TEST_CASE("schedule tables hold T+1 entries with the derived coefficients of Eqs. 11-13") {
    Schedule sch = linear_schedule(50);
    for (const auto* table : {&sch.sqrt_alpha_bar, &sch.sqrt_one_minus_alpha_bar, &sch.beta_tilde, &sch.eps_coef,
                              &sch.posterior_coef_x0, &sch.posterior_coef_xt, &sch.sqrt_recip_alpha})
        CHECK(table->size() == 51);
    for (int t = 1; t <= sch.T; ++t) {
        INFO("t = " << t);
        const double ab = sch.alpha_bar[t], ab_prev = sch.alpha_bar[t - 1];
        // every table is its formula, to double rounding (1e-12 relative)
        CHECK(sch.sqrt_alpha_bar[t] == doctest::Approx(std::sqrt(ab)).epsilon(1e-12));
        CHECK(sch.sqrt_one_minus_alpha_bar[t] == doctest::Approx(std::sqrt(1 - ab)).epsilon(1e-12));
        CHECK(sch.eps_coef[t] == doctest::Approx(sch.beta[t] / std::sqrt(1 - ab)).epsilon(1e-12));
        CHECK(sch.beta_tilde[t] == doctest::Approx((1 - ab_prev) / (1 - ab) * sch.beta[t]).epsilon(1e-12));
    }
    CHECK(sch.beta_tilde[1] == 0.0);  // alpha_bar_0 = 1: at t = 1 the posterior is a point
}

TEST_CASE("a timestep outside 1..T is an error that names the range") {
    Schedule sch = linear_schedule(10);
    for (int bad : {0, -1, 11}) {
        try {
            check_timestep(sch, bad, "q_sample");
            FAIL("t = " << bad << " was accepted");
        } catch (const fw::Error& e) {
            CHECK(std::string(e.what()).find("out of range 1..T (T = 10)") != std::string::npos);
        }
    }
    CHECK_THROWS_AS(linear_schedule(1), fw::Error);
    CHECK_THROWS_AS(linear_schedule(10, 0.02, 1e-4), fw::Error);  // decreasing betas
}

TEST_CASE("Eq. 21: the cosine schedule's alpha_bar_t equals f(t)/f(0) wherever beta_t was not clipped") {
    Schedule sch = cosine_schedule();
    const double f0 = cosine_f(0, sch.T);
    int unclipped = 0;
    for (int t = 0; t <= sch.T; ++t) {
        if (t > 0 && sch.beta[t] >= 0.999) continue;
        ++unclipped;
        INFO("t = " << t);
        // the running product of f(s)/f(s-1) telescopes to f(t)/f(0): ~1e-13 after 1000 products
        CHECK(sch.alpha_bar[t] == doctest::Approx(cosine_f(t, sch.T) / f0).epsilon(1e-10));
    }
    CHECK(unclipped == sch.T);  // only beta_T is clipped for T = 1000
}

TEST_CASE("Eq. 21: golden alpha_bar_t of the cosine schedule, computed outside the code under test") {
    // Python: f = lambda t: math.cos(((t / 1000) + 0.008) / 1.008 * math.pi / 2) ** 2; f(t) / f(0)
    Schedule sch = cosine_schedule();
    CHECK(sch.alpha_bar[1] == doctest::Approx(0.999958715775178).epsilon(1e-12));
    CHECK(sch.alpha_bar[250] == doctest::Approx(0.8470121613269047).epsilon(1e-12));
    CHECK(sch.alpha_bar[500] == doctest::Approx(0.49384359044063775).epsilon(1e-12));  // 500 products: ~1e-13
}

TEST_CASE("Eq. 21: cosine betas lie in (0, 0.999], beta_T is clipped at 0.999, alpha_bar_T is close to 0") {
    Schedule sch = cosine_schedule();
    for (int t = 1; t <= sch.T; ++t) {
        INFO("t = " << t << " beta_t = " << sch.beta[t]);
        CHECK(sch.beta[t] > 0.0);
        CHECK(sch.beta[t] <= 0.999);
    }
    CHECK(sch.beta[sch.T] == 0.999);  // f(T) = cos^2(pi/2) = 0 would make beta_T = 1
    CHECK(sch.alpha_bar[sch.T] < 1e-5);
    CHECK(sch.alpha_bar[1] > 0.9999);  // s = 0.008 keeps the first steps tiny
}
