// evaluate: scores a set of 28x28 samples (an IDX3 file, e.g. from a DDPM sampler) with the MNIST
// classifier of examples/train_classifier (make classifier).
//
//   build/release/examples/evaluate --samples FILE.idx3 [--classifier PATH] [--data DIR]
//                                   [--reference test|train] [--seed N] [--help]
//
// Prints (formulas in examples/common/metrics.h):
//   * mean confidence: the mean over samples of the largest softmax probability;
//   * the share of samples whose largest probability is > 0.9;
//   * the entropy of the histogram of predicted classes (ln 10 = 2.303 when all ten digits are
//     equally frequent; low values mean the samples collapse onto few digits);
//   * the Frechet distance between the classifier's 128-d penultimate features (fc1, after ReLU)
//     of the samples and of the reference real digits (default: the held-out test split), with two
//     values beside it for scale, computed with as many images as there are samples (the FD's bias
//     depends on the count): real digits of the other split vs the reference ("a perfect
//     generator"), and uniform random noise images vs the reference.
// Exit status: 0 on success, 1 on an error (named on stderr), 2 for a bad command line.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/idx.h"
#include "core/ops.h"
#include "core/rng.h"
#include "examples/common/flags.h"
#include "examples/common/classifier.h"
#include "examples/common/metrics.h"
#include "examples/common/mnist_data.h"

using namespace fw;

namespace {

const int kSide = 28, kPixels = kSide * kSide;

// Features (n, 128) and softmax probabilities (n, 10) of n 28x28 byte images, batches of 500.
struct Scores {
    std::vector<float> features, probs;
};
Scores score(const data::Classifier& model, const uint8_t* bytes, int64_t n) {
    NoGradGuard ng;
    Scores s;
    s.features.resize((size_t)(n * data::Classifier::kFeatures));
    s.probs.resize((size_t)(n * data::Classifier::kClasses));
    const int64_t B = std::min<int64_t>(500, n);
    Tensor x = Tensor::empty({B, 1, kSide, kSide});
    for (int64_t start = 0; start < n; start += B) {
        const int64_t b = std::min(B, n - start);
        if (b != x.size(0)) x = Tensor::empty({b, 1, kSide, kSide});
        data::bytes_to_unit_range(bytes + start * kPixels, b * kPixels, x.data());
        const Tensor f = model.features(x);
        const Tensor p = exp(log_softmax(model.logits(f)));
        std::copy(f.data(), f.data() + f.numel(), s.features.begin() + start * data::Classifier::kFeatures);
        std::copy(p.data(), p.data() + p.numel(), s.probs.begin() + start * data::Classifier::kClasses);
    }
    return s;
}

double frechet(const Scores& a, int64_t na, const Scores& b, int64_t nb) {
    const int d = data::Classifier::kFeatures;
    return metrics::frechet_distance(metrics::fit_gaussian(a.features.data(), na, d),
                                     metrics::fit_gaussian(b.features.data(), nb, d));
}

}  // namespace

