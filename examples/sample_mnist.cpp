// sample_mnist: draws digits from a trained checkpoint's EMA weights.
//
//   build/release/examples/sample_mnist --ckpt out/mnist/checkpoint.safetensors --n 64
//       [--sampler ddpm|ddim] [--steps K] [--seed S] [--out out/mnist/sampled]
//
// DDPM is Algorithm 2 with all 1000 steps (Eq. 18); DDIM takes K steps (Eq. 20, eta = 0).
// Writes OUT.png (a grid) and OUT-idx3-ubyte (the images as IDX, for examples/evaluate or any
// MNIST tool) and reports images/s. The images have the size the model was trained on (the
// checkpoint records it). Checked before sampling: the checkpoint (its CRC-32s, finite values,
// settings) and that OUT's folder is writable; Ctrl-C stops the sampler within a step and
// writes nothing. A class-conditional checkpoint (train_mnist --cond) draws the digit --label asks
// for (0-9), one row per digit (--label all), or without a label (none), guided by --guidance w:
// eps = (1 + w) eps(x_t, t, y) - w eps(x_t, t, none) (diffusion/guidance.h). --profile: the per-op table of the sampler's steps (core/watch.h; the first
// step, which warms up, is left out).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "core/error.h"
#include "core/parallel.h"
#include "core/watch.h"
#include "examples/common/ddpm_trainer.h"
#include "examples/common/flags.h"
#include "examples/common/images.h"
#include "examples/common/interrupt.h"
#include "examples/common/outputs.h"
#include "nn/checkpoint.h"

using namespace fw;


int main(int argc, char** argv) {
    std::string ckpt = "out/mnist/checkpoint.safetensors", out = "out/mnist/sampled", sampler = "ddpm", device = "cpu";
    std::string sigma = "beta", label = "";
    double guidance = 2.0;
    int64_t n = 64, steps = 100, seed = 0, threads = 0;
    bool no_clip = false, profile = false;
    flags::Parser p("sample_mnist", "Draws digits from the EMA weights of a train_mnist checkpoint.");
    p.add_string("ckpt", &ckpt, "checkpoint written by train_mnist");
    p.add_string("out", &out, "output path prefix: OUT.png and OUT-idx3-ubyte");
    p.add_int("n", &n, "number of images", 1, 1'000'000);
    p.add_string("sampler", &sampler, "DDPM (1000 steps) or DDIM", {"ddpm", "ddim"});
    p.add_int("steps", &steps, "DDIM steps", 1, 1000);
    p.add_string("sigma", &sigma, "DDPM's noise variance sigma_t^2 (Eq. 14): beta_t or beta_tilde_t", {"beta", "beta_tilde"});
    p.add_int("seed", &seed, "seed of the sampler's noise", 0, 1'000'000'000);
    p.add_int("threads", &threads, "threads (0 = all cores)", 0, 256);
    p.add_string("device", &device, "where to sample (cuda: the CUDA backend, one GPU)", {"cpu", "cuda"});
    p.add_string("label", &label, "a conditional checkpoint's digit: 0-9, all (one row per digit), none",
                 {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "all", "none"});
    p.add_float("guidance", &guidance, "classifier-free guidance weight w >= 0 (w = 0: the conditional model)", 0.0, 100.0);
    p.add_bool("profile", &profile, "print the per-op table of the sampler's steps (the first step is left out)");
    p.add_bool("no-clip", &no_clip, "do not clip the predicted x_0 to [-1, 1] while sampling");
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines reach a pipe or a log file as they happen
    try {
        if (!p.parse(argc, argv)) return 0;
    } catch (const std::exception& e) {  // the parser's messages start with the program's name
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    try {
        interrupt::install();
        if (threads > 0) set_num_threads((int)threads);
        const Device dev = flags::device_from_flag(device);
        const Checkpoint ck = read_checkpoint(ckpt);
        std::unique_ptr<nn::UNet> net = train::unet_from_checkpoint(ck, "ema.", "the EMA model");
        net->to(dev);
        // the wrong kind of checkpoint for the flags: say which is which, before any sampling
        if (!net->conditional() && (!label.empty() || p.given("guidance")))
            fail(ckpt, " is an unconditional model (trained without --cond): --label and --guidance need a conditional one");
        if (net->conditional() && label.empty())
            fail(ckpt, " is a class-conditional model (trained with --cond): give --label 0-9, all or none");
        const diffusion::Schedule sch = train::make_schedule(ck.setting("schedule"));
        int64_t rows = 28, cols = 28;
        if (ck.has("image_rows") || ck.has("image_cols")) {
            rows = ck.setting_int("image_rows", 1, 4096);
            cols = ck.setting_int("image_cols", 1, 4096);
        } else {
            std::fprintf(stderr, "sample_mnist: %s records no image size (an older checkpoint): drawing 28 x 28\n",
                         ckpt.c_str());
        }
        const std::string folder = std::filesystem::path(out).parent_path().string();
        outputs::ensure_writable_dir(folder.empty() ? "." : folder, "--out");

        std::printf("sample_mnist: drawing %lld images of %lld x %lld with %s on %s\n", (long long)n, (long long)rows,
                    (long long)cols, sampler.c_str(), device_name(dev));
        Generator gen((uint64_t)seed);
        auto t0 = std::chrono::steady_clock::now();
        // --profile: a step runs from one call of on_step to the next; the first is the warm-up
        diffusion::StepCallback on_step = nullptr;
        if (profile)
            on_step = [](int, const Tensor&, const Tensor&) {
                if (!profiling()) start_profile();
                else profile_step_end();
                profile_step_begin();
            };
        Tensor x;
        int grid_cols = 10;
        if (net->conditional()) {
            // one label per image: the asked digit, n / 10 of each digit in order, or none
            std::vector<int> labels((size_t)n, net->null_label());
            for (int64_t i = 0; i < n; ++i)
                if (label == "all") labels[(size_t)i] = (int)(i * 10 / n);
                else if (label != "none") labels[(size_t)i] = std::stoi(label);
            if (label == "all" && n % 10 == 0) grid_cols = (int)(n / 10);
            x = train::sample_images_conditional(*net, sch, labels, guidance, rows, cols, sampler, steps, gen, !no_clip,
                                                 train::sigma_from_flag(sigma), on_step);
        } else {
            x = train::sample_images(*net, sch, n, rows, cols, sampler, steps, gen, !no_clip, train::sigma_from_flag(sigma),
                                     on_step);
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (profile && profiling()) {
            print_profile(std::cout);
            stop_profile();
        }
        images::write_grid_png(out + ".png", x, grid_cols);
        outputs::write_samples_idx(out + "-idx3-ubyte", x);
        std::printf("sample_mnist: %lld steps in %.1f s: %.2f images/s; wrote %s.png and %s-idx3-ubyte\n",
                    (long long)(sampler == "ddpm" ? 1000 : steps), s, n / s, out.c_str(), out.c_str());
        return 0;
    } catch (const interrupt::Interrupted& e) {
        std::fprintf(stderr, "sample_mnist: %s; nothing written\n", e.what());
        return interrupt::exit_status(e.signal);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sample_mnist: %s\n", e.what());
        return 2;
    }
}
