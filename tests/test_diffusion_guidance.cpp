// Claims about classifier-free guidance (diffusion/guidance.h): w = 0 is the conditional model
// bit for bit; one batched forward of 2N per call; with oracle noise models of a known two-class
// data set, a larger w moves samples toward the requested class.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "diffusion/guidance.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"

using namespace fw;
using namespace fw::diffusion;

namespace {

// Two classes of 1 x 2 x 2 "images": class y ~ N(m_y, s^2 I) with m_0 = -0.5, m_1 = +0.5, s = 0.2,
// equally likely. For Gaussian data the Bayes-optimal noise prediction is linear in x_t:
//   E[eps | x_t, y] = sqrt(1 - ab) (x_t - sqrt(ab) m_y) / (ab s^2 + 1 - ab)
// and without the label it is the posterior mix over y, p(y | x_t) from x_t ~ N(sqrt(ab) m_y, ab s^2 + 1 - ab).
const double kMean[2] = {-0.5, 0.5}, kS = 0.2;
const int kNull = 2;

LabelledEpsModel two_class_oracle(const Schedule& sch) {
    return [&sch](const Tensor& xt, const std::vector<int>& t, const std::vector<int>& y) {
        const int64_t n = xt.size(0), d = xt.numel() / n;
        std::vector<float> x = xt.to_vector(), out(x.size());
        for (int64_t i = 0; i < n; ++i) {
            const double ab = sch.alpha_bar[t[(size_t)i]], var = ab * kS * kS + 1.0 - ab;
            auto eps_for = [&](int c, int64_t k) { return std::sqrt(1.0 - ab) * (x[(size_t)k] - std::sqrt(ab) * kMean[c]) / var; };
            double w1 = 0.5;  // p(y = 1 | x_t) for the unconditional half
            if (y[(size_t)i] == kNull) {
                double log_ratio = 0;  // log p(x_t | 1) - log p(x_t | 0)
                for (int64_t k = i * d; k < (i + 1) * d; ++k) {
                    const double a0 = x[(size_t)k] - std::sqrt(ab) * kMean[0], a1 = x[(size_t)k] - std::sqrt(ab) * kMean[1];
                    log_ratio += (a0 * a0 - a1 * a1) / (2.0 * var);
                }
                w1 = 1.0 / (1.0 + std::exp(-log_ratio));
            }
            for (int64_t k = i * d; k < (i + 1) * d; ++k)
                out[(size_t)k] = (float)(y[(size_t)i] == kNull ? (1 - w1) * eps_for(0, k) + w1 * eps_for(1, k)
                                                               : eps_for(y[(size_t)i], k));
        }
        return Tensor::from_vector(xt.shape(), out);
    };
}

}  // namespace

TEST_CASE("classifier-free guidance with w = 0 samples exactly as the conditional model, bit for bit") {
    Schedule sch = linear_schedule();
    LabelledEpsModel model = two_class_oracle(sch);
    const std::vector<int> labels = {0, 1, 1, 0};
    EpsModel cond = [&](const Tensor& xt, const std::vector<int>& t) { return model(xt, t, labels); };
    EpsModel guided = classifier_free_guidance(model, labels, kNull, 0.0);
    Generator g1(3), g2(3);
    const std::vector<float> a = ddim_sample(sch, cond, {4, 1, 2, 2}, g1, 20, 0.0).to_vector();
    const std::vector<float> b = ddim_sample(sch, guided, {4, 1, 2, 2}, g2, 20, 0.0).to_vector();
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TEST_CASE("classifier-free guidance makes one forward pass of 2N: [x; x] with [y; no label], then (1 + w) c - w u") {
    Schedule sch = linear_schedule();
    LabelledEpsModel oracle = two_class_oracle(sch);
    int calls = 0;
    int64_t batch = 0;
    LabelledEpsModel counted = [&](const Tensor& xt, const std::vector<int>& t, const std::vector<int>& y) {
        ++calls;
        batch = xt.size(0);
        return oracle(xt, t, y);
    };
    const std::vector<int> labels = {1, 0, 1};
    const double w = 1.5;
    EpsModel guided = classifier_free_guidance(counted, labels, kNull, w);
    Generator gen(4);
    Tensor x = randn({3, 1, 2, 2}, gen);
    const std::vector<int> t = {10, 400, 900};
    const std::vector<float> got = guided(x, t).to_vector();
    CHECK(calls == 1);
    CHECK(batch == 6);
    const std::vector<float> c = oracle(x, t, labels).to_vector(), u = oracle(x, t, {kNull, kNull, kNull}).to_vector();
    for (size_t i = 0; i < got.size(); ++i)
        CHECK(got[i] == doctest::Approx((1 + w) * c[i] - w * u[i]).epsilon(1e-6));  // float ops on float inputs
    CHECK_THROWS_WITH(guided(x, {10, 20}), doctest::Contains("3 labels and 2 timesteps"));
    CHECK_THROWS_AS(classifier_free_guidance(counted, labels, kNull, -1.0), fw::Error);
}

TEST_CASE("classifier-free guidance: a larger w moves samples toward the requested class mean") {
    // 512 samples asked to be class 1 (mean +0.5), DDIM 50 steps from the same noise for each w.
    // Without guidance the samples' mean is the class mean (the oracle is exact); guidance pushes
    // them further along the direction between the classes: the mean pixel grows with w
    // (measured: w = 0: 0.496, w = 1: 0.556, w = 3: 0.621; asserted: growth by more than 0.03 from
    // each w to the next, far above the standard error of a 512-sample mean, 0.2 / sqrt(2048) = 0.004).
    Schedule sch = linear_schedule();
    LabelledEpsModel oracle = two_class_oracle(sch);
    const std::vector<int> labels(512, 1);
    double previous = -1e9;
    for (double w : {0.0, 1.0, 3.0}) {
        Generator gen(5);
        Tensor x = ddim_sample(sch, classifier_free_guidance(oracle, labels, kNull, w), {512, 1, 2, 2}, gen, 50, 0.0);
        double mean = 0;
        for (float v : x.to_vector()) mean += v;
        mean /= (double)x.numel();
        INFO("w = " << w << ": mean pixel " << mean);
        if (w == 0.0) CHECK(mean == doctest::Approx(0.5).epsilon(0.02));
        CHECK(mean > previous + 0.03);
        previous = mean;
    }
}
