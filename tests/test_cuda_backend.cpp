// The CUDA backend from the outside: availability reporting, the kernel tables, device tensors
// (round trips, printing, errors), the caching allocator, the RNG stream, and one small training
// graph run on both devices. The cases marked cuda_only() need a GPU and are skipped without one.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/cuda/backend.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/ops.h"
#include "core/rng.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "tests/cuda_test_util.h"
#include "tests/simd_check.h"

using namespace fw;
using fw::test::cuda_only;

namespace {

// Every entry of a Kernels table (a name, then function pointers, all pointer-sized) is set.
int null_entries(const Kernels& k) {
    static_assert(sizeof(Kernels) % sizeof(void*) == 0, "Kernels holds only pointers");
    const void* const* slots = reinterpret_cast<const void* const*>(&k);
    int nulls = 0;
    for (size_t i = 0; i < sizeof(Kernels) / sizeof(void*); ++i) nulls += slots[i] == nullptr;
    return nulls;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("the CUDA backend reports whether it is usable, and why not") {
    const std::string reason = cuda_unavailable_reason();
    // available <=> no reason; built without CUDA => unavailable with the rebuild hint
    CHECK(cuda_available() == reason.empty());
    if (!cuda_built()) CHECK(reason.find("built without CUDA") != std::string::npos);
    if (!cuda_available()) {
        INFO("reason: " << reason);
        CHECK(!reason.empty());
        // a device tensor and the CUDA table fail with that reason, not with a crash
        CHECK(error_of([] { Tensor::zeros({3}, Device::CUDA); }).find(reason) != std::string::npos);
        CHECK(error_of([] { kernels_for(Device::CUDA); }).find(reason) != std::string::npos);
    }
}

TEST_CASE("every kernel table has every entry set (CPU paths, and the CUDA table when built)") {
    CHECK(null_entries(reference_kernels()) == 0);
    CHECK(null_entries(kernels_for(Device::CPU)) == 0);
    if (cuda_built()) {
        CHECK(null_entries(cuda_kernel_table()) == 0);
        CHECK(std::string(cuda_kernel_table().name) == "cuda");
    }
}

TEST_CASE("a tensor copied to the GPU and back is unchanged; to() on the same device is the tensor itself" *
          cuda_only()) {
    for (int64_t n : {1, 7, 257, 100003}) {
        std::vector<float> v = fw::test::random_values(n, 11);
        Tensor c = Tensor::from_vector({n}, v);
        Tensor g = c.to(Device::CUDA);
        CHECK(g.device() == Device::CUDA);
        CHECK(g.to(Device::CUDA).impl() == g.impl());  // same device: no copy
        CHECK(g.to(Device::CPU).to_vector() == v);
        CHECK(g.to_vector() == v);
        CHECK(g.clone().to_vector() == v);
        CHECK(Tensor::from_vector({n}, v, Device::CUDA).to_vector() == v);
    }
    CHECK(Tensor::full({5}, 2.5f, Device::CUDA).to_vector() == std::vector<float>(5, 2.5f));
    CHECK(Tensor::zeros({3, 0}, Device::CUDA).to_vector().empty());
    CHECK(Tensor::full({}, -4.0f, Device::CUDA).item() == -4.0f);
    const std::string s = Tensor::ones({2, 3}, Device::CUDA).to_string();
    CHECK(s.find("cuda") != std::string::npos);
    CHECK(s.find("{1, 1, 1, 1, 1, 1}") != std::string::npos);
}

TEST_CASE("ops with inputs on two devices throw, naming the op and both devices" * cuda_only()) {
    Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({2, 3}, Device::CUDA);
    CHECK(error_of([&] { add(a, b); }) ==
          "add: tensors on different devices (cpu and cuda); move one with .to(device) first");
    CHECK(error_of([&] { matmul(a, Tensor::ones({3, 2}, Device::CUDA)); }).find("matmul: tensors on different devices") == 0);
    CHECK(error_of([&] { mse_loss(a, b); }).find("mse_loss: tensors on different devices") == 0);
    CHECK(error_of([&] { concat({a, b}, 0); }).find("concat: tensors on different devices") == 0);
    Tensor x = Tensor::ones({1, 4, 3, 3}, Device::CUDA), w = Tensor::ones({4}), bias = Tensor::ones({4}, Device::CUDA);
    CHECK(error_of([&] { group_norm(x, 2, w, bias, 1e-5f); }).find("group_norm: tensors on different devices") == 0);
    CHECK(error_of([&] { conv2d(x, Tensor::ones({2, 4, 3, 3}, Device::CUDA), Tensor::ones({2}), 1, 1); })
              .find("conv2d: tensors on different devices") == 0);
}

TEST_CASE("the GPU caching allocator reuses a freed buffer of the same size" * cuda_only()) {
    { Tensor warm = Tensor::empty({12345}, Device::CUDA); }
    const size_t before = memory_stats(Device::CUDA).system_allocations;
    for (int i = 0; i < 10; ++i) Tensor t = Tensor::empty({12345}, Device::CUDA);
    CHECK(memory_stats(Device::CUDA).system_allocations == before);
    CHECK(memory_stats(Device::CUDA).cached_bytes >= 12345 * sizeof(float));
}

TEST_CASE("a GPU allocation that does not fit empties the cache, retries once, then says why" * cuda_only()) {
    { Tensor cached = Tensor::empty({12345}, Device::CUDA); }
    REQUIRE(memory_stats(Device::CUDA).cached_bytes > 0);
    const int64_t too_many = int64_t(1) << 42;  // 16 TiB of floats: more than any GPU holds
    CHECK(error_of([&] { Tensor t = Tensor::empty({too_many}, Device::CUDA); }).find("cuda: cannot allocate 17592186044416 bytes on the GPU (") == 0);
    CHECK(memory_stats(Device::CUDA).cached_bytes == 0);
    Tensor after = Tensor::ones({5}, Device::CUDA);  // the failure left the device usable
    CHECK(after.to_vector() == std::vector<float>(5, 1.0f));
}

TEST_CASE("a seed gives the same random numbers on the GPU as on the CPU" * cuda_only()) {
    for (int64_t n : {1, 3, 4, 5, 1001, 70001}) {
        for (uint64_t offset : {0ull, 7ull, (1ull << 32) + 3}) {
            Generator cpu(1234, offset), gpu(1234, offset);
            Tensor uc = rand_uniform({n}, cpu, -1.0f, 3.0f), ug = rand_uniform({n}, gpu, -1.0f, 3.0f, Device::CUDA);
            // uniforms: exact (integer -> float conversions and an unfused affine map)
            CHECK(ug.to_vector() == uc.to_vector());
            CHECK(gpu.offset() == cpu.offset());
            Tensor nc = randn({n}, cpu), ng = randn({n}, gpu, Device::CUDA);
            CHECK(gpu.offset() == cpu.offset());
            // normals: double log/cos/sin on the device are within 2 double ulps of glibc's, so
            // after rounding to float at most 1 float ulp apart (|z| < 6: 1 ulp < 5e-7)
            std::vector<float> a = ng.to_vector(), b = nc.to_vector();
            fw::test::Mismatch m = fw::test::compare(a.data(), b.data(), n, 0.0, 2.4e-7);
            INFO("n " << n << " offset " << offset << ": " << m.first);
            CHECK(m.count == 0);
        }
    }
}

TEST_CASE("a small training step gives the same loss, gradients and AdamW update on both devices" * cuda_only()) {
    // conv -> group_norm -> silu -> upsample -> concat -> avg_pool -> mse, then Adam and EMA
    Generator g(5);
    Tensor x = randn({2, 3, 7, 5}, g), w = randn({4, 3, 3, 3}, g), b = randn({4}, g);
    Tensor gw = randn({4}, g), gb = randn({4}, g), target = randn({2, 8, 7, 5}, g);
    auto run = [&](Device d, std::vector<std::vector<float>>& out) {
        Tensor xd = x.to(d), wd = w.to(d).clone().set_requires_grad(true), bd = b.to(d).clone().set_requires_grad(true);
        Tensor gwd = gw.to(d).clone().set_requires_grad(true), gbd = gb.to(d).clone().set_requires_grad(true);
        Tensor h = silu(group_norm(conv2d(xd, wd, bd, 1, 1), 2, gwd, gbd, 1e-5f));
        Tensor up = upsample_nearest2x(h);
        Tensor y = avg_pool2d(concat({up, mul(up, up)}, 1), 2);
        Tensor loss = mse_loss(y, target.to(d));
        loss.backward();
        out = {{loss.item()}, wd.grad().to_vector(), bd.grad().to_vector(), gwd.grad().to_vector(),
               gbd.grad().to_vector()};
        NamedTensors params = {{"w", wd}, {"b", bd}, {"gw", gwd}, {"gb", gbd}};
        nn::clip_grad_norm(params, 0.5f);
        nn::AdamOptions opt;
        opt.weight_decay = 0.01f;
        nn::AdamW adam(params, opt);
        adam.step();
        adam.step();
        out.push_back(wd.to_vector());
        out.push_back(adam.state()[0].second.to_vector());  // m of w
    };
    std::vector<std::vector<float>> cpu, gpu;
    run(Device::CPU, cpu);
    run(Device::CUDA, gpu);
    REQUIRE(cpu.size() == gpu.size());
    for (size_t i = 0; i < cpu.size(); ++i) {
        // float sums in another order (conv, group_norm, atomics): ~1e-6 relative per op, a few ops deep
        fw::test::Mismatch m = fw::test::compare(gpu[i].data(), cpu[i].data(), (int64_t)cpu[i].size(), 1e-5, 1e-4);
        INFO("output " << i << ": " << m.first);
        CHECK(m.count == 0);
    }
}

}  // TEST_SUITE

TEST_SUITE("cuda") {

TEST_CASE("UNet (tiny) forward and backward on the GPU match the CPU" * cuda_only()) {
    Generator init(3);
    nn::UNet cpu_net(nn::UNetConfig::tiny(), init);
    Generator init2(3);
    nn::UNet gpu_net(nn::UNetConfig::tiny(), init2);
    gpu_net.to(Device::CUDA);
    Generator g(4);
    Tensor x = randn({3, 1, 8, 8}, g), target = randn({3, 1, 8, 8}, g);
    const std::vector<int> t = {1, 500, 1000};
    Tensor lc = mse_loss(cpu_net.forward(x, t), target);
    Tensor lg = mse_loss(gpu_net.forward(x.to(Device::CUDA), t), target.to(Device::CUDA));
    CHECK(lg.device() == Device::CUDA);
    CHECK(std::fabs(lg.item() - lc.item()) <= 1e-4f * std::fabs(lc.item()));  // sums in other orders
    lc.backward();
    lg.backward();
    NamedTensors pc = cpu_net.parameters(), pg = gpu_net.parameters();
    for (size_t i = 0; i < pc.size(); ++i) {
        std::vector<float> a = pg[i].second.grad().to_vector(), b = pc[i].second.grad().to_vector();
        // gradients through ~20 layers of float sums in other orders
        fw::test::Mismatch m = fw::test::compare(a.data(), b.data(), (int64_t)b.size(), 1e-4, 1e-3);
        INFO(pc[i].first << ": " << m.first);
        CHECK(m.count == 0);
    }
}

}  // TEST_SUITE
