// Claims about nn/: Module naming and ordering, PyTorch-default initialisation, the sinusoidal
// time embedding, and UNet-S's size (parameter count, names, FLOPs). No full-size forward runs
// here: the kernels are scalar reference loops.
#include <doctest/doctest.h>

#include <cmath>
#include <regex>
#include <set>

#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "nn/layers.h"
#include "nn/time_embedding.h"
#include "nn/unet.h"

using namespace fw;
using namespace fw::nn;

namespace {

// A module with one parameter, one buffer and two children, to see the walk order.
struct Toy : Module {
    Linear a, b;
    Tensor scale, counter;
    explicit Toy(Generator& gen) : a(2, 3, gen), b(3, 1, gen, /*bias=*/false) {
        scale = register_parameter("scale", Tensor::ones({1}));
        register_module("a", a);
        counter = register_buffer("counter", Tensor::zeros({1}));
        register_module("b", b);
    }
    std::string type_name() const override { return "Toy"; }
};

std::vector<std::string> names_of(const NamedTensors& ts) {
    std::vector<std::string> out;
    for (const auto& t : ts) out.push_back(t.first);
    return out;
}

Shape shape_of(const Module& m, const std::string& name) { return m.parameter(name).shape(); }

}  // namespace

TEST_CASE("UNet-S at full width has exactly 776,929 parameters") {
    Generator gen(0);
    UNet net(UNetConfig::small(), gen);
    CHECK(net.num_parameters() == 776929);
}

TEST_CASE("UNet-S costs 274,417,664 FLOP (0.274 GFLOP) per 28x28 image forward") {
    // 2 * multiply-adds of convs + linears, counted by hand in nn/unet.h's table
    Generator gen(0);
    UNet net(UNetConfig::small(), gen);
    CHECK(net.forward_flops(28, 28) == 274417664);
}

TEST_CASE("UNet parameter names are unique, dotted, and follow the documented scheme") {
    Generator gen(0);
    UNet net(UNetConfig::small(), gen);
    const std::vector<std::string> names = names_of(net.parameters());
    const std::set<std::string> unique(names.begin(), names.end());
    CHECK(unique.size() == names.size());
    const std::regex dotted("[a-z_0-9]+(\\.[a-z_0-9]+)*\\.(weight|bias)");
    for (const std::string& n : names) {
        INFO(n);
        CHECK(std::regex_match(n, dotted));
    }
    // pre-order: the time MLP first, the output conv last
    REQUIRE(names.size() >= 6);
    CHECK(names[0] == "time_mlp.0.weight");
    CHECK(names[1] == "time_mlp.0.bias");
    CHECK(names[2] == "time_mlp.2.weight");
    CHECK(names[4] == "conv_in.weight");
    CHECK(names[6] == "enc0.norm1.weight");
    CHECK(names.back() == "out_conv.bias");
    // shapes of the documented names, (out, in) and (Cout, Cin, K, K)
    CHECK(shape_of(net, "time_mlp.0.weight") == Shape{128, 32});
    CHECK(shape_of(net, "conv_in.weight") == Shape{32, 1, 3, 3});
    CHECK(shape_of(net, "enc0.temb_proj.weight") == Shape{32, 128});
    CHECK(shape_of(net, "enc1.skip.weight") == Shape{64, 32, 1, 1});
    CHECK(shape_of(net, "down1.weight") == Shape{64, 64, 3, 3});
    CHECK(shape_of(net, "dec0.conv1.weight") == Shape{64, 128, 3, 3});
    CHECK(shape_of(net, "dec2.skip.weight") == Shape{32, 96, 1, 1});
    CHECK(shape_of(net, "up1.weight") == Shape{64, 64, 3, 3});
    CHECK(shape_of(net, "out_norm.weight") == Shape{32});
    CHECK(shape_of(net, "out_conv.weight") == Shape{1, 32, 3, 3});
    // a skip conv exists exactly where the width changes
    CHECK(unique.count("enc0.skip.weight") == 0);
    CHECK(unique.count("mid0.skip.weight") == 0);
    CHECK(unique.count("dec1.skip.weight") == 1);
}

TEST_CASE("parameters() lists own tensors first, then each child's in registration order") {
    Generator gen(1);
    Toy toy(gen);
    CHECK(names_of(toy.parameters()) == std::vector<std::string>{"scale", "a.weight", "a.bias", "b.weight"});
    CHECK(names_of(toy.buffers()) == std::vector<std::string>{"counter"});
    CHECK(toy.num_parameters() == 1 + 6 + 3 + 3);
    CHECK(toy.b.path() == "b");
}

