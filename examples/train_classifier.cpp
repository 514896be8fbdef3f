// train_classifier: trains the LeNet-like MNIST classifier (examples/common/classifier.h) with this
// framework, reports its test accuracy and saves it (safetensors, atomic) for examples/evaluate.
//
//   build/release/examples/train_classifier [--data DIR] [--out PATH] [--epochs N] [--batch N]
//                                           [--lr X] [--shift N] [--seed N] [--help]
//   (or: make classifier)
//
// Training: Adam, cross-entropy, learning rate on a cosine from --lr down to 0 over all steps,
// each training image shifted by a random (dy, dx) in [-shift, shift]^2 (background fills in):
// with only 9,000 digits, shifts are the cheapest way to see more of the digit space.
// Exit status: 0 on success, 1 on an error (named on stderr), 2 for a bad command line.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "examples/common/flags.h"
#include "examples/common/classifier.h"
#include "examples/common/mnist_data.h"
#include "nn/optim.h"

using namespace fw;

namespace {

struct Options {
    std::string data = "data/mnist", out;
    int64_t epochs = 10, batch = 64, shift = 2;
    double lr = 2e-3;
    int64_t seed = 0;
};

// Shifts each image of x (B, 1, H, W) in place by (dy, dx) drawn from [-s, s]; uncovered pixels
// become background (-1).
void random_shift(Tensor& x, int s, Generator& gen, std::vector<float>& scratch) {
    const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
    std::vector<int32_t> d((size_t)(2 * B));
    gen.integers(d.data(), 2 * B, -s, s + 1);
    scratch.resize((size_t)(H * W));
    for (int64_t b = 0; b < B; ++b) {
        float* img = x.data() + b * H * W;
        const int dy = d[(size_t)(2 * b)], dx = d[(size_t)(2 * b + 1)];
        for (int64_t r = 0; r < H; ++r)
            for (int64_t c = 0; c < W; ++c) {
                const int64_t sr = r - dy, sc = c - dx;
                scratch[(size_t)(r * W + c)] = (sr >= 0 && sr < H && sc >= 0 && sc < W) ? img[sr * W + sc] : -1.0f;
            }
        std::copy(scratch.begin(), scratch.end(), img);
    }
}

// Share of the split classified correctly, batches of 500 under no-grad.
double accuracy(const data::Classifier& model, const data::Split& split) {
    NoGradGuard ng;
    data::Batcher it(split, 500, /*shuffle=*/false, /*drop_last=*/false, 0);
    Tensor x;
    std::vector<int> y;
    int64_t correct = 0;
    while (it.next(x, y)) {
        const Tensor logits = model.forward(x);
        const float* l = logits.data();
        for (int64_t i = 0; i < x.size(0); ++i) {
            int best = 0;
            for (int k = 1; k < 10; ++k)
                if (l[i * 10 + k] > l[i * 10 + best]) best = k;
            correct += best == y[(size_t)i];
        }
    }
    return (double)correct / (double)split.n;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    flags::Parser p("train_classifier", "Trains the LeNet-like MNIST classifier that examples/evaluate scores samples with.");
    p.add_string("data", &o.data, "folder with the four MNIST IDX files (make data)");
    p.add_string("out", &o.out, "where the classifier goes (empty: DIR/classifier.safetensors)");
    p.add_int("epochs", &o.epochs, "passes over the training split", 1, 100000);
    p.add_int("batch", &o.batch, "mini-batch size", 1, 100000);
    p.add_float("lr", &o.lr, "Adam's peak learning rate, cosine-decayed to 0", 1e-7, 1.0);
    p.add_int("shift", &o.shift, "random translation of training images by up to N pixels (0 = off)", 0, 100000);
    p.add_int("seed", &o.seed, "seed of the initialisation, shuffling and shifts", 0, INT64_MAX);
    try {
        if (!p.parse(argc, argv)) return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    if (o.out.empty()) o.out = o.data + "/classifier.safetensors";
    try {
        const data::Dataset ds = data::load_dataset(o.data);
        if (ds.train.rows != 28 || ds.train.cols != 28)
            fail(o.data, ": the classifier needs 28x28 images, got ", ds.train.rows, "x", ds.train.cols);
        Generator gen(o.seed);
        data::Classifier model(gen);
        nn::AdamOptions ao;
        ao.lr = (float)o.lr;
        nn::Adam opt(model.parameters(), ao);
        data::Batcher it(ds.train, (int)o.batch, /*shuffle=*/true, /*drop_last=*/true, o.seed + 1);
        const int64_t total_steps = o.epochs * it.batches_per_epoch();
        std::printf("train_classifier: %lld train / %lld test images from %s; %s, %lld parameters\n",
                    (long long)ds.train.n, (long long)ds.test.n, o.data.c_str(), model.type_name().c_str(),
                    (long long)model.num_parameters());
        std::printf("  %lld epochs x %lld batches of %lld, Adam lr %.3g (cosine), shift +-%lld px, seed %llu\n",
                    (long long)o.epochs, (long long)it.batches_per_epoch(), (long long)o.batch, o.lr,
                    (long long)o.shift, (unsigned long long)o.seed);
        const auto t0 = std::chrono::steady_clock::now();
        Tensor x;
        std::vector<int> y;
        std::vector<float> scratch;
        int64_t step = 0;
        double test_acc = 0;
        for (int64_t e = 1; e <= o.epochs; ++e) {
            double loss_sum = 0;
            int64_t batches = 0;
            while (it.next(x, y)) {
                if (o.shift > 0) random_shift(x, (int)o.shift, gen, scratch);
                // cosine schedule: lr_t = lr * (1 + cos(pi * t / total)) / 2
                opt.set_lr((float)(o.lr * 0.5 * (1.0 + std::cos(M_PI * (double)step / (double)total_steps))));
                const Tensor loss = cross_entropy(model.forward(x), y);
                loss.backward();
                opt.step();
                opt.zero_grad();
                loss_sum += loss.item();
                ++batches;
                ++step;
            }
            test_acc = accuracy(model, ds.test);
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::printf("  epoch %2lld  loss %.4f  test accuracy %.2f%%  (%.1f s)\n", (long long)e,
                        loss_sum / (double)batches, 100.0 * test_acc, secs);
            std::fflush(stdout);
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double train_acc = accuracy(model, ds.train);
        std::printf("train_classifier: test accuracy %.2f%% (%lld images), train accuracy %.2f%%, %.1f s\n",
                    100.0 * test_acc, (long long)ds.test.n, 100.0 * train_acc, secs);
        const std::filesystem::path parent = std::filesystem::path(o.out).parent_path();
        if (!parent.empty()) std::filesystem::create_directories(parent);
        char acc[32];
        std::snprintf(acc, sizeof acc, "%.4f", test_acc);
        data::save_classifier(o.out, model,
                              {{"test_accuracy", acc}, {"epochs", std::to_string(o.epochs)}, {"data", o.data},
                               {"seed", std::to_string(o.seed)}});
        std::printf("train_classifier: saved %s\n", o.out.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "train_classifier: %s\n", e.what());
        return 1;
    }
}
