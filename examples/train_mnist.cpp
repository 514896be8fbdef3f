// train_mnist: trains the UNet-S denoiser on MNIST with L_simple (what `make train` runs).
//
//   build/release/examples/train_mnist --data data/mnist --out out/mnist [--steps N] [--resume] ...
//
// While it runs: a one-line progress bar (step, smoothed loss, images/s, elapsed, ETA) and a CSV
// log (OUT/log.csv: step, loss, lr, grad_norm, images_per_s). Checkpoints (OUT/checkpoint.safetensors,
// written atomically) every --ckpt-every steps, at the end, and on Ctrl-C / SIGTERM; --resume
// continues from it exactly: flags left out take the checkpoint's values, and a run setting given
// with another value is refused (naming each one), since the result would be a different run.
// A NaN or Inf loss or gradient stops the run, naming the step (and the parameter and index), and
// leaves the last good checkpoint alone; no checkpoint with a non-finite value is ever written.
// Ctrl-C at any moment stops promptly: during training it saves the checkpoint first; during the
// sample grids it saves too and skips the pictures; a second Ctrl-C ends the process at once.
// Everything that can be checked up front (flags, --device, the data, a writable --out, the
// checkpoint's settings) is checked before the first step.
//
// Pictures in OUT (all from the EMA weights):
//   forward_process.png   a few real digits noised by Eq. 6 at t = 0, 100, ..., 1000
//   samples_stepN.png     a DDIM sample grid every --sample-every steps
//   samples.png           the final grid; samples-idx3-ubyte the same images as IDX (any MNIST tool)
//   reverse_process.png   x_t (top rows) and the predicted x_0 (bottom rows) along the final sampler
//   loss.png              the loss curve (log scale)
//
// --minutes M: train for M minutes of wall-clock time instead of --steps (the final samples are
// not part of it). The run measures its speed and plans its step count as it goes
// (examples/common/step_planner.h), with the "wsd" learning-rate schedule: flat, then a decay over
// the last 20% of the plan, which is final once the decay begins. The plan is printed, and saved
// in the checkpoint with the budget used, so --resume continues it and `--steps N --lr-schedule wsd`
// retrains the same run bit for bit.
//
// --profile: after the training steps, the per-op table of them (core/watch.h; the first step of
// the run, which warms up allocations and caches, is left out); FW_TRACE=1 traces every op.
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "core/error.h"
#include "core/idx.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "examples/common/ddpm_trainer.h"
#include "core/watch.h"
#include "examples/common/flags.h"
#include "examples/common/images.h"
#include "examples/common/interrupt.h"
#include "examples/common/outputs.h"
#include "examples/common/progress.h"
#include "examples/common/step_planner.h"
#include "nn/checkpoint.h"

using namespace fw;
namespace fs = std::filesystem;

