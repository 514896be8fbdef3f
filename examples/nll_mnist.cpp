// nll_mnist: how well a trained model explains held-out digits, as the DDPM bound on the negative
// log-likelihood in bits per dimension (Eq. 10 with the discrete decoder of Eq. 19).
//
//   build/release/examples/nll_mnist --ckpt out/mnist/checkpoint.safetensors [--n 64] [--mc-t K]
//       [--sigma beta|beta_tilde] [--weights ema|model] [--data data/mnist] [--out out/mnist/nll]
//
// For each of the first --n test images (the t10k split of --data):
//   L = L_T (prior, Eq. 7) + sum_{t=2..T} L_{t-1} (denoising, Eqs. 11, 14, 15) + L_0 (reconstruction, Eq. 19)
// in nats, then bits/dim = L / (784 ln 2) (diffusion/bound.h). By default the sum over t is exact
// (all T = 1000 terms: 1000 forward passes per batch of images); --mc-t K estimates it from K
// uniformly drawn t per image and reports its standard error. The expectation over x_t is one
// draw of eps per image and term (as the original DDPM code); the +- printed is the standard
// error over the images (and, with --mc-t, the draws of t).
//
// Writes OUT/bpd_per_t.png and OUT/bpd_per_t.csv (the batch-mean L_{t-1} in bits/dim against t, log scale: where the
// bits are spent, the rate / distortion picture of the DDPM paper; exact mode only) and
// OUT/bpd.csv (per image: prior, denoising, reconstruction, total in bits/dim). For scale: a
// model that knows nothing (uniform over 256 levels) has 8 bits/dim.
// Exit codes: 0 done, 2 bad input (the message says what), 130 interrupted (nothing written).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "diffusion/bound.h"
#include "examples/common/ddpm_trainer.h"
#include "examples/common/flags.h"
#include "examples/common/images.h"
#include "examples/common/interrupt.h"
#include "examples/common/mnist_data.h"
#include "examples/common/outputs.h"
#include "examples/common/progress.h"
#include "nn/checkpoint.h"

using namespace fw;

namespace {

struct Options {
    std::string ckpt = "out/mnist/checkpoint.safetensors", data = "data/mnist", out = "out/mnist/nll";
    std::string sigma = "beta", weights = "ema", device = "cpu";
    int64_t n = 64, batch = 64, mc_t = 0, seed = 0, threads = 0;
};

struct MeanSe {
    double mean = 0, se = 0;
};

MeanSe mean_se(const std::vector<double>& v) {
    MeanSe r;
    for (double x : v) r.mean += x;
    r.mean /= (double)v.size();
    double ss = 0;
    for (double x : v) ss += (x - r.mean) * (x - r.mean);
    r.se = v.size() > 1 ? std::sqrt(ss / (double)(v.size() - 1) / (double)v.size()) : 0.0;
    return r;
}

int run(const Options& o) {
    interrupt::install();
    if (o.threads > 0) set_num_threads((int)o.threads);
    const Device dev = flags::device_from_flag(o.device);
    const Checkpoint ck = read_checkpoint(o.ckpt);
    const bool ema = o.weights == "ema";
    std::unique_ptr<nn::UNet> net = train::unet_from_checkpoint(ck, ema ? "ema." : "model.", ema ? "the EMA model" : "the model");
    net->to(dev);
    const diffusion::Schedule sch = train::make_schedule(ck.setting("schedule"));
    const data::Split test = data::load_split(o.data, "t10k");
    if (ck.has("image_rows") && (ck.setting_int("image_rows", 1, 4096) != test.rows ||
                                 ck.setting_int("image_cols", 1, 4096) != test.cols))
        fail(o.ckpt, " was trained on ", ck.setting("image_rows"), " x ", ck.setting("image_cols"), " images but ", o.data,
             " holds ", test.rows, " x ", test.cols);
    if (o.n > test.n) fail("--n ", o.n, ": ", o.data, " has only ", test.n, " test images");
    outputs::ensure_writable_dir(o.out, "--out");

    diffusion::BoundOptions opt;
    opt.sigma = train::sigma_from_flag(o.sigma);
    opt.mc_t = (int)o.mc_t;
    const int64_t dims = test.image_size(), batches = (o.n + o.batch - 1) / o.batch;
    const int64_t per_batch = o.mc_t > 0 ? o.mc_t + 1 : sch.T;  // forward passes per batch
    std::printf("nll_mnist: %lld held-out images from %s, %s weights, sigma_t^2 = %s; %s\n", (long long)o.n,
                o.data.c_str(), o.weights.c_str(), o.sigma.c_str(),
                o.mc_t > 0 ? ("Monte-Carlo over t: " + std::to_string(o.mc_t) + " draws of t per image").c_str()
                           : ("the exact sum over all " + std::to_string(sch.T) + " terms").c_str());

    diffusion::EpsModel eps_theta = [&](const Tensor& xt, const std::vector<int>& t) { return net->forward(xt, t); };
    Generator gen((uint64_t)o.seed);
    std::vector<double> prior, denoising, decoder, total, per_t(sch.T + 1, 0.0);
    double mc_var = 0;  // sum over images of the Monte-Carlo variance of their denoising estimate
    progress::Bar bar(batches * per_batch, 0, isatty(1));
    bar.show_value_as("bits/dim of the batches done", false);  // nan until the first is done
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t b = 0; b < batches; ++b) {
        const int64_t first = b * o.batch, count = std::min(o.batch, o.n - first);
        std::vector<float> x((size_t)(count * dims));
        data::bytes_to_unit_range(test.pixels.data() + first * dims, count * dims, x.data());
        Tensor x0 = Tensor::from_vector({count, 1, test.rows, test.cols}, x, dev);
        const double so_far = total.empty() ? NAN : mean_se(total).mean;
        opt.on_progress = [&](int64_t done, int64_t) {
            interrupt::throw_if_received();
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const double images = (double)first + (double)count * (double)done / (double)per_batch;
            bar.update(b * per_batch + done, so_far, images / std::max(s, 1e-9));
        };
        NoGradGuard no_grad;
        const diffusion::BoundTerms terms = diffusion::nll_bound(sch, eps_theta, x0, gen, opt);
        const std::vector<double> tot = terms.total();
        const double to_bits = 1.0 / ((double)dims * std::log(2.0));
        for (int64_t i = 0; i < count; ++i) {
            prior.push_back(terms.prior[i] * to_bits);
            denoising.push_back(terms.denoising[i] * to_bits);
            decoder.push_back(terms.decoder[i] * to_bits);
            total.push_back(tot[i] * to_bits);
            mc_var += std::pow(terms.denoising_se.empty() ? 0.0 : terms.denoising_se[i] * to_bits, 2);
        }
        for (size_t t = 0; t < terms.per_t.size() && t < per_t.size(); ++t) per_t[t] += terms.per_t[t] * to_bits * count;
    }
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // The standard error of the mean total: over the images, plus (Monte-Carlo over t) the draws.
    MeanSe all = mean_se(total);
    const double se = std::sqrt(all.se * all.se + mc_var / ((double)o.n * (double)o.n));
    std::printf("nll_mnist: bits/dim <= %.4f +- %.4f  (prior L_T %.6f, denoising sum_t L_{t-1} %.4f, reconstruction L_0 %.4f)\n",
                all.mean, se, mean_se(prior).mean, mean_se(denoising).mean, mean_se(decoder).mean);
    std::printf("nll_mnist: %s; %lld images in %.1f s (uniform over 256 levels: 8 bits/dim)\n",
                o.mc_t > 0 ? "Monte-Carlo estimate over t (+- includes its error)" : "exact sum over t",
                (long long)o.n, seconds);

