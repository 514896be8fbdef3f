// A full training step of the reference denoiser UNet-S (776,929 parameters) at batch 64:
// q_sample (Eq. 6) -> UNet-S forward -> L_simple (Eq. 17) -> backward -> Adam, in images/s;
// and sampling: one DDPM step (Eq. 18) of 64 images = one no-grad UNet-S forward + the update,
// reported as the time for the full 1000-step sampler (steps all cost the same).
// Timing: a step costs a large fraction of a second, so run with --benchmark_min_time=3 or more
// (`make bench` does). train_step also reports peak_MiB: the most bytes the tensor allocator held at once during a step
// (core/storage.h memory_stats; parameters, gradients and Adam's moments included).
// bench/train_step_torch.py runs the identical model in PyTorch; bench/summarize.py puts the
// two side by side.
// The *_cuda cases run the same on the CUDA backend at batch 64 and 256 (`train_step_torch.py
// --device cuda` is PyTorch's side); each iteration ends with the GPU finished (loss.item() /
// cuda::synchronize()), so real time is GPU time. Without a GPU they are skipped with the reason.
#include <benchmark/benchmark.h>

#include <algorithm>

#include "core/autograd.h"
#include "core/cpu.h"
#include "core/cuda/backend.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/storage.h"
#include "diffusion/diffusion.h"
#include "nn/optim.h"
#include "nn/unet.h"

using namespace fw;

namespace {

// One training step on `device`: the body of every train_step case.
void run_train_steps(benchmark::State& state, int batch, Device device) {
    Generator gen(0);
    nn::UNet model(nn::UNetConfig::small(), gen);
    model.to(device);
    nn::Adam adam(model.parameters(), {2e-4f});
    diffusion::Schedule sch = diffusion::linear_schedule();
    diffusion::EpsModel eps_theta = [&](const Tensor& xt, const std::vector<int>& t) { return model.forward(xt, t); };
    Tensor x0 = rand_uniform({batch, 1, 28, 28}, gen, -1.0f, 1.0f, device);
    size_t peak = 0;
    for (auto _ : state) {
        reset_peak_memory(device);
        {
            Tensor loss = diffusion::l_simple(sch, eps_theta, x0, gen);
            model.zero_grad();
            loss.backward();
            adam.step();
            benchmark::DoNotOptimize(loss.item());  // waits for the GPU on the CUDA backend
        }
        peak = std::max(peak, memory_stats(device).peak_live_bytes);
    }
    state.counters["peak_MiB"] = (double)peak / (1024.0 * 1024.0);
    state.counters["images/s"] = benchmark::Counter((double)batch, benchmark::Counter::kIsIterationInvariantRate);
}

// One DDPM step (Eq. 18) of `batch` images on `device`: the body of every sample_step case.
void run_sample_steps(benchmark::State& state, int batch, Device device) {
    Generator gen(0);
    nn::UNet model(nn::UNetConfig::small(), gen);
    model.to(device);
    diffusion::Schedule sch = diffusion::linear_schedule();
    Tensor xt = randn({batch, 1, 28, 28}, gen, device);
    int t = sch.T;
    for (auto _ : state) {
        NoGradGuard no_grad;
        Tensor eps = model.forward(xt, diffusion::same_t(xt, t));
        Tensor z = randn(xt.shape(), gen, device);
        xt = diffusion::ddpm_step(sch, xt, t, eps, z, diffusion::SampleOptions{});
        t = t > 1 ? t - 1 : sch.T;
        if (device == Device::CUDA) cuda::synchronize();
    }
    // kIsIterationInvariantRate | kInvert gives seconds / (value * iterations): value 1/1000 makes
    // it 1000 * (seconds per step).
    state.counters["s_per_1000_steps"] =
        benchmark::Counter(1e-3, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

bool skip_without_gpu(benchmark::State& state) {
    if (cuda_available()) return false;
    state.SkipWithError(cuda_unavailable_reason().c_str());
    return true;
}

void train_step(benchmark::State& state) {
    const int batch = (int)state.range(0), threads = (int)state.range(1);
    set_num_threads(threads);
    run_train_steps(state, batch, Device::CPU);
    state.SetLabel(std::string(cpu_path_name(cpu_path())) + ", " + std::to_string(threads) + " threads");
}

void sample_step(benchmark::State& state) {
    const int batch = (int)state.range(0), threads = (int)state.range(1);
    set_num_threads(threads);
    run_sample_steps(state, batch, Device::CPU);
    state.SetLabel(std::string(cpu_path_name(cpu_path())) + ", " + std::to_string(threads) + " threads");
}

void train_step_cuda(benchmark::State& state) {
    if (skip_without_gpu(state)) return;
    run_train_steps(state, (int)state.range(0), Device::CUDA);
    state.SetLabel("cuda");
}

void sample_step_cuda(benchmark::State& state) {
    if (skip_without_gpu(state)) return;
    run_sample_steps(state, (int)state.range(0), Device::CUDA);
    state.SetLabel("cuda");
}

}  // namespace

BENCHMARK(train_step)->ArgNames({"batch", "threads"})->Args({64, 2})->Args({64, 1})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(sample_step)->ArgNames({"batch", "threads"})->Args({64, 2})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(train_step_cuda)->ArgName("batch")->Arg(64)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(sample_step_cuda)->ArgName("batch")->Arg(64)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