namespace {

struct Options {
    // The defaults are what `make train` runs; README "Why the defaults" says why.
    std::string data = "data/mnist", out = "out/mnist", sampler = "ddpm", schedule = "linear", lr_schedule = "cosine";
    std::string sigma = "beta", device = "cpu", loss = "simple";
    int64_t steps = 4000, batch = 32, warmup = 400, seed = 0, threads = 0, base = 32, mid = 64;
    int64_t ckpt_every = 250, sample_every = 1000, samples = 64, sample_steps = 100;
    double lr = 1e-3, ema = 0.999, clip = 1.0, minutes = 0;
    bool resume = false, no_ema_warmup = false, no_clip = false, profile = false, cond = false;
    double p_uncond = 0.1, guidance = 2.0;
};

// Draws n images from the EMA model: unconditional, or (a --cond model) n / 10 of each digit in
// order, guided with weight w (diffusion/guidance.h), so a grid of n / 10 columns has one row per digit.
Tensor draw(const nn::UNet& net, const diffusion::Schedule& sch, int64_t n, int64_t H, int64_t W, const std::string& sampler,
            int64_t steps, Generator& g, bool clip, diffusion::Sigma sigma, double w,
            const diffusion::StepCallback& on_step = nullptr) {
    if (!net.conditional()) return train::sample_images(net, sch, n, H, W, sampler, steps, g, clip, sigma, on_step);
    std::vector<int> labels((size_t)n);
    for (int64_t i = 0; i < n; ++i) labels[(size_t)i] = (int)(i * 10 / n);
    return train::sample_images_conditional(net, sch, labels, w, H, W, sampler, steps, g, clip, sigma, on_step);
}

// Keeps the CSV rows up to `step` (a resumed run rewrites what came after its checkpoint).
void truncate_log(const std::string& path, int64_t step) {
    std::ifstream in(path);
    if (!in) return;
    std::string line, kept;
    std::getline(in, line);
    kept = line + "\n";
    while (std::getline(in, line))
        if (std::atoll(line.c_str()) <= step) kept += line + "\n";
    in.close();
    std::ofstream out(path, std::ios::trunc);
    out << kept << std::flush;
    if (!out) fail("cannot rewrite ", path, ": ", std::strerror(errno));
}

// The run settings to train with: the flags' values, or, when resuming, the checkpoint's for every
// flag left out. A run setting given on the command line with another value than the checkpoint's
// is refused, all of them named at once.
train::TrainConfig resumed_config(const train::TrainConfig& from_flags, const flags::Parser& p, const std::string& ckpt) {
    const Checkpoint ck = read_checkpoint(ckpt);
    train::TrainConfig saved = train::config_from_checkpoint(ck, from_flags);
    const std::vector<train::RunSetting> want = train::run_settings(from_flags), have = train::run_settings(saved);
    std::string differ;
    for (size_t i = 0; i < want.size(); ++i)
        if (p.given(want[i].flag.substr(2)) && want[i].value != have[i].value)
            differ += "\n  " + want[i].flag + ": the checkpoint has " + have[i].key + " = " + have[i].value +
                      ", the command line " + want[i].value;
    if (!differ.empty())
        fail(ckpt, " was trained with other settings; --resume would not continue the same run:", differ,
             "\nleave those flags out to continue it, or choose another --out for a new run");
    return saved;
}

// The forward process on a few real digits: Eq. 6 at t = 0, 100, 200, ..., 1000.
void write_forward_png(const std::string& path, const data::Split& train, const diffusion::Schedule& sch) {
    Generator gen(12345);
    std::vector<std::vector<Tensor>> rows;
    for (int r = 0; r < 6; ++r) {
        Tensor x0 = Tensor::empty({1, 1, train.rows, train.cols});
        data::bytes_to_unit_range(train.pixels.data() + r * train.image_size(), train.image_size(), x0.data());
        Tensor eps = randn(x0.shape(), gen);
        std::vector<Tensor> row = {x0};
        for (int t = 100; t <= sch.T; t += 100) row.push_back(diffusion::q_sample(sch, x0, {t}, eps));
        rows.push_back(row);
    }
    images::write_rows_png(path, rows);
}

int run(const Options& o, const flags::Parser& p) {
    // Everything that can fail is checked before the first step: the device, the data, the output
    // folder, the checkpoint and its settings.
    interrupt::install();
    const Device device = flags::device_from_flag(o.device);
    if (o.threads > 0) set_num_threads((int)o.threads);
    data::Dataset ds = data::load_dataset(o.data);
    outputs::ensure_writable_dir(o.out, "--out");
    const std::string ckpt = o.out + "/checkpoint.safetensors", log_path = o.out + "/log.csv";
    const bool resuming = o.resume && fs::exists(ckpt);
    if (!o.resume && fs::exists(ckpt))
        fail(ckpt, " already exists: pass --resume to continue that run, or choose another --out");

    train::TrainConfig cfg;
    cfg.steps = o.minutes > 0 ? 0 : o.steps;  // a budgeted run plans its steps as it goes
    cfg.minutes = o.minutes;
    cfg.batch = o.batch;
    cfg.lr = o.lr;
    cfg.warmup = o.warmup;
    cfg.lr_schedule = o.minutes > 0 && !p.given("lr-schedule") ? "wsd" : o.lr_schedule;
    cfg.ema_decay = o.ema;
    cfg.ema_warmup = !o.no_ema_warmup;
    cfg.grad_clip = o.clip;
    cfg.seed = o.seed;
    cfg.base = o.base;
    cfg.mid = o.mid;
    cfg.schedule = o.schedule;
    cfg.loss = o.loss;
    cfg.cond = o.cond;
    cfg.p_uncond = o.p_uncond;
    cfg.device = device;
    if (p.given("minutes") && p.given("steps"))
        fail("--minutes ", o.minutes, " and --steps ", o.steps, " both set the run's length: give one of them");
    if (o.minutes > 0 && o.lr_schedule == "cosine" && p.given("lr-schedule"))
        fail("--minutes re-plans the step count as the run goes, and --lr-schedule cosine's rate at every step depends "
             "on that count: use --lr-schedule wsd (the default with --minutes) or constant");
    if (resuming) cfg = resumed_config(cfg, p, ckpt);
    for (const char* flag : {"p-uncond", "guidance"})
        if (!cfg.cond && p.given(flag))
            fail("--", flag, " is for a class-conditional run (--cond), and this one is unconditional");
    train::DdpmTrainer trainer(cfg, ds.train);
    std::printf("[train] %lld training images from %s; UNet %lld/%lld wide, %lld parameters; on %s (%d CPU threads)\n",
                (long long)ds.train.n, o.data.c_str(), (long long)cfg.base, (long long)cfg.mid,
                (long long)trainer.model().num_parameters(), device_name(cfg.device), num_threads());

    if (resuming) {
        trainer.load(ckpt);  // checks the data and every setting again, then the tensors
        truncate_log(log_path, trainer.step_count());
        std::printf("[train] resumed %s at step %lld of %lld%s\n", ckpt.c_str(), (long long)trainer.step_count(),
                    (long long)cfg.steps, cfg.minutes > 0 ? (" planned; " + progress::format_duration(trainer.budget_spent()) +
                                                             " of the budget used").c_str() : "");
    } else {
        std::ofstream header(log_path, std::ios::trunc);
        header << "step,loss,lr,grad_norm,images_per_s" << std::endl;
        if (!header) fail("writing ", log_path, ": ", std::strerror(errno));
        write_forward_png(o.out + "/forward_process.png", ds.train, trainer.schedule());
    }
    if (cfg.steps > 0 && trainer.step_count() >= cfg.steps)
        std::printf("[train] already at step %lld of %lld\n", (long long)trainer.step_count(), (long long)cfg.steps);

    std::ofstream log(log_path, std::ios::app);
    if (!log) fail("cannot open ", log_path, " for appending: ", std::strerror(errno));
    progress::Bar bar(cfg.steps, trainer.step_count(), isatty(1));
    const int64_t first = trainer.step_count();
    auto t_start = std::chrono::steady_clock::now();
    const auto clock_s = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(); };
    // --minutes: the plan (step_planner.h), made from this session's speed after its first steps
    std::unique_ptr<train::StepPlanner> planner;
    int64_t announced = 0;     // the plan last printed
    double announced_s = 0;    // and when
    if (cfg.minutes > 0) {
        train::StepPlanner::Options po;
        po.budget_s = cfg.minutes * 60;
        po.decay_fraction = cfg.lr_schedule == "wsd" ? train::kWsdDecayFraction : 0.0;
        planner = std::make_unique<train::StepPlanner>(po, trainer.step_count(), trainer.budget_spent(), cfg.steps, 0.0);
        announced = cfg.steps;
        std::printf("[plan] a %s budget for training (%s used): the step count is planned after %lld steps\n",
                    progress::format_duration(po.budget_s).c_str(), progress::format_duration(trainer.budget_spent()).c_str(),
                    (long long)po.probe_steps);
    }
    // After step s: a new plan, printed when it first appears, when it becomes final, and when it
    // has moved by more than 2% at least a minute after the last print.
    auto plan_after = [&](int64_t s) {
        const double now = clock_s();
        const bool was_final = planner->final();
        const int64_t plan = planner->after_step(s, now);
        trainer.set_budget_spent(planner->spent_s(now));
        if (plan != trainer.config().steps) trainer.set_planned_steps(plan);
        bar.set_total(plan);
        bar.set_note("budget " + progress::format_duration(planner->left_s(now)) + " left");
        const bool now_final = planner->final() && !was_final;
        if (plan > 0 && (announced == 0 || now_final || (std::abs(plan - announced) > announced / 50 && now - announced_s > 60))) {
            bar.finish();
            std::printf("[plan] step %lld: %.2f steps/s, %s of the budget left -> %lld steps%s\n", (long long)s,
                        1.0 / planner->seconds_per_step(), progress::format_duration(planner->left_s(now)).c_str(),
                        (long long)plan,
                        now_final ? " (final: the decay has begun)"
                                  : (" (the decay begins after step " +
                                     std::to_string(cfg.lr_schedule == "wsd" ? nn::wsd_decay_start(plan, train::kWsdDecayFraction) : plan) +
                                     ")").c_str());
            announced = plan;
            announced_s = now;
        }
    };
    const auto unfinished = [&] { return trainer.config().steps == 0 || trainer.step_count() < trainer.config().steps; };
    // Ctrl-C / SIGTERM: save the checkpoint of the last finished step, then stop.
    auto stop = [&](int sig) {
        bar.finish();
        trainer.save(ckpt);
        std::printf("[train] signal %d: saved %s at step %lld; continue with --resume\n", sig, ckpt.c_str(),
                    (long long)trainer.step_count());
        return interrupt::exit_status(sig);
    };