    std::ofstream csv(o.out + "/bpd.csv");
    csv << "image,prior,denoising,reconstruction,total\n";
    for (size_t i = 0; i < total.size(); ++i)
        csv << i << "," << prior[i] << "," << denoising[i] << "," << decoder[i] << "," << total[i] << "\n";
    csv.close();
    if (!csv) fail("writing ", o.out, "/bpd.csv failed");
    if (o.mc_t == 0) {
        std::vector<double> ts, ys;
        for (int t = 1; t <= sch.T; ++t) {
            ts.push_back(t);
            ys.push_back(std::max(per_t[t] / (double)o.n, 1e-12));
        }
        images::write_plot_png(o.out + "/bpd_per_t.png", ts, ys, true, 640, 360, "t", "bits/dim");
        std::ofstream per(o.out + "/bpd_per_t.csv");
        per << "t,bits_per_dim\n";  // t = 1: L_0; t >= 2: L_{t-1}
        for (size_t i = 0; i < ts.size(); ++i) per << ts[i] << "," << ys[i] << "\n";
        per.close();
        if (!per) fail("writing ", o.out, "/bpd_per_t.csv failed");
        std::printf("nll_mnist: wrote %s/bpd_per_t.png and .csv (L_{t-1} in bits/dim against t, t = 1 is L_0) and %s/bpd.csv\n",
                    o.out.c_str(), o.out.c_str());
    } else {
        std::printf("nll_mnist: wrote %s/bpd.csv\n", o.out.c_str());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    flags::Parser p("nll_mnist", "The DDPM bound on the negative log-likelihood of held-out digits, in bits/dim.");
    p.add_string("ckpt", &o.ckpt, "checkpoint written by train_mnist");
    p.add_string("data", &o.data, "folder of IDX files; its t10k split is evaluated");
    p.add_string("out", &o.out, "output folder: bpd_per_t.png, bpd.csv");
    p.add_int("n", &o.n, "test images (the first n)", 1, 1'000'000);
    p.add_int("batch", &o.batch, "images per forward pass", 1, 4096);
    p.add_int("mc-t", &o.mc_t, "0: the exact sum over all T terms; K >= 2: K drawn t per image (Monte-Carlo)", 0, 1'000'000);
    p.add_string("sigma", &o.sigma, "the reverse step's variance sigma_t^2 (Eq. 14)", {"beta", "beta_tilde"});
    p.add_string("weights", &o.weights, "which weights of the checkpoint", {"ema", "model"});
    p.add_int("seed", &o.seed, "seed of the noise draws", 0, 1'000'000'000);
    p.add_int("threads", &o.threads, "threads (0 = all cores)", 0, 256);
    p.add_string("device", &o.device, "where to run the model (cuda: the CUDA backend, one GPU)", {"cpu", "cuda"});
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    try {
        if (!p.parse(argc, argv)) return 0;
        if (o.mc_t == 1) fail("nll_mnist: --mc-t 1: a standard error needs at least 2 draws of t; use 0 (exact) or >= 2");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    try {
        return run(o);
    } catch (const interrupt::Interrupted& e) {
        std::fprintf(stderr, "\nnll_mnist: %s; nothing written\n", e.what());
        return interrupt::exit_status(e.signal);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nll_mnist: %s\n", e.what());
        return 2;
    }
}
