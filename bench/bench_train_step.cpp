// A full training step of the reference denoiser UNet-S (776,929 parameters) at batch 64:
// q_sample (Eq. 6) -> UNet-S forward -> L_simple (Eq. 17) -> backward -> Adam, in images/s;
// and sampling: one DDPM step (Eq. 18) of 64 images = one no-grad UNet-S forward + the update,
// reported as the time for the full 1000-step sampler (steps all cost the same).
// Timing: a step costs a large fraction of a second, so run with --benchmark_min_time=3 or more
// (`make bench` does). train_step also reports peak_MiB: the most bytes the tensor allocator held at once during a step
// (core/storage.h memory_stats; parameters, gradients and Adam's moments included).
// bench/train_step_torch.py runs the identical model in PyTorch; bench/summarize.py puts the
// two side by side.
// train_step_profiled is train_step with the per-op profiler on (core/watch.h): its time beside
// train_step's is the cost of watching. `bench_train_step --profile [--steps N] [--threads T]`
// prints the profiler's table of N steps (default 10, after one warm-up step) at batch 64 instead
// of benchmarking; bench/profile_torch.py prints PyTorch's torch.profiler table of the same step.
// train_step_cond is the class-conditional UNet-S (train_mnist --cond: a label embedding, labels
// dropped with probability 0.1) beside train_step: its ratio is what conditioning costs a step.
// sample_step_guided is a classifier-free guided DDPM step (diffusion/guidance.h: one forward of
// 2 x 64 images, the labelled and the unlabelled halves) beside sample_step.
// The *_cuda cases run the same on the CUDA backend at batch 64 and 256 (`train_step_torch.py
// --device cuda` is PyTorch's side); each iteration ends with the GPU finished (loss.item() /
// cuda::synchronize()), so real time is GPU time. Without a GPU they are skipped with the reason.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "core/autograd.h"
#include "core/cpu.h"
#include "core/cuda/backend.h"
#include "core/fma_peak.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/storage.h"
#include "core/watch.h"
#include "diffusion/diffusion.h"
#include "diffusion/guidance.h"
#include "nn/optim.h"
#include "nn/unet.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace fw;

