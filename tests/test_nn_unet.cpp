// Claims about the tiny UNet (UNetConfig::tiny(), 8 / 16 wide) on 8x8 and 12x12 images: shapes,
// that every parameter is used, that time matters, and that a short training run fits; the
// conditional UNet's label embedding (UNetConfig::num_classes).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "tests/gradcheck.h"

using namespace fw;
using namespace fw::nn;

TEST_CASE("the tiny UNet maps x_t (N,1,H,W) to an eps prediction of the same shape") {
    Generator gen(0);
    UNet net(UNetConfig::tiny(), gen);
    for (int s : {8, 12}) {
        Tensor x = randn({2, 1, s, s}, gen);
        Tensor y = net.forward(x, {3, 400});
        CHECK(y.shape() == x.shape());
        for (float v : y.to_vector()) CHECK(std::isfinite(v));
    }
}

TEST_CASE("UNet rejects a timestep count that differs from the batch, and H not a multiple of 4") {
    Generator gen(0);
    UNet net(UNetConfig::tiny(), gen);
    CHECK_THROWS_WITH_AS(net.forward(Tensor::zeros({2, 1, 8, 8}), {1}), doctest::Contains("1 timesteps for a batch of 2"),
                         fw::Error);
    CHECK_THROWS_WITH_AS(net.forward(Tensor::zeros({1, 1, 10, 8}), {1}), doctest::Contains("multiples of 4"), fw::Error);
}

TEST_CASE("the timestep changes the output (the time embedding reaches the blocks)") {
    Generator gen(2);
    UNet net(UNetConfig::tiny(), gen);
    Tensor x = randn({1, 1, 8, 8}, gen);
    const std::vector<float> a = net.forward(x, {1}).to_vector(), b = net.forward(x, {500}).to_vector();
    double diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff = std::fmax(diff, std::fabs(a[i] - b[i]));
    CHECK(diff > 1e-4);  // random init: differences are O(0.01-0.1); 1e-4 is far above float noise
}

TEST_CASE("a backward through the tiny UNet gives every parameter a non-zero gradient") {
    Generator gen(4);
    UNet net(UNetConfig::tiny(), gen);
    Tensor x = randn({2, 1, 8, 8}, gen);
    Tensor w = randn({2, 1, 8, 8}, gen);  // random upstream weights, so no symmetry hides a term
    Tensor loss = sum(net.forward(x, {7, 300}) * w);
    loss.backward();
    for (const auto& p : net.parameters()) {
        INFO(p.first);
        Tensor g = p.second.grad();
        REQUIRE(g.defined());
        CHECK(g.shape() == p.second.shape());
        double mx = 0;
        for (float v : g.to_vector()) mx = std::fmax(mx, std::fabs(v));
        CHECK(mx > 0.0);
    }
    net.zero_grad();
    for (const auto& p : net.parameters()) CHECK_FALSE(p.second.grad().defined());
}

TEST_CASE("seeded tiny-UNet training on 4 fixed noisy 8x8 images: the loss falls below half in 20 Adam steps") {
    // Plain denoising regression with a fixed batch: x_t = 0.6 x0 + 0.8 eps, target eps. The
    // net can memorise 4 examples, so a working forward/backward/Adam drives the loss down;
    // with these seeds it goes 1.29 -> 0.17 (a ratio of 0.13) in 20 steps at lr 1e-3, so 0.5
    // leaves a wide margin while a broken gradient or update (loss flat or rising) fails.
    // 4 images and 20 steps keep this under ~4 s in the -O0 ASan build.
    Generator gen(7);
    UNet net(UNetConfig::tiny(), gen);
    Generator data(99);
    Tensor x0 = randn({4, 1, 8, 8}, data), eps = randn({4, 1, 8, 8}, data);
    Tensor xt = x0 * 0.6f + eps * 0.8f;
    const std::vector<int> t = {1, 250, 500, 999};
    Adam opt(net.parameters(), AdamOptions{1e-3f});
    float first = 0, last = 0;
    for (int step = 1; step <= 20; ++step) {
        Tensor loss = mse_loss(net.forward(xt, t), eps);
        opt.zero_grad();
        loss.backward();
        clip_grad_norm(net.parameters(), 1.0f);
        opt.step();
        if (step == 1) first = loss.item();
        last = loss.item();
    }
    INFO("loss " << first << " -> " << last);
    CHECK(std::isfinite(last));
    CHECK(last < 0.5f * first);
}

