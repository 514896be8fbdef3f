// Claims about nn/optim: Adam and AdamW follow their equations step by step (checked against
// the same equations evaluated in double here), clipping, warm-up, and the named state.
#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "core/ops.h"
#include "nn/optim.h"

using namespace fw;
using namespace fw::nn;

namespace {

// The quadratic f(p) = 1/2 sum_i a_i (p_i - c_i)^2, gradient a_i (p_i - c_i).
const std::vector<double> kA = {1.0, 4.0, 0.25}, kC = {0.3, 1.0, -1.0}, kP0 = {1.0, -2.0, 0.5};

Tensor leaf(const std::vector<double>& v) {
    std::vector<float> f(v.begin(), v.end());
    return Tensor::from_vector({(int64_t)v.size()}, f).set_requires_grad(true);
}

// Sets p.grad to the quadratic's gradient at p, through autograd.
void quadratic_backward(Tensor& p) {
    std::vector<float> a(kA.begin(), kA.end()), c(kC.begin(), kC.end());
    Tensor A = Tensor::from_vector({3}, a), C = Tensor::from_vector({3}, c);
    p.zero_grad();
    (sum(A * square(p - C)) * 0.5f).backward();
}

// The reference: `steps` Adam(W) updates of the quadratic, in double, from the equations.
std::vector<double> adam_reference(int steps, double lr, double wd, bool decoupled) {
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    std::vector<double> p = kP0, m(3, 0.0), v(3, 0.0);
    for (int t = 1; t <= steps; ++t)
        for (int i = 0; i < 3; ++i) {
            double g = kA[i] * (p[i] - kC[i]);
            if (decoupled) p[i] -= lr * wd * p[i];  // AdamW: p = p - lr wd p
            else g += wd * p[i];                    // Adam:  g = g + wd p
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            const double mhat = m[i] / (1 - std::pow(b1, t)), vhat = v[i] / (1 - std::pow(b2, t));
            p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
        }
    return p;
}

void check_close(const Tensor& got, const std::vector<double>& want, double tol) {
    const std::vector<float> g = got.to_vector();
    REQUIRE(g.size() == want.size());
    for (size_t i = 0; i < g.size(); ++i) {
        INFO("element " << i << ": got " << g[i] << ", want " << want[i]);
        CHECK(std::fabs(g[i] - want[i]) <= tol);
    }
}

}  // namespace

TEST_CASE("Adam matches a 3-step trajectory of its equations evaluated in double") {
    Tensor p = leaf(kP0);
    Adam opt({{"p", p}}, AdamOptions{0.1f});
    for (int t = 1; t <= 3; ++t) {
        quadratic_backward(p);
        opt.step();
        CAPTURE(t);
        check_close(p, adam_reference(t, 0.1, 0.0, false), 1e-5);  // float32 rounding of O(1) values over 3 steps: ~1e-6
    }
    CHECK(opt.step_count() == 3);
}

TEST_CASE("Adam's weight_decay is an L2 term folded into the gradient") {
    Tensor p = leaf(kP0);
    Adam opt({{"p", p}}, AdamOptions{0.1f, 0.9f, 0.999f, 1e-8f, /*weight_decay=*/0.5f});
    for (int t = 1; t <= 2; ++t) quadratic_backward(p), opt.step();
    check_close(p, adam_reference(2, 0.1, 0.5, false), 1e-5);  // as above: float32 rounding, ~1e-6
}

TEST_CASE("AdamW decays decoupled: p(1 - lr wd), then the Adam step, for 2 steps") {
    Tensor p = leaf(kP0);
    AdamW opt({{"p", p}}, AdamOptions{0.1f, 0.9f, 0.999f, 1e-8f, /*weight_decay=*/0.5f});
    CHECK(opt.decoupled_weight_decay());
    for (int t = 1; t <= 2; ++t) quadratic_backward(p), opt.step();
    check_close(p, adam_reference(2, 0.1, 0.5, true), 1e-5);  // as above: float32 rounding, ~1e-6
    // the two weight decays really differ here, by far more than the tolerance
    const std::vector<double> l2 = adam_reference(2, 0.1, 0.5, false), dec = adam_reference(2, 0.1, 0.5, true);
    CHECK(std::fabs(l2[2] - dec[2]) > 1e-3);
}

