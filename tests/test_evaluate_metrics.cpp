// Claims about the sample metrics of examples/evaluate (examples/common/metrics.h): confidence,
// confident share and class-histogram entropy on hand-made probabilities, and the Frechet distance
// on Gaussians whose answer is known in closed form.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "examples/common/metrics.h"

using namespace fw;
using namespace fw::metrics;

TEST_CASE("mean confidence and confident share on hand-made probabilities") {
    const std::vector<float> p = {0.95f, 0.05f, 0.0f,   // max 0.95 (class 0)
                                  0.2f, 0.3f, 0.5f,     // max 0.5  (class 2)
                                  0.0f, 0.91f, 0.09f,   // max 0.91 (class 1)
                                  0.1f, 0.1f, 0.8f};    // max 0.8  (class 2)
    CHECK(mean_confidence(p.data(), 4, 3) == doctest::Approx((0.95 + 0.5 + 0.91 + 0.8) / 4).epsilon(1e-6));
    CHECK(confident_share(p.data(), 4, 3, 0.9) == doctest::Approx(0.5));
    CHECK(predicted_histogram(p.data(), 4, 3) == std::vector<int64_t>{1, 1, 2});
}

TEST_CASE("predicted-class entropy: ln 10 for balanced classes, 0 for one class, ln 2 for two") {
    CHECK(histogram_entropy(std::vector<int64_t>(10, 7)) == doctest::Approx(std::log(10.0)).epsilon(1e-12));
    CHECK(histogram_entropy({0, 0, 30, 0}) == 0.0);
    CHECK(histogram_entropy({5, 0, 5}) == doctest::Approx(std::log(2.0)).epsilon(1e-12));
}

TEST_CASE("Frechet distance of a set with itself is 0") {
    Generator gen(1);
    std::vector<float> f(300 * 6);
    gen.normal(f.data(), (int64_t)f.size());
    for (size_t i = 0; i < f.size(); i += 6) f[i + 1] += 0.5f * f[i];  // correlated features
    const Gaussian g = fit_gaussian(f.data(), 300, 6);
    CHECK(frechet_distance(g, g) == doctest::Approx(0.0).epsilon(1e-9));  // round-off only
}

TEST_CASE("1-d Frechet distance is (m1 - m2)^2 + (s1 - s2)^2") {
    Generator gen(2);
    std::vector<float> a(500), b(700);
    gen.normal(a.data(), 500, 1.0f, 2.0f);
    gen.normal(b.data(), 700, -0.5f, 0.7f);
    const Gaussian ga = fit_gaussian(a.data(), 500, 1), gb = fit_gaussian(b.data(), 700, 1);
    const double s1 = std::sqrt(ga.cov[0]), s2 = std::sqrt(gb.cov[0]);
    const double expected = std::pow(ga.mean[0] - gb.mean[0], 2) + std::pow(s1 - s2, 2);
    CHECK(frechet_distance(ga, gb) == doctest::Approx(expected).epsilon(1e-10));
    CHECK(ga.mean[0] == doctest::Approx(1.0).epsilon(0.2));  // within ~2 SE (2 / sqrt(500) = 0.09)
}

TEST_CASE("Frechet distance of non-commuting 2-d covariances matches the closed form") {
    // S1 = [[2, 1], [1, 2]], S2 = diag(1, 3): S1 S2 = [[2, 3], [1, 6]], trace 8, det 9.
    // For a 2x2 M with positive eigenvalues, Tr M^{1/2} = sqrt(Tr M + 2 sqrt(det M)) = sqrt(14).
    // FD = |mu1 - mu2|^2 + Tr S1 + Tr S2 - 2 sqrt(14), mu1 - mu2 = (1, -2).
    Gaussian a{2, {1.0, 0.0}, {2, 1, 1, 2}}, b{2, {0.0, 2.0}, {1, 0, 0, 3}};
    const double expected = 5.0 + 4.0 + 4.0 - 2.0 * std::sqrt(14.0);
    CHECK(frechet_distance(a, b) == doctest::Approx(expected).epsilon(1e-12));
    CHECK(frechet_distance(b, a) == doctest::Approx(expected).epsilon(1e-12));  // symmetric
}

TEST_CASE("Frechet distance of diagonal Gaussians is the sum of per-axis 1-d distances") {
    Gaussian a{3, {0, 0, 0}, {1, 0, 0, 0, 4, 0, 0, 0, 9}}, b{3, {0, 0, 1}, {4, 0, 0, 0, 4, 0, 0, 0, 1}};
    // (1 - 2)^2 + (2 - 2)^2 + (3 - 1)^2 + |mu diff|^2 = 1 + 0 + 4 + 1
    CHECK(frechet_distance(a, b) == doctest::Approx(6.0).epsilon(1e-12));
}
