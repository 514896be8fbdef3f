// sample_mnist: draws digits from a trained checkpoint's EMA weights.
//
//   build/release/examples/sample_mnist --ckpt out/mnist/checkpoint.safetensors --n 64
//       [--sampler ddpm|ddim] [--steps K] [--seed S] [--out out/mnist/sampled]
//
// DDPM is Algorithm 2 with all 1000 steps (Eq. 18); DDIM takes K steps (Eq. 20, eta = 0).
// Writes OUT.png (a grid) and OUT-idx3-ubyte (the images as IDX, for examples/evaluate or any
// MNIST tool) and reports images/s.
#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "core/idx.h"
#include "core/parallel.h"
#include "examples/common/ddpm_trainer.h"
#include "examples/common/flags.h"
#include "examples/common/images.h"
#include "nn/checkpoint.h"

using namespace fw;

int main(int argc, char** argv) {
    std::string ckpt = "out/mnist/checkpoint.safetensors", out = "out/mnist/sampled", sampler = "ddpm", device = "cpu";
    std::string sigma = "beta";
    int64_t n = 64, steps = 100, seed = 0, threads = 0;
    bool no_clip = false;
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
    p.add_bool("no-clip", &no_clip, "do not clip the predicted x_0 to [-1, 1] while sampling");
    try {
        if (!p.parse(argc, argv)) return 0;
    } catch (const std::exception& e) {  // the parser's messages start with the program's name
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    try {
        if (threads > 0) set_num_threads((int)threads);
        const Device dev = flags::device_from_flag(device);
        Checkpoint ck = read_checkpoint(ckpt);
        auto setting = [&](const char* key) -> std::string {
            auto it = ck.meta.find(key);
            if (it == ck.meta.end()) fail("checkpoint ", ckpt, ": has no '", key, "' setting (not written by train_mnist?)");
            return it->second;
        };
        nn::UNetConfig cfg = nn::UNetConfig::small();
        cfg.base = std::stoi(setting("base"));
        cfg.mid = std::stoi(setting("mid"));
        cfg.groups = std::stoi(setting("groups"));
        Generator unused(0);
        nn::UNet net(cfg, unused);
        load_into(net.parameters(), ck, "ema.", "the EMA model");
        net.to(dev);
        diffusion::Schedule sch = train::make_schedule(setting("schedule"));

        Generator gen((uint64_t)seed);
        auto t0 = std::chrono::steady_clock::now();
        Tensor x = train::sample_images(net, sch, n, 28, 28, sampler, steps, gen, !no_clip,
                                         train::sigma_from_flag(sigma));
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        images::write_grid_png(out + ".png", x, 10);
        std::vector<uint8_t> bytes(x.numel());
        data::unit_range_to_bytes(x.data(), x.numel(), bytes.data());
        write_idx_images(out + "-idx3-ubyte", n, 28, 28, bytes.data());
        std::printf("sample_mnist: %lld images with %s (%lld steps) on %s in %.1f s: %.2f images/s; wrote %s.png and "
                    "%s-idx3-ubyte\n",
                    (long long)n, sampler.c_str(), (long long)(sampler == "ddpm" ? 1000 : steps), device_name(dev), s, n / s,
                    out.c_str(), out.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sample_mnist: %s\n", e.what());
        return 2;
    }
}