TEST_CASE("AdamW with a zero gradient only shrinks the weights by (1 - lr wd)") {
    // g = 0 gives m = v = 0 and an Adam step of 0 / (0 + eps) = 0: only the decay acts.
    Tensor p = leaf(kP0);
    AdamW opt({{"p", p}}, AdamOptions{0.01f, 0.9f, 0.999f, 1e-8f, /*weight_decay=*/0.1f});
    sum(p * 0.0f).backward();
    opt.step();
    std::vector<double> want;
    for (double v : kP0) want.push_back(v * (1 - 0.01 * 0.1));
    check_close(p, want, 1e-7);  // one float multiply: relative rounding 6e-8 of |p| <= 2
}

TEST_CASE("a parameter that no backward reached is left untouched by Adam") {
    Tensor p = leaf(kP0), q = leaf({5.0, 6.0});
    Adam opt({{"p", p}, {"q", q}}, AdamOptions{0.1f});
    quadratic_backward(p);
    opt.step();
    CHECK(q.to_vector() == std::vector<float>{5.0f, 6.0f});
    CHECK(opt.state()[1].first == "adam.m.q");
    CHECK(opt.state()[1].second.to_vector() == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("Adam's state is named adam.m.<param> / adam.v.<param> and reloading it resumes exactly") {
    Tensor p = leaf(kP0);
    Adam a({{"p", p}}, AdamOptions{0.1f});
    for (int t = 1; t <= 2; ++t) quadratic_backward(p), a.step();
    const NamedTensors st = a.state();
    REQUIRE(st.size() == 2);
    CHECK(st[0].first == "adam.m.p");
    CHECK(st[1].first == "adam.v.p");

    // a second optimizer on a copy of the weights, given the saved state and step count
    Tensor p2 = p.clone().set_requires_grad(true);
    Adam b({{"p", p2}}, AdamOptions{0.1f});
    b.load_state(st);
    b.set_step_count(a.step_count());
    quadratic_backward(p), a.step();
    quadratic_backward(p2), b.step();
    CHECK(p.to_vector() == p2.to_vector());  // same float operations in the same order: bitwise equal

    CHECK_THROWS_WITH_AS(b.load_state({{"adam.m.p", Tensor::zeros({2})}}), doctest::Contains("has shape [2]"), fw::Error);
}

TEST_CASE("clip_grad_norm scales the global gradient norm down to max_norm and returns the norm before") {
    // gradients (3, 4) and (12): global norm sqrt(9 + 16 + 144) = 13
    Tensor a = leaf({0.0, 0.0}), b = leaf({0.0});
    (sum(a * Tensor::from_vector({2}, {3.0f, 4.0f})) + sum(b * 12.0f)).backward();
    const NamedTensors params = {{"a", a}, {"b", b}};
    CHECK(clip_grad_norm(params, 100.0f) == doctest::Approx(13.0).epsilon(1e-6));  // below max: untouched
    CHECK(a.grad().to_vector() == std::vector<float>{3.0f, 4.0f});
    CHECK(clip_grad_norm(params, 6.5f) == doctest::Approx(13.0).epsilon(1e-6));    // float sum of squares: exact here
    // coef = 6.5 / (13 + 1e-6): each gradient halves, up to the 1e-6 guard (relative 8e-8)
    const std::vector<float> ga = a.grad().to_vector(), gb = b.grad().to_vector();
    CHECK(ga[0] == doctest::Approx(1.5).epsilon(1e-6));
    CHECK(ga[1] == doctest::Approx(2.0).epsilon(1e-6));
    CHECK(gb[0] == doctest::Approx(6.0).epsilon(1e-6));
    const double after = std::sqrt((double)ga[0] * ga[0] + (double)ga[1] * ga[1] + (double)gb[0] * gb[0]);
    CHECK(after == doctest::Approx(6.5).epsilon(1e-6));
}

TEST_CASE("linear warm-up: lr(step) = base * min(1, step / warmup), step 1-indexed") {
    CHECK(linear_warmup_lr(1e-3f, 1, 100) == doctest::Approx(1e-5));
    CHECK(linear_warmup_lr(1e-3f, 50, 100) == doctest::Approx(5e-4));
    CHECK(linear_warmup_lr(1e-3f, 100, 100) == 1e-3f);
    CHECK(linear_warmup_lr(1e-3f, 5000, 100) == 1e-3f);
    CHECK(linear_warmup_lr(1e-3f, 1, 0) == 1e-3f);  // no warm-up
    CHECK_THROWS_AS(linear_warmup_lr(1e-3f, 0, 100), fw::Error);
}

TEST_CASE("warm-up then cosine decay: linear to the peak, half-way at the middle, the floor at the end") {
    // 10 warm-up steps, 110 in all, floor 5%: the decay runs over steps 10..110.
    CHECK(nn::warmup_cosine_lr(1e-3f, 1, 10, 110, 0.05f) == doctest::Approx(1e-4));   // 1/10 of the peak
    CHECK(nn::warmup_cosine_lr(1e-3f, 10, 10, 110, 0.05f) == doctest::Approx(1e-3));  // the peak
    // p = 0.5: cos(pi/2) = 0, lr = base (f + (1 - f)/2) = 1e-3 * 0.525
    CHECK(nn::warmup_cosine_lr(1e-3f, 60, 10, 110, 0.05f) == doctest::Approx(5.25e-4));
    CHECK(nn::warmup_cosine_lr(1e-3f, 110, 10, 110, 0.05f) == doctest::Approx(5e-5));  // the floor
    CHECK(nn::warmup_cosine_lr(1e-3f, 500, 10, 110, 0.05f) == doctest::Approx(5e-5));  // stays there
    float prev = 1.0f;
    int rises = 0;
    for (int s = 10; s <= 110; ++s) {  // non-increasing after the warm-up
        float lr = nn::warmup_cosine_lr(1e-3f, s, 10, 110, 0.05f);
        rises += lr > prev;
        prev = lr;
    }
    CHECK(rises == 0);
}

TEST_CASE("warm-up, stable, decay: the rate up to the decay's start does not depend on the total") {
    // 10 warm-up steps, 200 in all, the last 20% (40 steps) decay: D = 160.
    CHECK(nn::wsd_decay_start(200, 0.2) == 160);
    CHECK(nn::wsd_decay_start(7, 0.2) == 6);   // round(1.4) = 1 decaying step
    CHECK(nn::wsd_decay_start(50, 0.0) == 50);  // no decay
    CHECK_THROWS_AS(nn::wsd_decay_start(50, 1.5), fw::Error);
    CHECK(nn::warmup_stable_decay_lr(1e-3f, 1, 10, 200, 0.2, 0.05f) == doctest::Approx(1e-4));  // the warm-up
    CHECK(nn::warmup_stable_decay_lr(1e-3f, 160, 10, 200, 0.2, 0.05f) == 1e-3f);  // the last stable step
    // p = 20 / 40 = 0.5: lr = base (f + (1 - f) / 2) = 1e-3 * 0.525
    CHECK(nn::warmup_stable_decay_lr(1e-3f, 180, 10, 200, 0.2, 0.05f) == doctest::Approx(5.25e-4));
    CHECK(nn::warmup_stable_decay_lr(1e-3f, 200, 10, 200, 0.2, 0.05f) == doctest::Approx(5e-5));  // the floor
    CHECK(nn::warmup_stable_decay_lr(1e-3f, 90, 10, 0, 0.2, 0.05f) == 1e-3f);  // not planned yet: no decay
    // Every step up to D(200) = 160 has the same rate whatever the total beyond it: the property
    // train_mnist --minutes relies on when it re-plans.
    for (int64_t total : {200, 201, 260, 1000, 0})
        for (int64_t s = 1; s <= 160; ++s)
            REQUIRE(nn::warmup_stable_decay_lr(1e-3f, s, 10, total, 0.2, 0.05f) ==
                    nn::warmup_stable_decay_lr(1e-3f, s, 10, 200, 0.2, 0.05f));
}
