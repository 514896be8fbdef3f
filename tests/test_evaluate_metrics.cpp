// Claims about the sample metrics of examples/evaluate (examples/common/metrics.h): confidence,
// confident share and class-histogram entropy on hand-made probabilities, the Frechet distance
// on Gaussians whose answer is known in closed form, accuracy on requested labels by hand, and the
// bootstrap percentile interval: its width and coverage for a mean, determinism, refusals, and why
// the Frechet distance's interval is moved by the bootstrap's bias estimate.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/rng.h"
#include "examples/common/metrics.h"
#include "tests/file_util.h"

using namespace fw;
using namespace fw::metrics;
using fw::test::contains;
using fw::test::error_of;

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

TEST_CASE("accuracy on requested labels on a hand example: overall, per class, NaN for a class never asked") {
    const std::vector<float> p = {0.7f, 0.2f, 0.1f,   // predicted 0, asked 0: right
                                  0.1f, 0.8f, 0.1f,   // predicted 1, asked 0: wrong
                                  0.3f, 0.6f, 0.1f,   // predicted 1, asked 1: right
                                  0.5f, 0.4f, 0.1f,   // predicted 0, asked 1: wrong
                                  0.2f, 0.2f, 0.6f};  // predicted 2, asked 1: wrong
    const std::vector<uint8_t> asked = {0, 0, 1, 1, 1};
    const LabelAccuracy a = label_accuracy(p.data(), asked.data(), 5, 3);
    CHECK(a.accuracy == doctest::Approx(2.0 / 5));
    CHECK(a.asked == std::vector<int64_t>{2, 3, 0});
    CHECK(a.per_class[0] == doctest::Approx(1.0 / 2));
    CHECK(a.per_class[1] == doctest::Approx(1.0 / 3));
    CHECK(std::isnan(a.per_class[2]));  // class 2 was never asked for
    const std::vector<uint8_t> bad = {0, 3, 1, 1, 1};
    CHECK(contains(error_of([&] { label_accuracy(p.data(), bad.data(), 5, 3); }), "label 3 of sample 1 is outside 0-2"));
}

TEST_CASE("bootstrap quantile is R's type 7 (numpy's default): linear between order statistics") {
    const std::vector<double> v = {5, 1, 4, 2, 3};  // unsorted on purpose
    CHECK(quantile(v, 0.0) == 1.0);
    CHECK(quantile(v, 1.0) == 5.0);
    CHECK(quantile(v, 0.25) == doctest::Approx(2.0));  // h = 0.25 * 4 = 1: the 2nd order statistic
    CHECK(quantile(v, 0.1) == doctest::Approx(1.4));   // h = 0.4: 1 + 0.4 (2 - 1)
    CHECK(quantile({7.0}, 0.975) == 7.0);
}

namespace {
// The statistic "mean of x over the resample's indices".
std::function<double(const std::vector<int64_t>&)> mean_of(const std::vector<float>& x) {
    return [&x](const std::vector<int64_t>& idx) {
        double s = 0;
        for (int64_t i : idx) s += x[(size_t)i];
        return s / (double)idx.size();
    };
}
}  // namespace

TEST_CASE("bootstrap interval of the mean of N(0,1) samples has width about 2 * 1.96 / sqrt(N)") {
    const int64_t N = 1000;
    std::vector<float> x((size_t)N);
    Generator data_gen(11);
    data_gen.normal(x.data(), N);
    double m = 0, ss = 0;
    for (float v : x) m += v;
    m /= (double)N;
    for (float v : x) ss += (v - m) * (v - m);
    const double s = std::sqrt(ss / (double)N);  // the plug-in sd the bootstrap sees
    Generator gen(12);
    const Interval r = bootstrap_interval(N, 2000, gen, mean_of(x));
    INFO("interval [" << r.lo << ", " << r.hi << "], value " << r.value << ", sample sd " << s);
    CHECK(r.value == doctest::Approx(m).epsilon(1e-12));
    CHECK(r.lo < r.value);
    CHECK(r.value < r.hi);
    // The 2.5% and 97.5% quantiles of B = 2000 resample means each carry a standard error of
    // sqrt(0.025 * 0.975 / B) / phi(1.96) = 0.06 bootstrap SDs, so the width (3.92 SDs) has an SE of
    // about 2%: 10% is ~4.5 SE.
    CHECK((r.hi - r.lo) == doctest::Approx(2 * 1.96 * s / std::sqrt((double)N)).epsilon(0.10));
    // Against the true sd 1: s itself is within 1/sqrt(2N) = 2.2% of 1, so allow 15%.
    CHECK((r.hi - r.lo) == doctest::Approx(2 * 1.96 / std::sqrt((double)N)).epsilon(0.15));
    CHECK(std::abs(r.boot_mean - m) < 0.003);  // the mean is unbiased; SE of boot_mean s / sqrt(N B) = 0.0007
}