    while (unfinished()) {
        if (int sig = interrupt::received()) return stop(sig);
        auto t0 = std::chrono::steady_clock::now();
        float loss;
        // --profile: from the second step of this run on (the first one warms up), or the only one
        if (o.profile && !profiling() && (trainer.step_count() > first || trainer.config().steps - first == 1)) start_profile();
        try {
            ProfiledStep profiled;
            loss = trainer.step();
        } catch (const train::NonFiniteStep& e) {
            bar.finish();
            std::fprintf(stderr, "train_mnist: stopped: %s; the last good checkpoint (%s) is kept\n", e.what(), ckpt.c_str());
            return 3;
        }
        const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const int64_t s = trainer.step_count();
        const double ips = cfg.batch / dt;
        if (planner) plan_after(s);
        bar.update(s, loss, ips);
        log << s << "," << loss << "," << trainer.last_lr() << "," << trainer.last_grad_norm() << "," << ips << std::endl;
        if (!log) fail("writing ", log_path, " at step ", s, ": ", std::strerror(errno));
        if (s % o.ckpt_every == 0 || s == trainer.config().steps) trainer.save(ckpt);
        if (o.sample_every > 0 && s % o.sample_every == 0 && unfinished()) {
            try {
                Generator g(777);
                const int64_t n = cfg.cond ? 100 : 64;
                Tensor x = draw(trainer.ema_model(), trainer.schedule(), n, ds.train.rows, ds.train.cols, "ddim", 50, g,
                                !o.no_clip, diffusion::Sigma::Beta, o.guidance);
                images::write_grid_png(o.out + "/samples_step" + std::to_string(s) + ".png", x, cfg.cond ? 10 : 8);
            } catch (const interrupt::Interrupted& e) {
                return stop(e.signal);
            }
        }
    }
    bar.finish();
    if (o.profile && profiling()) {
        print_profile(std::cout);
        stop_profile();
    }
    log.close();
    if (!log) fail("closing ", log_path, ": ", std::strerror(errno));
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