// --- class conditioning -------------------------------------------------------------------------

TEST_CASE("a conditional UNet adds (K + 1) x temb parameters, drawn last: the others are the unconditional model's") {
    Generator g1(5), g2(5);
    UNetConfig c = UNetConfig::tiny();
    UNet plain(c, g1);
    c.num_classes = 10;
    UNet cond(c, g2);
    CHECK(cond.num_parameters() == plain.num_parameters() + 11 * c.temb);
    const NamedTensors pp = plain.parameters(), cp = cond.parameters();
    REQUIRE(cp.size() == pp.size() + 1);
    CHECK(cp.back().first == "label_emb.weight");
    for (size_t i = 0; i < pp.size(); ++i) {
        INFO(pp[i].first);
        CHECK(std::memcmp(pp[i].second.data(), cp[i].second.data(), sizeof(float) * pp[i].second.numel()) == 0);
    }
    // the table is N(0, 1), as torch.nn.Embedding's: each row a distinct shift of the time embedding
    double sum = 0, sum2 = 0;
    const std::vector<float> table = cond.label_emb->weight.to_vector();
    for (float v : table) sum += v, sum2 += (double)v * v;
    const double n = (double)table.size(), mean = sum / n, var = sum2 / n - mean * mean;
    CHECK(std::fabs(mean) < 4 / std::sqrt(n));          // 4 standard errors of the mean
    CHECK(std::fabs(var - 1) < 4 * std::sqrt(2 / n));   // and of the variance
    // with the table zeroed the label adds nothing: the unconditional forward, bit for bit
    std::memset(cond.label_emb->weight.data(), 0, sizeof(float) * table.size());
    Generator gx(6);
    Tensor x = randn({3, 1, 8, 8}, gx);
    const std::vector<int> t = {1, 500, 1000};
    const std::vector<float> a = plain.forward(x, t).to_vector(), b = cond.forward(x, t, {0, 7, 10}).to_vector();
    REQUIRE(a.size() == b.size());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TEST_CASE("a conditional UNet: the label changes the output, the table gets finite-difference-checked gradients") {
    Generator g(7);
    UNetConfig c = UNetConfig::tiny();
    c.num_classes = 10;
    UNet net(c, g);
    Tensor table = net.label_emb->weight;
    Generator gx(9);
    Tensor x = randn({2, 1, 8, 8}, gx);
    const std::vector<int> t = {30, 700};
    const std::vector<float> y3 = net.forward(x, t, {3, 3}).to_vector(), y5 = net.forward(x, t, {5, 5}).to_vector();
    double diff = 0;
    for (size_t i = 0; i < y3.size(); ++i) diff = std::max(diff, (double)std::fabs(y3[i] - y5[i]));
    CHECK(diff > 1e-3);
    // rows 3 and 10 are used, the others get exactly zero gradient; tolerances: tests/gradcheck.h
    test::GradCheckResult r = test::gradcheck([&](const std::vector<Tensor>&) { return net.forward(x, t, {3, 10}); },
                                              {table}, 10);
    INFO(r.worst);
    CHECK(r.max_violation <= 1.0);
    CHECK(r.checked == table.numel());
}

TEST_CASE("a conditional UNet refuses a missing label or one outside 0..K; an unconditional one refuses labels") {
    Generator g(11);
    UNetConfig c = UNetConfig::tiny();
    UNet plain(c, g);
    c.num_classes = 10;
    UNet cond(c, g);
    Tensor x = Tensor::zeros({2, 1, 8, 8});
    CHECK_THROWS_WITH(cond.forward(x, {1, 2}), doctest::Contains("needs one label per sample"));
    CHECK_THROWS_WITH(cond.forward(x, {1, 2}, {0, 11}), doctest::Contains("label 11 of sample 1 is outside 0..10"));
    CHECK_THROWS_WITH(cond.forward(x, {1, 2}, {-1, 0}), doctest::Contains("label -1"));
    CHECK_THROWS_WITH(plain.forward(x, {1, 2}, {0, 1}), doctest::Contains("unconditional"));
}