TEST_CASE("bootstrap 95% interval of a mean covers the true mean in about 95% of repeated experiments") {
    // 200 experiments of N = 100 draws of N(0, 1), B = 200 each. The percentile interval of a mean
    // covers a little under 95% at N = 100 (its width uses the plug-in sd); the binomial SE of the
    // coverage over 200 experiments is sqrt(0.95 * 0.05 / 200) = 1.5%, so [0.90, 0.99] is ~3 SE.
    const int experiments = 200, N = 100;
    Generator data_gen(21), gen(22);
    std::vector<float> x((size_t)N);
    int covered = 0;
    for (int e = 0; e < experiments; ++e) {
        data_gen.normal(x.data(), N);
        const Interval r = bootstrap_interval(N, 200, gen, mean_of(x));
        covered += r.lo <= 0.0 && 0.0 <= r.hi;
    }
    const double coverage = (double)covered / experiments;
    INFO("coverage " << coverage << " (" << covered << " of " << experiments << ")");
    CHECK(coverage >= 0.90);
    CHECK(coverage <= 0.99);
}

TEST_CASE("bootstrap interval is deterministic for a fixed seed and changes with the seed") {
    std::vector<float> x(50);
    Generator data_gen(31);
    data_gen.uniform(x.data(), 50);
    Generator g1(5), g2(5), g3(6);
    const Interval a = bootstrap_interval(50, 100, g1, mean_of(x));
    const Interval b = bootstrap_interval(50, 100, g2, mean_of(x));
    const Interval c = bootstrap_interval(50, 100, g3, mean_of(x));
    CHECK(a.lo == b.lo);  // bitwise: the same indices in the same order
    CHECK(a.hi == b.hi);
    CHECK(a.boot_mean == b.boot_mean);
    CHECK(g1.offset() == g2.offset());
    CHECK(a.value == c.value);  // the value does not depend on the resamples
    CHECK((a.lo != c.lo || a.hi != c.hi));
}

TEST_CASE("bootstrap interval refuses B = 0, n = 0 and a level outside (0, 1), each saying which") {
    const std::vector<float> x = {1, 2, 3};
    Generator gen(1);
    CHECK(contains(error_of([&] { bootstrap_interval(3, 0, gen, mean_of(x)); }), "B = 0 resamples; need B >= 1"));
    CHECK(contains(error_of([&] { bootstrap_interval(0, 100, gen, mean_of(x)); }), "no samples (n = 0)"));
    CHECK(contains(error_of([&] { bootstrap_interval(3, 100, gen, mean_of(x), 1.0); }), "level = 1 is outside (0, 1)"));
    CHECK(gen.offset() == 0);  // refused before drawing anything
    const Interval one = bootstrap_interval(1, 10, gen, mean_of(x));  // n = 1: every resample is {0}
    CHECK(one.lo == 1.0);
    CHECK(one.hi == 1.0);
}

TEST_CASE("bias_shifted moves the interval by boot_mean - value, keeping value and boot_mean") {
    const Interval r{2.0, 2.5, 4.0, 3.0};  // value 2, percentiles [2.5, 4], bootstrap mean 3: bias +1
    const Interval s = bias_shifted(r);
    CHECK(s.lo == 1.5);
    CHECK(s.hi == 3.0);
    CHECK(s.value == 2.0);
    CHECK(s.boot_mean == 3.0);
}

