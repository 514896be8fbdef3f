// Claims that the tiny UNet-S agrees with PyTorch 1.13 (float32, CPU), the way llm.c checks
// itself: tests/parity/make_unet_fixture.py builds the same network in PyTorch with the same
// parameter names, draws its weights, and stores weights, inputs, output, MSE loss, every
// parameter gradient and the losses of 3 Adam steps in tests/parity/unet_tiny.safetensors. Here
// we load the weights into nn::UNet and compare. No Python is needed to run these.
//
// Tolerances are |ours - torch| <= atol + rtol * |torch|, per element. Both sides compute in
// float32 but sum in different orders (im2col GEMM blocks vs oneDNN/ATen kernels, two-pass vs
// Welford GroupNorm statistics), so errors of a few ulp of the largest term in each sum are
// expected; the reasons for each pair of numbers are next to them.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "core/error.h"
#include "core/ops.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "nn/unet.h"

using namespace fw;
using namespace fw::nn;

namespace {

const std::string kFixture = "tests/parity/unet_tiny.safetensors";
const std::string kRegenerate = "/usr/bin/python3 tests/parity/make_unet_fixture.py";

// The fixture, by name. Fails the test case (REQUIRE) when the file is missing.
struct Fixture {
    std::map<std::string, Tensor> t;
    std::map<std::string, std::string> meta;
    NamedTensors params;  // "param.<name>" with the prefix dropped, in file order

    const Tensor& at(const std::string& name) const {
        auto it = t.find(name);
        if (it == t.end()) fail(kFixture, ": no tensor '", name, "'; regenerate with: ", kRegenerate);
        return it->second;
    }
};

Fixture load_fixture() {
    INFO("the PyTorch fixture " << kFixture << " (opened relative to the working directory; run the tests "
         "from the repository root) is missing; regenerate it with: " << kRegenerate);
    REQUIRE(std::ifstream(kFixture).good());
    SafeTensors st = load_safetensors(kFixture);
    Fixture f;
    f.meta = st.metadata;
    for (auto& [name, tensor] : st.tensors) {
        f.t[name] = tensor;
        if (name.rfind("param.", 0) == 0) f.params.emplace_back(name.substr(6), tensor);
    }
    return f;
}

// The tiny UNet with the fixture's weights. Every fixture parameter must name one of ours with
// the same shape, and every one of ours must be in the fixture: this also checks our naming.
struct Loaded {
    Generator gen{0};  // only for construction; every weight is then overwritten
    UNet net{UNetConfig::tiny(), gen};
};

void load_weights(UNet& net, const Fixture& f) {
    std::map<std::string, Tensor> ours;
    for (auto& [name, p] : net.parameters()) ours[name] = p;
    for (const auto& [name, src] : f.params) {
        auto it = ours.find(name);
        if (it == ours.end()) fail(kFixture, ": parameter '", name, "' is not a parameter of our UNet");
        Tensor dst = it->second;
        if (dst.shape() != src.shape())
            fail(kFixture, ": parameter '", name, "' has shape ", to_string(src.shape()), ", ours ",
                 to_string(dst.shape()));
        std::memcpy(dst.data(), src.data(), sizeof(float) * (size_t)src.numel());
        ours.erase(it);
    }
    if (!ours.empty()) fail(kFixture, ": our parameter '", ours.begin()->first, "' is not in the fixture");
}

std::vector<int> timesteps(const Fixture& f) {
    std::vector<int> t;
    for (float v : f.at("input.t").to_vector()) t.push_back((int)std::lround(v));
    return t;
}

// Per-element |a - b| <= atol + rtol |ref|; records the worst absolute and relative error and
// the element that is closest to failing.
struct Compare {
    bool ok = true;
    double max_abs = 0, max_rel = 0, ref_max = 0;  // max_rel = max |a - b| / |ref| over |ref| > atol
    double used = 0;                               // largest |a - b| / (atol + rtol |ref|); <= 1 passes
    int64_t worst = -1;                            // the element where it is reached
    float got_worst = 0, ref_worst = 0;
};

Compare compare(const Tensor& got, const Tensor& ref, double atol, double rtol) {
    FW_ASSERT(got.numel() == ref.numel(), to_string(got.shape()), " vs ", to_string(ref.shape()));
    Compare c;
    const float* a = got.data();
    const float* b = ref.data();
    for (int64_t i = 0; i < ref.numel(); ++i) {
        const double d = std::fabs((double)a[i] - b[i]), r = std::fabs((double)b[i]);
        c.ref_max = std::fmax(c.ref_max, r);
        c.max_abs = std::fmax(c.max_abs, d);
        if (r > atol) c.max_rel = std::fmax(c.max_rel, d / r);
        const double ratio = d / (atol + rtol * r);
        if (!(ratio <= 1.0)) c.ok = false;  // also catches NaN
        if (c.worst < 0 || ratio > c.used || std::isnan(ratio)) c.used = ratio, c.worst = i, c.got_worst = a[i], c.ref_worst = b[i];
    }
    return c;
}

// "name: max abs err ..., max rel err ...". With FW_PARITY_REPORT=1 in the environment it is also
// printed for passing tensors:  FW_PARITY_REPORT=1 build/release/tests/run_tests -tc='parity*'
// Call it OUTSIDE INFO(...): INFO evaluates its argument lazily, inside doctest's reporter lock.
std::string describe(const std::string& name, const Compare& c) {
    std::ostringstream os;
    os << name << ": max abs err " << c.max_abs << ", max rel err " << c.max_rel << " (max |ref| " << c.ref_max
       << "); " << c.used << " of the bound at [" << c.worst << "]: ours " << c.got_worst << ", torch " << c.ref_worst;
    if (std::getenv("FW_PARITY_REPORT")) MESSAGE(os.str());
    return os.str();
}

}  // namespace

