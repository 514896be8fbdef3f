// predict_eps: our noise predictions eps_theta(x_t, t) for given inputs, from a train_mnist
// checkpoint's EMA and model weights. It is our side of `make torch-check`, which compares them
// with examples/pytorch/ddpm_torch.py eps on the same file (examples/pytorch/README.md).
//
//   build/release/examples/predict_eps --ckpt out/mnist/checkpoint.safetensors
//       --inputs in.safetensors --out eps.safetensors [--weights both|ema|model]
//
//   in:   x_t (N, 1, H, W) float32, t (N) float32 holding integers 1..1000
//   out:  eps.ema and eps.model (N, 1, H, W) float32 (those asked for), metadata: checkpoint, step
//
// The UNet is built from the checkpoint's settings (base, mid, groups). Errors (a file, a tensor,
// a shape, a t out of range) are one line naming what was wrong, exit status 2.
#include <cmath>
#include <cstdio>
#include <memory>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "examples/common/ddpm_trainer.h"
#include "examples/common/flags.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "nn/unet.h"

using namespace fw;

namespace {

const Tensor& input(const SafeTensors& in, const std::string& path, const std::string& name) {
    for (const auto& [n, t] : in.tensors)
        if (n == name) return t;
    fail(path, ": has no tensor '", name, "' (expects x_t (N, 1, H, W) and t (N) holding integers 1..1000)");
}

}  // namespace

int main(int argc, char** argv) {
    std::string ckpt, inputs, out, weights = "both";
    int64_t threads = 0;
    flags::Parser p("predict_eps", "Noise predictions eps_theta(x_t, t) of a checkpoint's weights for given x_t and t.");
    p.add_string("ckpt", &ckpt, "checkpoint written by train_mnist (or examples/pytorch/ddpm_torch.py train)");
    p.add_string("inputs", &inputs, "safetensors file with x_t (N, 1, H, W) and t (N), t integers 1..1000 as floats");
    p.add_string("out", &out, "safetensors file to write: eps.ema and/or eps.model (N, 1, H, W)");
    p.add_string("weights", &weights, "which weights", {"both", "ema", "model"});
    p.add_int("threads", &threads, "threads (0 = all cores)", 0, 256);
    try {
        if (!p.parse(argc, argv)) return 0;
        if (ckpt.empty() || inputs.empty() || out.empty()) fail("predict_eps: --ckpt, --inputs and --out are required");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    try {
        if (threads > 0) set_num_threads((int)threads);
        const Checkpoint ck = read_checkpoint(ckpt);
        const SafeTensors in = load_safetensors(inputs);
        const Tensor& x = input(in, inputs, "x_t");
        const Tensor& tf = input(in, inputs, "t");
        if (x.dim() != 4 || x.size(1) != 1 || tf.dim() != 1 || tf.size(0) != x.size(0))
            fail(inputs, ": x_t ", to_string(x.shape()), " and t ", to_string(tf.shape()), ": expected (N, 1, H, W) and (N)");
        std::vector<int> t;
        for (float v : tf.to_vector()) {
            if (!(v >= 1.0f && v <= 1000.0f && v == std::round(v)))
                fail(inputs, ": t holds ", v, "; expected integers in 1..1000");
            t.push_back((int)v);
        }
        NamedTensors eps;
        NoGradGuard no_grad;
        for (const std::string w : {"ema", "model"}) {
            if (weights != "both" && weights != w) continue;
            std::unique_ptr<nn::UNet> net = train::unet_from_checkpoint(ck, w + ".", w == "ema" ? "the EMA model" : "the model");
            eps.emplace_back("eps." + w, net->forward(x, t));
        }
        save_safetensors(out, eps, {{"checkpoint", ckpt}, {"step", std::to_string(ck.step)}, {"by", "examples/predict_eps"}});
        std::printf("predict_eps: eps of %lld inputs with the %s weights -> %s\n", (long long)x.size(0),
                    weights == "both" ? "ema and model" : weights.c_str(), out.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "predict_eps: %s\n", e.what());
        return 2;
    }
}
