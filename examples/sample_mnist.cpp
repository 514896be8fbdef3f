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
// writes nothing.
//
// Editing real digits (diffusion/edit.h), the first --n images of an IDX file:
//   --inpaint FILE --mask top|bottom|left|right [--jumps J]: the named half of each digit is kept,
//       the rest drawn so that it agrees with it (the replacement method; RePaint resampling with
//       J > 0). OUT.png: one row of inputs, one of what the model sees (the drawn half grey), one of
//       completions; OUT-idx3-ubyte: the completions.
//   --interpolate FILE: the first two digits inverted to x_T by DDIM (Eq. 20 backwards, --steps),
//       interpolated spherically, decoded: OUT.png, a strip of --frames images from one to the other.
// A class-conditional checkpoint (train_mnist --cond) draws the digit --label asks
// for (0-9), one row per digit (--label all), or without a label (none), guided by --guidance w:
// eps = (1 + w) eps(x_t, t, y) - w eps(x_t, t, none) (diffusion/guidance.h); the asked digits go
// to OUT-labels-idx1-ubyte, for evaluate --labels.
// --profile: the per-op table of the sampler's steps (core/watch.h; the first step, which warms
// up, is left out).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "core/error.h"
#include "core/autograd.h"
#include "core/idx.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/watch.h"
#include "examples/common/ddpm_trainer.h"
#include "examples/common/flags.h"
#include "examples/common/images.h"
#include "diffusion/edit.h"
#include "examples/common/interrupt.h"
#include "examples/common/mnist_data.h"
#include "examples/common/outputs.h"
#include "nn/checkpoint.h"

using namespace fw;

namespace {

// The first n images of an IDX file as (n, 1, rows, cols) in [-1, 1]; errors name the file.
Tensor load_digits(const std::string& path, int64_t n, int64_t rows, int64_t cols) {
    const IdxImages im = read_idx_images(path);
    if (im.rows != rows || im.cols != cols)
        fail(path, ": images of ", im.rows, " x ", im.cols, ", the model draws ", rows, " x ", cols);
    if (im.n < n) fail(path, ": holds ", im.n, " images, fewer than the ", n, " asked for");
    std::vector<float> x((size_t)(n * rows * cols));
    data::bytes_to_unit_range(im.pixels.data(), n * rows * cols, x.data());
    return Tensor::from_vector({n, 1, rows, cols}, x);
}

// 1 on the kept half (`which`: top, bottom, left, right), 0 on the half to draw: (1, 1, rows, cols).
Tensor half_mask(const std::string& which, int64_t rows, int64_t cols) {
    std::vector<float> m((size_t)(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            const bool keep = which == "top" ? r < rows / 2 : which == "bottom" ? r >= rows / 2
                            : which == "left" ? c < cols / 2 : c >= cols / 2;
            m[(size_t)(r * cols + c)] = keep ? 1.0f : 0.0f;
        }
    return Tensor::from_vector({1, 1, rows, cols}, m);
}

std::vector<Tensor> images_of(const Tensor& x) {
    std::vector<Tensor> row;
    for (int64_t i = 0; i < x.size(0); ++i) row.push_back(slice(x, 0, i, i + 1).to(Device::CPU));
    return row;
}

}  // namespace


int main(int argc, char** argv) {
    std::string ckpt = "out/mnist/checkpoint.safetensors", out = "out/mnist/sampled", sampler = "ddpm", device = "cpu";
    std::string sigma = "beta", label = "", inpaint, mask = "top", interpolate;
    int64_t jumps = 0, frames = 9;
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
    p.add_string("inpaint", &inpaint, "IDX file of digits to complete (the first --n)");
    p.add_string("mask", &mask, "with --inpaint: the half that is kept", {"top", "bottom", "left", "right"});
    p.add_int("jumps", &jumps, "with --inpaint: RePaint resamplings J per jump point (0 = plain replacement)", 0, 100);
    p.add_string("interpolate", &interpolate, "IDX file whose first two digits are interpolated through DDIM's x_T");
    p.add_int("frames", &frames, "with --interpolate: images in the strip, both ends included", 2, 100);
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

        if (!inpaint.empty() && !interpolate.empty()) fail("--inpaint and --interpolate: give one of them");
        for (const char* flag : {"mask", "jumps"})
            if (p.given(flag) && inpaint.empty()) fail("--", flag, " goes with --inpaint FILE");
        if (p.given("frames") && interpolate.empty()) fail("--frames goes with --interpolate FILE");
        // the noise model the editing modes use: the unconditional one, or the guided one for --label
        std::vector<int> edit_labels;
        auto model_for = [&](int64_t count) -> diffusion::EpsModel {
            if (!net->conditional())
                return [&](const Tensor& xt, const std::vector<int>& t) { return net->forward(xt, t); };
            if (label == "all") fail("--label all draws a grid; for --inpaint / --interpolate give 0-9 or none");
            edit_labels.assign((size_t)count, label == "none" ? net->null_label() : std::stoi(label));
            return train::guided_model(*net, edit_labels, guidance);
        };
        if (!inpaint.empty()) {
            Tensor known = load_digits(inpaint, n, rows, cols).to(dev);
            Tensor m = half_mask(mask, rows, cols).to(dev);
            diffusion::InpaintOptions opts;
            opts.sigma = train::sigma_from_flag(sigma);
            opts.clip_x0 = !no_clip;
            opts.jumps = (int)jumps;
            opts.on_step = [](int, const Tensor&, const Tensor&) { interrupt::throw_if_received(); };
            std::printf("sample_mnist: completing %lld digits of %s, the %s half kept, %s\n", (long long)n, inpaint.c_str(),
                        mask.c_str(), jumps > 0 ? ("RePaint with " + std::to_string(jumps) + " jumps").c_str() : "replacement");
            NoGradGuard no_grad;
            Generator gen((uint64_t)seed);
            Tensor x = diffusion::inpaint_sample(sch, model_for(n), known, m, gen, opts);
            Tensor shown = known * m;  // the half to draw shown as 0: mid-grey in [-1, 1]
            images::write_rows_png(out + ".png", {images_of(known), images_of(shown), images_of(x)});
            outputs::write_samples_idx(out + "-idx3-ubyte", x.to(Device::CPU));
            std::printf("sample_mnist: wrote %s.png (inputs, kept half, completions) and %s-idx3-ubyte\n", out.c_str(), out.c_str());
            return 0;
        }
        if (!interpolate.empty()) {
            Tensor two = load_digits(interpolate, 2, rows, cols).to(dev);
            std::vector<double> alphas;
            for (int64_t k = 0; k < frames; ++k) alphas.push_back((double)k / (double)(frames - 1));
            std::printf("sample_mnist: interpolating the first two digits of %s through DDIM (%lld steps), %lld frames\n",
                        interpolate.c_str(), (long long)steps, (long long)frames);
            NoGradGuard no_grad;
            std::vector<Tensor> strip = diffusion::ddim_interpolate(sch, model_for(1), slice(two, 0, 0, 1), slice(two, 0, 1, 2),
                                                                    alphas, (int)steps, !no_clip);
            for (Tensor& t : strip) t = t.to(Device::CPU);
            images::write_rows_png(out + ".png", {strip});
            std::printf("sample_mnist: wrote %s.png\n", out.c_str());
            return 0;
        }

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
            if (label != "none") {  // the asked digits, for evaluate --labels
                std::vector<uint8_t> bytes(labels.begin(), labels.end());
                write_idx_labels(out + "-labels-idx1-ubyte", n, bytes.data());
            }
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