namespace {

// UNet-S, Adam and a batch on `device`: what a training step needs.
// `classes` > 0: the class-conditional UNet-S, each step with random labels of which 10% are
// "no label" (as train_mnist --cond draws them).
nn::UNetConfig small_config(int classes) {
    nn::UNetConfig c = nn::UNetConfig::small();
    c.num_classes = classes;
    return c;
}

struct TrainSetup {
    Generator gen{0};
    nn::UNet model;
    std::unique_ptr<nn::Adam> adam;  // made after the model has moved to its device
    diffusion::Schedule sch = diffusion::linear_schedule();
    Tensor x0;
    std::vector<int> labels;
    TrainSetup(int batch, Device device, int classes = 0) : model(small_config(classes), gen) {
        model.to(device);
        adam = std::make_unique<nn::Adam>(model.parameters(), nn::AdamOptions{2e-4f});
        x0 = rand_uniform({batch, 1, 28, 28}, gen, -1.0f, 1.0f, device);
        if (classes > 0) labels.resize((size_t)batch);
    }
    float step() {
        if (!labels.empty()) {
            std::vector<float> u(labels.size());
            gen.uniform(u.data(), (int64_t)u.size());
            for (size_t i = 0; i < labels.size(); ++i) labels[i] = u[i] < 0.1f ? model.null_label() : (int)(u[i] * 100) % 10;
        }
        diffusion::EpsModel eps_theta = [&](const Tensor& xt, const std::vector<int>& t) { return model.forward(xt, t, labels); };
        Tensor loss = diffusion::l_simple(sch, eps_theta, x0, gen);
        model.zero_grad();
        loss.backward();
        adam->step();
        return loss.item();  // waits for the GPU on the CUDA backend
    }
};

// The multiply-adds of one call of `step` (the profiler's direct count over conv2d, matmul and
// linear), in FLOPs; the profiler is off again afterwards.
double flops_of(const std::function<void()>& step) {
    start_profile();
    {
        ProfiledStep marked;
        step();
    }
    double flops = 0;
    for (const ProfileEntry& e : profile_snapshot().entries)
        if (e.flops > 0) flops += e.flops;
    stop_profile();
    return flops;
}

// GFLOP/s and peak_frac of a CPU case that did `flops_per_iteration` per iteration: the rate, and
// the rate over the FMA peak measured now at the case's thread count.
void report_flops(benchmark::State& state, double flops_per_iteration) {
    const double peak = measure_fma_peak_gflops(num_threads());
    state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["peak_frac"] = benchmark::Counter(flops_per_iteration / 1e9 / peak, benchmark::Counter::kIsIterationInvariantRate);
}

// Another busy process for as long as this object lives: a shell spinning on one core (the same
// command as train_step_torch.py's), killed by the destructor, and ending by itself within ~0.1 s
// if this process dies first. posix_spawn, not fork: a forked copy would share this process's
// pages copy-on-write, and every page the step then writes (280 MiB of them) would fault once.
constexpr const char* kBusyLoop =
    "while kill -0 $PPID 2>/dev/null; do i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; done";

class BusyProcess {
public:
    BusyProcess() {
        const char* argv[] = {"sh", "-c", kBusyLoop, nullptr};
        const int err = posix_spawn(&pid_, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ);
        if (err != 0) {
            pid_ = 0;
            std::cerr << "bench_train_step: could not start /bin/sh (" << std::strerror(err) << "): the case runs without the busy process\n";
        }
    }
    ~BusyProcess() {
        if (pid_ <= 0) return;
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    bool running() const { return pid_ > 0; }
    BusyProcess(const BusyProcess&) = delete;
    BusyProcess& operator=(const BusyProcess&) = delete;

private:
    pid_t pid_ = 0;
};

// One training step on `device`: the body of every train_step case; `profiled`: with the per-op
// profiler on, each step marked.
void run_train_steps(benchmark::State& state, int batch, Device device, bool profiled = false, int classes = 0) {
    TrainSetup s(batch, device, classes);
    if (profiled) start_profile();
    size_t peak = 0;
    for (auto _ : state) {
        reset_peak_memory(device);
        {
            ProfiledStep step;
            benchmark::DoNotOptimize(s.step());
        }
        peak = std::max(peak, memory_stats(device).peak_live_bytes);
    }
    if (profiled) stop_profile();
    state.counters["peak_MiB"] = (double)peak / (1024.0 * 1024.0);
    state.counters["images/s"] = benchmark::Counter((double)batch, benchmark::Counter::kIsIterationInvariantRate);
    if (device == Device::CPU) report_flops(state, flops_of([&] { s.step(); }));
}

// --profile: the profiler's table of `steps` training steps at batch 64 (after one warm-up step).
int print_train_step_profile(int steps, int threads) {
    set_num_threads(threads);
    TrainSetup s(64, Device::CPU);
    s.step();
    start_profile();
    for (int i = 0; i < steps; ++i) {
        ProfiledStep step;
        s.step();
    }
    std::cout << "UNet-S training step, batch 64, " << threads << " threads, " << steps << " steps after one warm-up:\n";
    print_profile(std::cout);
    stop_profile();
    return 0;
}

// One DDPM step (Eq. 18) of `batch` images on `device`: the body of every sample_step case.
// guided: the conditional UNet-S with classifier-free guidance (w = 2, one label per image).
void run_sample_steps(benchmark::State& state, int batch, Device device, bool guided = false) {
    Generator gen(0);
    nn::UNet model(small_config(guided ? 10 : 0), gen);
    model.to(device);
    diffusion::Schedule sch = diffusion::linear_schedule();
    Tensor xt = randn({batch, 1, 28, 28}, gen, device);
    std::vector<int> labels((size_t)batch);
    for (int i = 0; i < batch; ++i) labels[(size_t)i] = i % 10;
    const diffusion::EpsModel eps_model =
        guided ? diffusion::classifier_free_guidance(
                     [&](const Tensor& x, const std::vector<int>& t, const std::vector<int>& y) { return model.forward(x, t, y); },
                     labels, model.null_label(), 2.0)
               : diffusion::EpsModel([&](const Tensor& x, const std::vector<int>& t) { return model.forward(x, t); });
    int t = sch.T;
    auto one_step = [&] {
        NoGradGuard no_grad;
        Tensor eps = eps_model(xt, diffusion::same_t(xt, t));
        Tensor z = randn(xt.shape(), gen, device);
        xt = diffusion::ddpm_step(sch, xt, t, eps, z, diffusion::SampleOptions{});
        t = t > 1 ? t - 1 : sch.T;
        if (device == Device::CUDA) cuda::synchronize();
    };
    for (auto _ : state) one_step();
    if (device == Device::CPU) report_flops(state, flops_of(one_step));
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

void train_step_contended(benchmark::State& state) {
    const int batch = (int)state.range(0), threads = (int)state.range(1);
    set_num_threads(threads);
    measure_fma_peak_gflops(threads);  // cached: the peak of peak_frac is the idle machine's
    BusyProcess busy;
    run_train_steps(state, batch, Device::CPU);
    state.SetLabel(std::string(cpu_path_name(cpu_path())) + ", " + std::to_string(threads) + " threads, " +
                   (busy.running() ? "one other process busy" : "no busy process: NOT contended"));
}

void train_step_profiled(benchmark::State& state) {
    const int batch = (int)state.range(0), threads = (int)state.range(1);
    set_num_threads(threads);
    run_train_steps(state, batch, Device::CPU, /*profiled=*/true);
    state.SetLabel(std::string(cpu_path_name(cpu_path())) + ", " + std::to_string(threads) + " threads, profiler on");
}

void train_step_cond(benchmark::State& state) {
    const int batch = (int)state.range(0), threads = (int)state.range(1);
    set_num_threads(threads);
    run_train_steps(state, batch, Device::CPU, /*profiled=*/false, /*classes=*/10);
    state.SetLabel(std::string(cpu_path_name(cpu_path())) + ", " + std::to_string(threads) + " threads, conditional");
}

void sample_step_guided(benchmark::State& state) {
    const int batch = (int)state.range(0), threads = (int)state.range(1);
    set_num_threads(threads);
    run_sample_steps(state, batch, Device::CPU, /*guided=*/true);
    state.SetLabel(std::string(cpu_path_name(cpu_path())) + ", " + std::to_string(threads) + " threads, guided (2 x batch)");
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
BENCHMARK(train_step_contended)->ArgNames({"batch", "threads"})->Args({64, 2})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(train_step_profiled)->ArgNames({"batch", "threads"})->Args({64, 2})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(train_step_cond)->ArgNames({"batch", "threads"})->Args({64, 2})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(sample_step_guided)->ArgNames({"batch", "threads"})->Args({64, 2})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(sample_step)->ArgNames({"batch", "threads"})->Args({64, 2})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(train_step_cuda)->ArgName("batch")->Arg(64)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(sample_step_cuda)->ArgName("batch")->Arg(64)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
    // --profile [--steps N] [--threads T]: the per-op table instead of the benchmarks
    bool profile = false;
    int steps = 10, threads = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto number = [&](const char* flag) {
            if (i + 1 >= argc) {
                std::cerr << "bench_train_step: " << flag << " needs a number\n";
                std::exit(2);
            }
            const int v = std::atoi(argv[++i]);
            if (v < 1 || v > 100000) {
                std::cerr << "bench_train_step: " << flag << " '" << argv[i] << "': allowed 1 to 100000\n";
                std::exit(2);
            }
            return v;
        };
        if (a == "--profile") profile = true;
        else if (a == "--steps") steps = number("--steps");
        else if (a == "--threads") threads = number("--threads");
    }
    if (profile) return print_train_step_profile(steps, threads);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
