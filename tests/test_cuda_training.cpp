// The whole DDPM loop on the GPU against the CPU: UNet-S's forward output, L_simple and every
// parameter gradient; a short training run (DdpmTrainer, what train_mnist --device cuda runs)
// whose losses track the CPU run's; sampling; a checkpoint saved and resumed on the GPU (the same
// weights as a run that never stopped); and --device cuda refused with the reason when there is
// no GPU (that case runs on every machine).
#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "core/cuda/backend.h"
#include "core/ops.h"
#include "core/rng.h"
#include "diffusion/diffusion.h"
#include "examples/common/ddpm_trainer.h"
#include "examples/common/flags.h"
#include "nn/unet.h"
#include "tests/cuda_test_util.h"
#include "tests/file_util.h"
#include "tests/simd_check.h"
#include "tests/tempdir.h"

using namespace fw;
using fw::test::cuda_only;

namespace {

// 64 synthetic 12x12 "digits": a bright bar whose row depends on the index.
data::Split bars(int n = 64, int size = 12) {
    data::Split s;
    s.n = n;
    s.rows = s.cols = size;
    s.pixels.assign((size_t)n * size * size, 0);
    s.labels.assign((size_t)n, 0);
    for (int i = 0; i < n; ++i)
        for (int c = 2; c < size - 2; ++c) s.pixels[(size_t)i * size * size + (i % size) * size + c] = 255;
    return s;
}

// A tiny UNet (8 / 16 wide, 4 groups), lr 2e-3 after 3 warm-up steps: what these tests train.
train::TrainConfig tiny_config(int64_t batch, int64_t seed, Device device) {
    train::TrainConfig c;
    c.batch = batch;
    c.lr = 2e-3;
    c.warmup = 3;
    c.base = 8;
    c.mid = 16;
    c.groups = 4;
    c.seed = seed;
    c.device = device;
    return c;
}

}  // namespace

TEST_CASE("--device cuda without a usable GPU is refused with the reason; unknown devices list the allowed") {
    if (!cuda_available()) {
        const std::string e = test::error_of([] { flags::device_from_flag("cuda"); });
        CHECK(test::contains(e, "--device cuda: "));
        CHECK(test::contains(e, cuda_unavailable_reason()));
    }
    CHECK(flags::device_from_flag("cpu") == Device::CPU);
    CHECK(test::contains(test::error_of([] { flags::device_from_flag("tpu"); }), "allowed: cpu, cuda"));
}

