// Claims about nn/ema: the update rule, the warm-up decay, and that buffers are never touched.
#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "nn/ema.h"

using namespace fw;
using namespace fw::nn;

namespace {

// One parameter w (2) and one buffer `steps` (1): the buffer must survive the EMA untouched.
struct WithBuffer : Module {
    Tensor w, steps;
    WithBuffer() {
        w = register_parameter("w", Tensor::from_vector({2}, {1.0f, -1.0f}));
        steps = register_buffer("steps", Tensor::from_vector({1}, {42.0f}));
    }
    std::string type_name() const override { return "WithBuffer"; }
};

void set(Tensor t, std::vector<float> v) {
    for (size_t i = 0; i < v.size(); ++i) t.data()[i] = v[i];
}

}  // namespace

TEST_CASE("EMA update is shadow = d shadow + (1 - d) p, starting from the initial weights") {
    WithBuffer m;
    EMA ema(m, 0.9f);
    set(m.w, {3.0f, 5.0f});
    ema.update(m);
    set(m.w, {0.0f, 1.0f});
    ema.update(m);
    // in double: s1 = 0.9 s0 + 0.1 p1; s2 = 0.9 s1 + 0.1 p2
    const double s1[2] = {0.9 * 1 + 0.1 * 3, 0.9 * -1 + 0.1 * 5};
    const double s2[2] = {0.9 * s1[0] + 0.1 * 0, 0.9 * s1[1] + 0.1 * 1};
    const std::vector<float> got = ema.shadow()[0].second.to_vector();
    CHECK(got[0] == doctest::Approx(s2[0]).epsilon(1e-6));  // float32: two roundings of O(1) values
    CHECK(got[1] == doctest::Approx(s2[1]).epsilon(1e-6));
    CHECK(ema.num_updates() == 2);
}

TEST_CASE("EMA warm-up uses decay_t = min(decay, (1 + t) / (10 + t)), t = updates so far") {
    WithBuffer m;
    EMA warm(m, 0.9999f, /*warmup=*/true), capped(m, 0.5f, /*warmup=*/true), plain(m, 0.9999f);
    CHECK(warm.next_decay() == doctest::Approx(0.1));   // t = 0: 1/10
    CHECK(capped.next_decay() == doctest::Approx(0.1));
    CHECK(plain.next_decay() == 0.9999f);
    for (int t = 0; t < 10; ++t) warm.update(m), capped.update(m);
    CHECK(warm.next_decay() == doctest::Approx(11.0 / 20.0));  // t = 10
    CHECK(capped.next_decay() == 0.5f);                        // 11/20 > 0.5: capped at decay
    // the first warm-up update therefore keeps only 10% of the initial weights
    WithBuffer m2;
    EMA first(m2, 0.9999f, true);
    set(m2.w, {11.0f, -1.0f});
    first.update(m2);
    CHECK(first.shadow()[0].second.to_vector()[0] == doctest::Approx(0.1 * 1 + 0.9 * 11).epsilon(1e-6));
}

TEST_CASE("EMA holds only parameters and never reads or writes buffers") {
    WithBuffer m;
    EMA ema(m, 0.5f);
    REQUIRE(ema.shadow().size() == 1);
    CHECK(ema.shadow()[0].first == "w");
    CHECK(ema.state()[0].first == "ema.w");
    set(m.steps, {7.0f});
    ema.update(m);
    CHECK(m.steps.to_vector() == std::vector<float>{7.0f});
    set(m.w, {100.0f, 100.0f});
    ema.copy_to(m);
    CHECK(m.steps.to_vector() == std::vector<float>{7.0f});
    CHECK(m.w.to_vector() == ema.shadow()[0].second.to_vector());  // copy_to writes the shadow into w
}

TEST_CASE("EMA refuses a model whose parameters differ from the ones it was built for") {
    struct Other : Module {
        Tensor v;
        Other() { v = register_parameter("v", Tensor::zeros({2})); }
        std::string type_name() const override { return "Other"; }
    };
    WithBuffer m;
    Other o;
    EMA ema(m, 0.9f);
    CHECK_THROWS_WITH_AS(ema.update(o), doctest::Contains("'v'"), fw::Error);
}