    // The loss curve, from the whole CSV (this run and any run it resumed).
    std::vector<double> curve_x, curve_y;
    {
        std::ifstream in(log_path);
        std::string line;
        std::getline(in, line);
        double smooth = NAN;
        while (std::getline(in, line)) {
            double step = 0, loss = 0;
            if (std::sscanf(line.c_str(), "%lf,%lf", &step, &loss) != 2) continue;
            smooth = std::isnan(smooth) ? loss : 0.98 * smooth + 0.02 * loss;
            curve_x.push_back(step);
            curve_y.push_back(smooth);
        }
        if (!curve_x.empty()) images::write_plot_png(o.out + "/loss.png", curve_x, curve_y, true);
    }

    // Final samples from the EMA weights, with the reverse process of the first few recorded
    // (a --cond model: 10 of each digit unless --samples says otherwise, guided by --guidance).
    const int64_t samples = cfg.cond && !p.given("samples") ? 100 : o.samples;
    char w_text[32];
    std::snprintf(w_text, sizeof w_text, "%g", o.guidance);
    std::printf("[train] sampling %lld images (%s, %lld steps%s) from the EMA weights\n", (long long)samples,
                o.sampler.c_str(), (long long)(o.sampler == "ddpm" ? 1000 : o.sample_steps),
                cfg.cond ? (", one row per digit, guidance w = " + std::string(w_text)).c_str() : "");
    std::fflush(stdout);
    const int shown = (int)std::min<int64_t>(4, std::min<int64_t>(samples, 64));  // rows of reverse_process.png
    std::vector<Tensor> xt_row[4], x0_row[4];
    const int64_t n_steps = o.sampler == "ddpm" ? 1000 : o.sample_steps, every = std::max<int64_t>(1, n_steps / 10);
    int64_t k = 0;
    auto record = [&](int t, const Tensor& xt, const Tensor& x0_hat) {
        if (k++ % every != 0 && t != 1) return;
        for (int r = 0; r < shown; ++r) {
            xt_row[r].push_back(slice(xt, 0, r, r + 1).to(Device::CPU));  // pictures are drawn on the host
            x0_row[r].push_back(slice(x0_hat, 0, r, r + 1).to(Device::CPU));
        }
    };
    Generator g((uint64_t)cfg.seed + 4242);
    auto ts = std::chrono::steady_clock::now();
    Tensor x;
    try {
        x = draw(trainer.ema_model(), trainer.schedule(), samples, ds.train.rows, ds.train.cols, o.sampler, o.sample_steps,
                 g, !o.no_clip, train::sigma_from_flag(o.sigma), o.guidance, record);
    } catch (const interrupt::Interrupted& e) {  // the checkpoint of the last step is already saved
        std::printf("[train] signal %d while sampling: nothing more written; %s holds step %lld (run again with "
                    "--resume to draw the samples)\n", e.signal, ckpt.c_str(), (long long)trainer.step_count());
        return interrupt::exit_status(e.signal);
    }
    const double sample_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
    images::write_grid_png(o.out + "/samples.png", x, cfg.cond && samples % 10 == 0 ? (int)(samples / 10) : 10);
    outputs::write_samples_idx(o.out + "/samples-idx3-ubyte", x);
    std::vector<std::vector<Tensor>> rev;
    for (int r = 0; r < shown; ++r) rev.push_back(xt_row[r]);
    for (int r = 0; r < shown; ++r) rev.push_back(x0_row[r]);
    images::write_rows_png(o.out + "/reverse_process.png", rev);