TEST_CASE("a second registration under a used name, or a dotted name, is rejected") {
    struct Bad : Module {
        std::string type_name() const override { return "Bad"; }
        void twice() { register_parameter("w", Tensor::zeros({1})), register_parameter("w", Tensor::zeros({1})); }
        void dotted() { register_buffer("a.b", Tensor::zeros({1})); }
    };
    Bad b1, b2;
    CHECK_THROWS_WITH_AS(b1.twice(), doctest::Contains("'w' is already a parameter"), fw::Error);
    CHECK_THROWS_WITH_AS(b2.dotted(), doctest::Contains("contain no '.'"), fw::Error);
}

TEST_CASE("a layer's shape error names its path in the model and the shapes") {
    Generator gen(0);
    UNet net(UNetConfig::tiny(), gen);
    Tensor wrong = Tensor::zeros({2, 3, 8, 8});  // enc0.conv1 expects 8 channels
    CHECK_THROWS_WITH_AS(net.enc0.conv1.forward(wrong), doctest::Contains("enc0.conv1 (Conv2d 8->8 k3 s1 p1)"), fw::Error);
    CHECK_THROWS_WITH_AS(net.enc0.conv1.forward(wrong), doctest::Contains("[2, 3, 8, 8]"), fw::Error);
}

TEST_CASE("Linear and Conv2d initial values all lie within +-1/sqrt(fan_in)") {
    Generator gen(3);
    Linear lin(20, 7, gen);
    Conv2d conv(5, 4, 3, gen);
    const double b_lin = 1.0 / std::sqrt(20.0), b_conv = 1.0 / std::sqrt(45.0);
    for (const auto& p : lin.parameters())
        for (float v : p.second.to_vector()) CHECK(std::fabs(v) <= b_lin);
    for (const auto& p : conv.parameters())
        for (float v : p.second.to_vector()) CHECK(std::fabs(v) <= b_conv);
}

TEST_CASE("Kaiming-uniform weights have the mean 0 and variance 1/(3 fan_in) of U(-b, b)") {
    // 256 x 256 = 65,536 draws from U(-b, b), b = 1/16. Standard errors:
    //   mean:     sqrt(b^2/3 / n)                      = 1.4e-4
    //   variance: sqrt((E x^4 - (E x^2)^2) / n) = sqrt(4 b^4 / 45 / n) = 4.6e-6 (of 1.3e-3)
    // and we allow 5 standard errors (a false failure about once in 3 million seeds).
    Generator gen(11);
    Linear lin(256, 256, gen);
    const std::vector<float> w = lin.weight.to_vector();
    const double n = (double)w.size(), b = 1.0 / 16.0;
    double s = 0, s2 = 0;
    for (float v : w) s += v, s2 += (double)v * v;
    const double mean = s / n, var = s2 / n - mean * mean;
    CHECK(std::fabs(mean) < 5 * std::sqrt(b * b / 3 / n));
    CHECK(std::fabs(var - b * b / 3) < 5 * std::sqrt(4 * b * b * b * b / 45 / n));
}

TEST_CASE("GroupNorm starts as the identity affine map: weight 1, bias 0") {
    GroupNorm gn(4, 8);
    for (float v : gn.weight.to_vector()) CHECK(v == 1.0f);
    for (float v : gn.bias.to_vector()) CHECK(v == 0.0f);
    CHECK(gn.eps == 1e-5f);
}

TEST_CASE("the same seed builds the same UNet; another seed builds another") {
    Generator g1(5), g2(5), g3(6);
    UNet a(UNetConfig::tiny(), g1), b(UNetConfig::tiny(), g2), c(UNetConfig::tiny(), g3);
    CHECK(a.parameter("dec1.conv2.weight").to_vector() == b.parameter("dec1.conv2.weight").to_vector());
    CHECK(a.parameter("dec1.conv2.weight").to_vector() != c.parameter("dec1.conv2.weight").to_vector());
}

TEST_CASE("sinusoidal_embedding is [sin(t f_i), cos(t f_i)] with f_i = exp(-ln(10000) i / 16)") {
    Tensor e = sinusoidal_embedding({0, 37, 999}, 32);
    REQUIRE(e.shape() == Shape{3, 32});
    const std::vector<float> v = e.to_vector();
    const int ts[3] = {0, 37, 999};
    for (int n = 0; n < 3; ++n)
        for (int i = 0; i < 16; ++i) {
            const double f = std::exp(-std::log(10000.0) * i / 16);
            INFO("t = " << ts[n] << ", i = " << i);
            // t f_i is formed in float: its rounding (<= 999 * 6e-8 ~ 6e-5) bounds the error
            CHECK(std::fabs(v[n * 32 + i] - std::sin(ts[n] * f)) < 1e-4);
            CHECK(std::fabs(v[n * 32 + 16 + i] - std::cos(ts[n] * f)) < 1e-4);
        }
}