TEST_SUITE("cuda") {

TEST_CASE("UNet-S forward, L_simple and every parameter gradient on the GPU match the CPU" * cuda_only()) {
    Generator init(11), init2(11);
    nn::UNet cpu_net(nn::UNetConfig::small(), init), gpu_net(nn::UNetConfig::small(), init2);
    gpu_net.to(Device::CUDA);
    Generator g(12);
    Tensor x = randn({4, 1, 28, 28}, g), eps = randn({4, 1, 28, 28}, g);
    const std::vector<int> t = {1, 250, 700, 1000};
    Tensor yc = cpu_net.forward(x, t), yg = gpu_net.forward(x.to(Device::CUDA), t);
    {
        // ~25 layers of float sums in other orders (GEMM tiles, block reductions in double):
        // a few 1e-6 relative per layer, so 1e-4 absolute on outputs of size ~1 leaves a margin
        std::vector<float> a = yg.to_vector(), b = yc.to_vector();
        test::Mismatch m = test::compare(a.data(), b.data(), (int64_t)b.size(), 1e-4, 1e-3);
        INFO("forward: " << m.first);
        CHECK(m.count == 0);
    }
    Tensor lc = mse_loss(yc, eps), lg = mse_loss(yg, eps.to(Device::CUDA));  // Eq. 17
    CHECK(std::fabs(lg.item() - lc.item()) <= 1e-4f * std::fabs(lc.item()));
    lc.backward();
    lg.backward();
    NamedTensors pc = cpu_net.parameters(), pg = gpu_net.parameters();
    for (size_t i = 0; i < pc.size(); ++i) {
        std::vector<float> a = pg[i].second.grad().to_vector(), b = pc[i].second.grad().to_vector();
        double gmax = 0;
        for (float v : b) gmax = std::max(gmax, (double)std::fabs(v));
        // relative to the tensor's largest gradient: small entries are differences of large sums
        test::Mismatch m = test::compare(a.data(), b.data(), (int64_t)b.size(), 1e-4 * gmax, 1e-3);
        INFO(pc[i].first << ": " << m.first);
        CHECK(m.count == 0);
    }
}

TEST_CASE("a short training run on the GPU tracks the CPU run step by step" * cuda_only()) {
    data::Split s = bars();
    train::TrainConfig c = tiny_config(16, 5, Device::CPU), cg = tiny_config(16, 5, Device::CUDA);
    c.steps = cg.steps = 30;
    train::DdpmTrainer cpu(c, s), gpu(cg, s);
    // Same initial weights, data order, t and noise (the Philox stream on both devices); only the
    // order of float sums differs, and Adam amplifies those differences slowly: the losses agree
    // to 1e-3 relative for the first steps and stay within 5% over 30 steps.
    for (int i = 0; i < 30; ++i) {
        const float a = cpu.step(), b = gpu.step();
        INFO("step " << i + 1 << ": cpu loss " << a << ", gpu loss " << b);
        if (i < 5)
            CHECK(std::fabs(a - b) <= 1e-3f * a);
        else
            CHECK(std::fabs(a - b) <= 5e-2f * a);
    }
    // and the images sampled from the two EMA models (DDIM, 10 steps, same noise) are close
    Generator g1(9), g2(9);
    Tensor xc = train::sample_images(cpu.ema_model(), cpu.schedule(), 4, 12, 12, "ddim", 10, g1);
    Tensor xg = train::sample_images(gpu.ema_model(), gpu.schedule(), 4, 12, 12, "ddim", 10, g2);
    CHECK(xg.device() == Device::CPU);  // sample_images hands images back on the host
    std::vector<float> a = xg.to_vector(), b = xc.to_vector();
    test::Mismatch m = test::compare(a.data(), b.data(), (int64_t)b.size(), 2e-2, 0);
    INFO("samples: " << m.first);
    CHECK(m.count == 0);
}

TEST_CASE("a GPU run saves its checkpoint and a resumed GPU run reaches the weights of one that never stopped" *
          cuda_only()) {
    // what train_mnist --device cuda does at --ckpt-every, at the end and on Ctrl-C, then --resume:
    // the model, EMA and Adam tensors live on the GPU; the file holds them copied to the host
    fw::test::TempDir dir;
    const std::string ck = dir.path() + "/ck.safetensors";
    data::Split s = bars();
    const train::TrainConfig c = tiny_config(8, 3, Device::CUDA);
    train::DdpmTrainer straight(c, s);
    for (int i = 0; i < 8; ++i) straight.step();
    {
        train::DdpmTrainer first_half(c, s);
        for (int i = 0; i < 5; ++i) first_half.step();
        first_half.save(ck);
    }
    train::DdpmTrainer resumed(c, s);
    resumed.load(ck);
    CHECK(resumed.step_count() == 5);
    for (int i = 0; i < 3; ++i) resumed.step();
    // The same kernels in the same order, but sums over broadcast axes (e.g. the time embedding's
    // gradient) are atomic adds in any order: equal to float rounding, which 3 Adam steps (each
    // moving a weight by at most ~lr = 2e-3) keep far below 1e-4.
    const NamedTensors a = straight.model().parameters(), b = resumed.model().parameters();
    const NamedTensors ea = straight.ema_model().parameters(), eb = resumed.ema_model().parameters();
    REQUIRE(a.size() == b.size());
    REQUIRE(ea.size() == eb.size());
    for (size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].second.device() == Device::CUDA);
        const std::vector<float> pa = a[i].second.to_vector(), pb = b[i].second.to_vector();
        const std::vector<float> qa = ea[i].second.to_vector(), qb = eb[i].second.to_vector();
        const test::Mismatch m = test::compare(pb.data(), pa.data(), (int64_t)pa.size(), 1e-4, 0);
        const test::Mismatch e = test::compare(qb.data(), qa.data(), (int64_t)qa.size(), 1e-4, 0);
        INFO(a[i].first << ": model " << m.first << ", EMA " << e.first);
        CHECK(m.count == 0);
        CHECK(e.count == 0);
    }
}

}  // TEST_SUITE