TEST_CASE("parity: the fixture's parameters are exactly our tiny UNet's, same names, order and shapes") {
    Fixture f = load_fixture();
    Generator gen(0);
    UNet net(UNetConfig::tiny(), gen);
    const NamedTensors ours = net.parameters();
    REQUIRE(f.params.size() == ours.size());
    for (size_t i = 0; i < ours.size(); ++i) {
        INFO("parameter #" << i);
        CHECK(f.params[i].first == ours[i].first);  // named_parameters() order = our pre-order
        CHECK(f.params[i].second.shape() == ours[i].second.shape());
    }
    CHECK(f.meta.at("config") == R"({"base": 8, "groups": 4, "in_channels": 1, "mid": 16, "temb": 32, "time_dim": 16})");
    CHECK_NOTHROW(load_weights(net, f));
}

TEST_CASE("parity: the tiny UNet's output and MSE loss match PyTorch's") {
    Fixture f = load_fixture();
    Loaded m;
    load_weights(m.net, f);
    Tensor out = m.net.forward(f.at("input.x"), timesteps(f));
    Tensor loss = mse_loss(out, f.at("input.eps"));
    REQUIRE(out.shape() == f.at("output").shape());

    // output: O(1) values after ~20 float32 layers, each summing <= 432 products in another
    // order; a few ulp per layer grows to ~1e-6 absolute (measured 9.5e-7 with |ref| <= 0.8).
    // 5e-6 + 5e-5 rel: the worst element uses ~11% of the bound with every FW_SIMD kernel.
    Compare co = compare(out, f.at("output"), 5e-6, 5e-5);
    const std::string msg_co = describe("output", co);
    INFO(msg_co);
    CHECK(co.ok);
    // loss: a mean of 128 squares of O(1) differences; it inherits the output's ~1e-6 absolute
    // errors, which mostly cancel in the mean (measured: bit-identical). 1e-6 + 1e-5 rel.
    Compare cl = compare(loss, f.at("loss"), 1e-6, 1e-5);
    const std::string msg_cl = describe("loss", cl);
    INFO(msg_cl);
    CHECK(cl.ok);
}

TEST_CASE("parity: every parameter gradient of the tiny UNet matches PyTorch's") {
    Fixture f = load_fixture();
    Loaded m;
    load_weights(m.net, f);
    Tensor loss = mse_loss(m.net.forward(f.at("input.x"), timesteps(f)), f.at("input.eps"));
    loss.backward();
    for (const auto& [name, p] : m.net.parameters()) {
        const Tensor& ref = f.at("grad." + name);
        REQUIRE(p.grad().defined());
        // Gradients are sums over the batch and pixels of products of activations and upstream
        // gradients, float32 in another order; an element near 0 is a difference of large terms,
        // so its error is set by the tensor's scale, not its own size: atol = 1e-5 * max|grad|,
        // rtol = 1e-4. Measured: every |ours - torch| <= 1.3e-6 max|grad| (worst element uses
        // ~22% of the bound, grad.down0.bias), relative error <= 3e-3 only where |grad| is tiny.
        double scale = 0;
        for (float v : ref.to_vector()) scale = std::fmax(scale, std::fabs(v));
        Compare c = compare(p.grad(), ref, 1e-5 * scale, 1e-4);
        const std::string msg_c = describe("grad." + name, c);
        INFO(msg_c);
        CHECK(c.ok);
    }
}

TEST_CASE("parity: 3 Adam steps on the fixture batch give PyTorch's losses") {
    Fixture f = load_fixture();
    Loaded m;
    load_weights(m.net, f);
    const Tensor& x = f.at("input.x");
    const Tensor& eps = f.at("input.eps");
    const std::vector<int> t = timesteps(f);
    const std::vector<float> ref = f.at("adam_losses").to_vector();
    Adam opt(m.net.parameters(), AdamOptions{1e-3f, 0.9f, 0.999f, 1e-8f});
    std::vector<float> got;
    for (size_t k = 0; k < ref.size(); ++k) {
        opt.zero_grad();
        Tensor loss = mse_loss(m.net.forward(x, t), eps);
        got.push_back(loss.item());
        loss.backward();
        opt.step();
    }
    // Step 1 is the plain loss. Adam normalises each update to ~lr per element whatever the
    // gradient's size, so float noise in a gradient near 0 can change that element's step by up
    // to lr = 1e-3; the loss then moves by ~lr * |that gradient| ~ 1e-9, and the ~1e-6 relative
    // gradient noise elsewhere moves it by less. 1e-6 + 1e-5 rel (measured: bit-identical).
    Compare c = compare(Tensor::from_vector({(int64_t)got.size()}, got), f.at("adam_losses"), 1e-6, 1e-5);
    std::ostringstream steps;
    for (size_t k = 0; k < ref.size(); ++k) steps << " step " << k + 1 << ": ours " << got[k] << ", torch " << ref[k] << ";";
    const std::string msg = describe("adam_losses", c) + steps.str();
    INFO(msg);
    CHECK(c.ok);
}