    std::printf("[train] done: %lld steps in %.0f s (%.1f images/s), smoothed loss %.4f; sampling took %.1f s\n",
                (long long)(trainer.step_count() - first), wall, (trainer.step_count() - first) * cfg.batch / std::max(wall, 1e-9),
                curve_y.empty() ? NAN : curve_y.back(), sample_s);
    if (planner)
        std::printf("[train] the budget: %s of %s used by %lld steps; `--steps %lld --lr-schedule %s` retrains this run\n",
                    progress::format_duration(trainer.budget_spent()).c_str(), progress::format_duration(cfg.minutes * 60).c_str(),
                    (long long)trainer.step_count(), (long long)trainer.step_count(), cfg.lr_schedule.c_str());
    std::printf("[train] wrote %s/{samples.png, samples-idx3-ubyte, reverse_process.png, forward_process.png, loss.png, "
                "log.csv, checkpoint.safetensors}\n", o.out.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    flags::Parser p("train_mnist", "Trains the UNet-S denoiser on MNIST with the DDPM loss L_simple (Eq. 17).");
    p.add_string("data", &o.data, "folder of IDX files (train-images-idx3-ubyte[.gz], ...)");
    p.add_string("out", &o.out, "output folder: checkpoint, log, pictures");
    p.add_int("steps", &o.steps, "optimizer steps in the whole run", 1, 10'000'000);
    p.add_float("minutes", &o.minutes, "instead of --steps: train for this many minutes of wall-clock time (checkpoints "
                "and sample grids included, the final samples not); the step count is planned from the measured "
                "speed, with --lr-schedule wsd", 0.01, 1e6);
    p.add_int("batch", &o.batch, "images per step", 1, 4096);
    p.add_float("lr", &o.lr, "peak learning rate (Adam)", 1e-7, 1.0);
    p.add_int("warmup", &o.warmup, "linear learning-rate warm-up steps", 0, 10'000'000);
    p.add_string("lr-schedule", &o.lr_schedule, "after the warm-up: cosine decay to 5% at --steps; wsd: flat, then "
                 "a cosine decay to 5% over the last 20% of the steps (the default with --minutes); or constant",
                 {"cosine", "wsd", "constant"});
    p.add_float("ema", &o.ema, "EMA decay of the weights used for sampling", 0.0, 0.999999);
    p.add_bool("no-ema-warmup", &o.no_ema_warmup, "use the fixed EMA decay from step 1");
    p.add_float("clip", &o.clip, "max global gradient norm (0 = no clipping)", 0.0, 1e6);
    p.add_int("seed", &o.seed, "seed for initialisation, data order and noise", 0, 1'000'000'000);
    p.add_int("threads", &o.threads, "threads (0 = all cores)", 0, 256);
    p.add_string("device", &o.device, "where to train and sample (cuda: the CUDA backend, one GPU)", {"cpu", "cuda"});
    p.add_int("base", &o.base, "UNet width at full resolution", 8, 512);
    p.add_int("mid", &o.mid, "UNet width at 1/2 and 1/4 resolution", 8, 1024);
    p.add_string("schedule", &o.schedule, "noise schedule", {"linear", "cosine"});
    p.add_string("loss", &o.loss, "training objective: L_simple (Eq. 17) or the bound's terms (Eq. 16 weights with "
                 "sigma_t^2 = beta_t, and L_0 of Eq. 19)", {"simple", "vlb"});
    p.add_int("ckpt-every", &o.ckpt_every, "checkpoint interval in steps", 1, 10'000'000);
    p.add_int("sample-every", &o.sample_every, "sample-grid interval in steps (0 = only at the end)", 0, 10'000'000);
    p.add_int("samples", &o.samples, "images drawn at the end", 1, 100000);
    p.add_string("sampler", &o.sampler, "final sampler", {"ddpm", "ddim"});
    p.add_int("sample-steps", &o.sample_steps, "DDIM steps for the final samples", 1, 1000);
    p.add_string("sigma", &o.sigma, "DDPM's noise variance sigma_t^2 (Eq. 14): beta_t or beta_tilde_t", {"beta", "beta_tilde"});
    p.add_bool("no-clip", &o.no_clip, "do not clip the predicted x_0 to [-1, 1] while sampling");
    p.add_bool("profile", &o.profile, "print the per-op table of the training steps when they end (the first step is left out)");
    p.add_bool("cond", &o.cond, "class-conditional: a label embedding, labels dropped with probability --p-uncond "
               "(classifier-free guidance); the final grid has one row per digit");
    p.add_float("p-uncond", &o.p_uncond, "with --cond: probability that a sample's label is dropped to 'no label'", 0.0, 1.0);
    p.add_float("guidance", &o.guidance, "with --cond: guidance weight w of the sample grids, "
                "eps = (1 + w) eps(x, t, y) - w eps(x, t, none)", 0.0, 100.0);
    p.add_bool("resume", &o.resume, "continue the run in --out from its checkpoint (flags left out take its settings)");
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines reach a pipe or a log file as they happen
    try {
        if (!p.parse(argc, argv)) return 0;
    } catch (const std::exception& e) {  // the parser's messages start with the program's name
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    try {
        return run(o, p);
    } catch (const interrupt::Interrupted& e) {
        std::fprintf(stderr, "train_mnist: %s\n", e.what());
        return interrupt::exit_status(e.signal);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "train_mnist: %s\n", e.what());
        return 2;
    }
}