TEST_CASE("a Frechet distance's percentile interval misses fresh draws' FDs; moved by the bootstrap bias it holds them") {
    // Samples and reference from the same N(0, I_8): n = 200 samples, a fixed reference of 2000.
    // The FD of n samples is biased up, and a resample's (fewer distinct samples) more so, so the
    // percentile interval sits above the value and above most FDs of fresh n-sample sets; the
    // bias-shifted interval is where those fall. Measured over these 5 experiments: the raw interval
    // holds 3-24% of 300 fresh FDs, the shifted one 97-100% (slightly wide: repeats inflate the
    // resamples' spread too). Claimed with margin: raw < 50%, shifted >= 90%.
    const int d = 8, n = 200, n_ref = 2000, fresh = 300;
    Generator gen(41);
    std::vector<float> ref((size_t)n_ref * d), x((size_t)n * d), y((size_t)n * d);
    gen.normal(ref.data(), (int64_t)ref.size());
    const FrechetReference R = frechet_reference(fit_gaussian(ref.data(), n_ref, d));
    for (int experiment = 0; experiment < 5; ++experiment) {
        gen.normal(x.data(), (int64_t)x.size());
        const auto fd_of = [&](const std::vector<int64_t>& idx) {
            std::vector<float> rows(idx.size() * d);
            for (size_t i = 0; i < idx.size(); ++i) std::copy_n(&x[(size_t)idx[i] * d], d, &rows[i * d]);
            return frechet_distance(R, fit_gaussian(rows.data(), (int64_t)idx.size(), d));
        };
        Generator boot(42);
        const Interval raw = bootstrap_interval(n, 200, boot, fd_of), moved = bias_shifted(raw);
        int in_raw = 0, in_moved = 0;
        for (int k = 0; k < fresh; ++k) {
            gen.normal(y.data(), (int64_t)y.size());
            const double f = frechet_distance(R, fit_gaussian(y.data(), n, d));
            in_raw += raw.lo <= f && f <= raw.hi;
            in_moved += moved.lo <= f && f <= moved.hi;
        }
        INFO("experiment " << experiment << ": FD " << raw.value << ", percentile [" << raw.lo << ", " << raw.hi
                           << "], moved [" << moved.lo << ", " << moved.hi << "]; fresh FDs inside: " << in_raw << " and "
                           << in_moved << " of " << fresh);
        CHECK(raw.boot_mean > raw.value);  // the resamples' FDs are biased up
        CHECK(in_raw < fresh / 2);
        CHECK(in_moved >= 0.90 * fresh);
    }
}

TEST_CASE("a class-histogram entropy's percentile interval misses fresh draws; moved by the bootstrap bias it holds them") {
    // Classes drawn with the frequencies of the project's 9000 MNIST training labels, n = 1000.
    // Plug-in entropy is biased down by about (C - 1) / 2n = 0.0045, comparable to its sd (~0.003),
    // and a resample's more so. Over 40 experiments, the share of 500 fresh sets' entropies inside the
    // interval: measured 0.73-0.80 raw and 0.91-0.97 moved for 4 seeds. Claimed: raw < 0.85, moved in
    // [0.88, 0.99].
    const std::vector<double> counts = {901, 1027, 891, 932, 880, 763, 914, 970, 844, 878};
    std::vector<double> cdf;
    double total = 0, acc = 0;
    for (double c : counts) total += c;
    for (double c : counts) cdf.push_back(acc += c / total);
    const int n = 1000, experiments = 40, fresh = 500;
    Generator gen(3);
    std::vector<float> u(n);
    std::vector<int> y(n);
    const auto draw = [&] {
        gen.uniform(u.data(), n);
        for (int i = 0; i < n; ++i) y[(size_t)i] = (int)(std::upper_bound(cdf.begin(), cdf.end() - 1, (double)u[(size_t)i]) - cdf.begin());
    };
    const auto entropy_of = [&](const std::vector<int64_t>& idx) {
        std::vector<int64_t> h(10, 0);
        for (int64_t i : idx) ++h[(size_t)y[(size_t)i]];
        return histogram_entropy(h);
    };
    std::vector<int64_t> all(n);
    for (int i = 0; i < n; ++i) all[(size_t)i] = i;
    std::vector<double> fresh_h(fresh);
    for (double& h : fresh_h) {
        draw();
        h = entropy_of(all);
    }
    double in_raw = 0, in_moved = 0;
    for (int e = 0; e < experiments; ++e) {
        draw();
        Generator boot((uint64_t)e);
        const Interval raw = bootstrap_interval(n, 200, boot, entropy_of), moved = bias_shifted(raw);
        CHECK(raw.boot_mean < raw.value);  // resamples' entropies are biased down
        for (double h : fresh_h) {
            in_raw += raw.lo <= h && h <= raw.hi;
            in_moved += moved.lo <= h && h <= moved.hi;
        }
    }
    in_raw /= (double)experiments * fresh;
    in_moved /= (double)experiments * fresh;
    INFO("share of fresh entropies inside: raw " << in_raw << ", moved " << in_moved);
    CHECK(in_raw < 0.85);
    CHECK(in_moved >= 0.88);
    CHECK(in_moved <= 0.99);
}