int main(int argc, char** argv) {
    std::string samples, classifier = "data/mnist/classifier.safetensors", data_dir = "data/mnist", reference = "test";
    int64_t seed = 0;
    flags::Parser p("evaluate", "Scores 28x28 samples (an IDX3 ubyte file) with the MNIST classifier.");
    p.add_string("samples", &samples, "IDX3 ubyte file of 28x28 images (plain or .gz) to score (required)");
    p.add_string("classifier", &classifier, "the classifier (make classifier)");
    p.add_string("data", &data_dir, "the real digits (make data)");
    p.add_string("reference", &reference, "real digits the Frechet distance compares with", {"test", "train"});
    p.add_int("seed", &seed, "seed of the noise images and of the real-vs-real subset", 0, INT64_MAX);
    try {
        if (!p.parse(argc, argv)) return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    if (samples.empty()) {
        std::fprintf(stderr, "evaluate: --samples FILE is required\n%s", p.help().c_str());
        return 2;
    }
    if (!std::filesystem::exists(classifier)) {
        std::fprintf(stderr, "evaluate: no classifier at %s; make it with `make classifier` (trains on data/mnist, "
                             "a few minutes) or pass --classifier PATH\n", classifier.c_str());
        return 1;
    }
    try {
        const IdxImages im = read_idx_images(samples);
        if (im.rows != kSide || im.cols != kSide)
            fail(samples, ": the classifier needs 28x28 images, the file has ", im.rows, "x", im.cols);
        if (im.n < 2) fail(samples, ": need at least 2 samples for a covariance, the file has ", im.n);
        Generator gen((uint64_t)seed);
        data::Classifier model(gen);
        data::load_classifier(classifier, model);
        const data::Dataset ds = data::load_dataset(data_dir);
        const data::Split& ref = reference == "test" ? ds.test : ds.train;
        const data::Split& other = reference == "test" ? ds.train : ds.test;
        const int C = data::Classifier::kClasses;

        const Scores s = score(model, im.pixels.data(), im.n);
        const Scores r = score(model, ref.pixels.data(), ref.n);
        // Real vs real: min(n, |other|) digits of the other split, drawn without replacement.
        const int64_t n_real = std::min<int64_t>(im.n, other.n);
        const std::vector<int64_t> pick = data::permutation(other.n, gen);
        std::vector<uint8_t> real_bytes((size_t)(n_real * kPixels));
        for (int64_t i = 0; i < n_real; ++i)
            std::copy_n(&other.pixels[(size_t)(pick[(size_t)i] * kPixels)], kPixels, &real_bytes[(size_t)(i * kPixels)]);
        const Scores real = score(model, real_bytes.data(), n_real);
        // Noise: n images of independent uniform bytes.
        std::vector<float> u((size_t)(im.n * kPixels));
        gen.uniform(u.data(), (int64_t)u.size(), 0.0f, 256.0f);
        std::vector<uint8_t> noise_bytes(u.size());
        for (size_t i = 0; i < u.size(); ++i) noise_bytes[i] = (uint8_t)std::min(255.0f, u[i]);
        const Scores noise = score(model, noise_bytes.data(), im.n);

        const std::vector<int64_t> hist = metrics::predicted_histogram(s.probs.data(), im.n, C);
        std::printf("evaluate: %lld samples from %s, classifier %s\n", (long long)im.n, samples.c_str(),
                    classifier.c_str());
        std::printf("  mean confidence (mean max softmax)   %.4f\n", metrics::mean_confidence(s.probs.data(), im.n, C));
        std::printf("  share with confidence > 0.9          %.2f%%\n",
                    100.0 * metrics::confident_share(s.probs.data(), im.n, C, 0.9));
        std::printf("  predicted-class entropy              %.4f   (max ln 10 = %.4f)\n",
                    metrics::histogram_entropy(hist), std::log(10.0));
        std::printf("  predicted-class histogram           ");
        for (int c = 0; c < C; ++c) std::printf(" %d:%lld", c, (long long)hist[(size_t)c]);
        std::printf("\n  Frechet distance of classifier features (fc1, 128-d) to the %lld %s digits of %s:\n",
                    (long long)ref.n, reference.c_str(), data_dir.c_str());
        const std::string real_what = std::to_string(n_real) + (reference == "test" ? " train" : " test") + " digits (for scale)";
        const std::string noise_what = std::to_string(im.n) + " uniform random images";
        std::printf("    %-40s %10.3f\n", "samples", frechet(s, im.n, r, ref.n));
        std::printf("    %-40s %10.3f\n", ("real: " + real_what).c_str(), frechet(real, n_real, r, ref.n));
        std::printf("    %-40s %10.3f\n", ("noise: " + noise_what).c_str(), frechet(noise, im.n, r, ref.n));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "evaluate: %s\n", e.what());
        return 1;
    }
}
