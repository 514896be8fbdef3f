// evaluate: scores a set of 28x28 samples (an IDX3 file, e.g. from a DDPM sampler) with the MNIST
// classifier of examples/train_classifier (make classifier).
//
//   build/release/examples/evaluate --samples FILE.idx3 [--classifier PATH] [--data DIR]
//                                   [--reference test|train] [--labels FILE.idx1] [--bootstrap B]
//                                   [--json OUT.json] [--seed N] [--help]
//
// Prints (formulas in examples/common/metrics.h):
//   * mean confidence: the mean over samples of the largest softmax probability;
//   * the share of samples whose largest probability is > 0.9;
//   * the entropy of the histogram of predicted classes (ln 10 = 2.303 when all ten digits are
//     equally frequent; low values mean the samples collapse onto few digits);
//   * with --labels (conditional samples: the IDX1 file of the digit each sample was asked for),
//     the classifier's accuracy on those labels, overall and per class;
//   * the Frechet distance between the classifier's 128-d penultimate features (fc1, after ReLU)
//     of the samples and of the reference real digits (default: the held-out test split), with two
//     values beside it for scale, computed with as many images as there are samples (the FD's bias
//     depends on the count): real digits of the other split vs the reference ("a perfect
//     generator"), and uniform random noise images vs the reference.
// Each score but the noise FD comes with a 95% bootstrap interval, `value [lo, hi]`
// (metrics::bootstrap_interval; --bootstrap B resamples, default 200, 0 = off): the N samples are
// resampled with replacement B times and the score recomputed on each resample. Every score of the
// samples sees the same B resamples (one generator seeded with --seed for each).
//   * The means (confidence, share, accuracy): the percentile interval.
//   * Entropy and FD, biased at finite n (entropy down, FD up; a resample, which repeats samples,
//     more so): the percentile interval moved by the bootstrap's bias estimate
//     (metrics::bias_shifted), then kept in the score's range. Unmoved it lies beside the value,
//     not around it: 1000 train digits vs the 1000 test digits gave FD 6.8 with percentiles
//     [8.3, 13.5], while 40 fresh sets of 1000 train digits gave FDs of 4.8 to 8.9 (sd 0.95);
//     moved: [4.6, 9.9]. The unmoved bounds are in the --json output.
//   * For the FD the resampled set's Gaussian is refitted each time and the reference digits are
//     held fixed: its interval is the sample noise of the scored set only (not of the reference
//     set, nor the classifier's). The real-vs-real FD gets its interval the same way, over its
//     digits: a model whose FD lies inside it is as close to the reference as real digits are.
// --json OUT writes every score and interval (and the settings) as one JSON object.
// Exit status: 0 on success, 1 on an error (named on stderr: unreadable files, labels whose count
// differs from the samples' or outside 0-9, an unwritable --json), 2 for a bad command line.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>
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
using metrics::Interval;

namespace {

const int kSide = 28, kPixels = kSide * kSide;
const int kFeat = data::Classifier::kFeatures, kClasses = data::Classifier::kClasses;
// The bootstrap's generator starts this many Philox blocks past the seed's start, far beyond the
// blocks the noise images and the real-digit permutation use, so its draws are its own.
const uint64_t kBootstrapOffset = uint64_t{1} << 40;

// Features (n, 128) and softmax probabilities (n, 10) of n 28x28 byte images, batches of 500.
struct Scores {
    std::vector<float> features, probs;
};
Scores score(const data::Classifier& model, const uint8_t* bytes, int64_t n) {
    NoGradGuard ng;
    Scores s;
    s.features.resize((size_t)(n * kFeat));
    s.probs.resize((size_t)(n * kClasses));
    const int64_t B = std::min<int64_t>(500, n);
    Tensor x = Tensor::empty({B, 1, kSide, kSide});
    for (int64_t start = 0; start < n; start += B) {
        const int64_t b = std::min(B, n - start);
        if (b != x.size(0)) x = Tensor::empty({b, 1, kSide, kSide});
        data::bytes_to_unit_range(bytes + start * kPixels, b * kPixels, x.data());
        const Tensor f = model.features(x);
        const Tensor p = exp(log_softmax(model.logits(f)));
        std::copy(f.data(), f.data() + f.numel(), s.features.begin() + start * kFeat);
        std::copy(p.data(), p.data() + p.numel(), s.probs.begin() + start * kClasses);
    }
    return s;
}

using Stat = std::function<double(const std::vector<int64_t>& idx)>;

// The statistic on all n samples and, with B > 0, its bootstrap interval (lo = hi = NaN when off).
Interval with_interval(int64_t n, int B, uint64_t seed, const Stat& stat) {
    if (B > 0) {
        Generator gen(seed, kBootstrapOffset);  // fresh for each score: all see the same resamples
        return metrics::bootstrap_interval(n, B, gen, stat);
    }
    std::vector<int64_t> all((size_t)n);
    for (int64_t i = 0; i < n; ++i) all[(size_t)i] = i;
    Interval r;
    r.value = stat(all);
    r.lo = r.hi = r.boot_mean = std::nan("");
    return r;
}

// FD of the Gaussian of features[idx] (rows of (n, 128)) to the fixed reference Gaussian.
Stat frechet_stat(const std::vector<float>& features, const metrics::FrechetReference& ref) {
    return [&features, &ref](const std::vector<int64_t>& idx) {
        std::vector<float> rows(idx.size() * kFeat);
        for (size_t i = 0; i < idx.size(); ++i)
            std::copy_n(&features[(size_t)idx[i] * kFeat], kFeat, &rows[i * kFeat]);
        return metrics::frechet_distance(ref, metrics::fit_gaussian(rows.data(), (int64_t)idx.size(), kFeat));
    };
}

// " [0.9401, 0.9610]" with `fmt` for each bound scaled by `scale`; "" without the bootstrap.
std::string bounds(const Interval& r, const char* fmt, double scale = 1.0, const char* unit = "") {
    if (std::isnan(r.lo)) return "";
    char lo[64], hi[64];
    std::snprintf(lo, sizeof lo, fmt, scale * r.lo);
    std::snprintf(hi, sizeof hi, fmt, scale * r.hi);
    return std::string(" [") + lo + unit + ", " + hi + unit + "]";
}
// "0.9512 [0.9401, 0.9610]"
std::string shown(const Interval& r, const char* fmt, double scale = 1.0, const char* unit = "") {
    char v[64];
    std::snprintf(v, sizeof v, fmt, scale * r.value);
    return std::string(v) + unit + bounds(r, fmt, scale, unit);
}

// {"value", "lo", "hi", "boot_mean"} (null without the bootstrap); with `raw`, also the raw
// percentile bounds that `r` was moved from.
// r with lo, hi clamped into [min, max], the values the score can take.
Interval within(Interval r, double min, double max) {
    r.lo = std::clamp(r.lo, min, max);
    r.hi = std::clamp(r.hi, min, max);
    return r;
}

nlohmann::json to_json(const Interval& r, const Interval* raw = nullptr) {
    nlohmann::json j;
    j["value"] = r.value;
    const bool on = !std::isnan(r.lo);
    const auto number = [on](double v) { return on ? nlohmann::json(v) : nlohmann::json(); };
    j["lo"] = number(r.lo);
    j["hi"] = number(r.hi);
    j["boot_mean"] = number(r.boot_mean);
    if (raw) {
        j["percentile_lo"] = number(raw->lo);
        j["percentile_hi"] = number(raw->hi);
    }
    return j;
}

// The labels asked for: one per sample, each 0-9; every problem names the file.
std::vector<uint8_t> read_requested_labels(const std::string& path, const std::string& samples, int64_t n) {
    std::vector<uint8_t> y = read_idx_labels(path);
    if ((int64_t)y.size() != n)
        fail(path, " has ", y.size(), " labels but ", samples, " has ", n,
             " samples (--labels: the digit each sample was asked for, one per sample)");
    for (size_t i = 0; i < y.size(); ++i)
        if (y[i] >= kClasses)
            fail(path, ": label ", (int)y[i], " at index ", i, " is outside 0-9 (--labels: the digit each sample was asked for)");
    return y;
}

// Writes `j` to `path` atomically (a temp file in the same folder, then rename).
void write_json(const std::string& path, const nlohmann::json& j) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream f(tmp);
        if (!f) fail(path, ": cannot write the --json output (", tmp, " cannot be created)");
        f << j.dump(2) << "\n";
        if (!f.flush()) fail(path, ": cannot write the --json output (writing ", tmp, " failed)");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        fail(path, ": cannot write the --json output (rename: ", ec.message(), ")");
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string samples, classifier = "data/mnist/classifier.safetensors", data_dir = "data/mnist", reference = "test";
    std::string labels_path, json_path;
    int64_t seed = 0, B = 200;
    flags::Parser p("evaluate", "Scores 28x28 samples (an IDX3 ubyte file) with the MNIST classifier.");
    p.add_string("samples", &samples, "IDX3 ubyte file of 28x28 images (plain or .gz) to score (required)");
    p.add_string("classifier", &classifier, "the classifier (make classifier)");
    p.add_string("data", &data_dir, "the real digits (make data)");
    p.add_string("reference", &reference, "real digits the Frechet distance compares with", {"test", "train"});
    p.add_string("labels", &labels_path, "IDX1 file of the digit each sample was asked for (conditional samples): "
                                         "prints the accuracy on them");
    p.add_int("bootstrap", &B, "resamples for the 95% bootstrap intervals (0 = no intervals)", 0, 100000);
    p.add_string("json", &json_path, "also write every score and interval to this JSON file");
    p.add_int("seed", &seed, "seed of the noise images, the real-vs-real subset and the bootstrap", 0, INT64_MAX);
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
        if (!json_path.empty()) {  // found before the work, not after it
            const std::filesystem::path dir = std::filesystem::path(json_path).parent_path();
            if (!dir.empty() && !std::filesystem::is_directory(dir))
                fail(json_path, ": cannot write the --json output: no folder ", dir.string());
        }
        const IdxImages im = read_idx_images(samples);
        if (im.rows != kSide || im.cols != kSide)
            fail(samples, ": the classifier needs 28x28 images, the file has ", im.rows, "x", im.cols);
        if (im.n < 2) fail(samples, ": need at least 2 samples for a covariance, the file has ", im.n);
        const std::vector<uint8_t> asked =
            labels_path.empty() ? std::vector<uint8_t>() : read_requested_labels(labels_path, samples, im.n);
        Generator gen((uint64_t)seed);
        data::Classifier model(gen);
        data::load_classifier(classifier, model);
        const data::Dataset ds = data::load_dataset(data_dir);
        const data::Split& ref = reference == "test" ? ds.test : ds.train;
        const data::Split& other = reference == "test" ? ds.train : ds.test;
        if (ref.n < 2 || other.n < 2) fail(data_dir, ": need at least 2 digits in each split for the Frechet distance");
        const int64_t n = im.n;
        const int boot = (int)B;

        const Scores s = score(model, im.pixels.data(), n);
        const Scores r = score(model, ref.pixels.data(), ref.n);
        // Real vs real: min(n, |other|) digits of the other split, drawn without replacement.
        const int64_t n_real = std::min<int64_t>(n, other.n);
        const std::vector<int64_t> pick = data::permutation(other.n, gen);
        std::vector<uint8_t> real_bytes((size_t)(n_real * kPixels));
        for (int64_t i = 0; i < n_real; ++i)
            std::copy_n(&other.pixels[(size_t)(pick[(size_t)i] * kPixels)], kPixels, &real_bytes[(size_t)(i * kPixels)]);
        const Scores real = score(model, real_bytes.data(), n_real);
        // Noise: n images of independent uniform bytes.
        std::vector<float> u((size_t)(n * kPixels));
        gen.uniform(u.data(), (int64_t)u.size(), 0.0f, 256.0f);
        std::vector<uint8_t> noise_bytes(u.size());
        for (size_t i = 0; i < u.size(); ++i) noise_bytes[i] = (uint8_t)std::min(255.0f, u[i]);
        const Scores noise = score(model, noise_bytes.data(), n);

        // Per-sample values; each score is a function of the indices of one (re)sample.
        const std::vector<double> conf = metrics::confidences(s.probs.data(), n, kClasses);
        const std::vector<int> pred = metrics::predicted_classes(s.probs.data(), n, kClasses);
        const auto mean_over = [](const std::vector<int64_t>& idx, auto value_of) {
            double sum = 0;
            for (int64_t i : idx) sum += value_of(i);
            return sum / (double)idx.size();
        };
        const uint64_t u_seed = (uint64_t)seed;
        // mean confidence = (1/N) sum_i max_c p_ic
        const Interval mean_conf = with_interval(n, boot, u_seed, [&](const std::vector<int64_t>& idx) {
            return mean_over(idx, [&](int64_t i) { return conf[(size_t)i]; });
        });
        // confident share = (1/N) #{i : max_c p_ic > 0.9}
        const Interval share = with_interval(n, boot, u_seed, [&](const std::vector<int64_t>& idx) {
            return mean_over(idx, [&](int64_t i) { return conf[(size_t)i] > 0.9 ? 1.0 : 0.0; });
        });
        // Entropy and FD are not means: estimated from n samples they are biased (entropy down, FD up),
        // and a resample, repeating samples, more so. Their percentile intervals are moved by the
        // bootstrap's bias estimate (metrics::bias_shifted) to where the score of another n samples
        // would fall, then kept within the score's range (entropy in [0, ln 10], FD >= 0).
        // H(h), h = histogram of the predicted classes
        const Interval entropy_raw = with_interval(n, boot, u_seed, [&](const std::vector<int64_t>& idx) {
            std::vector<int64_t> h(kClasses, 0);
            for (int64_t i : idx) ++h[(size_t)pred[(size_t)i]];
            return metrics::histogram_entropy(h);
        });
        const metrics::FrechetReference g_ref =
            metrics::frechet_reference(metrics::fit_gaussian(r.features.data(), ref.n, kFeat));
        const Interval fd_raw = with_interval(n, boot, u_seed, frechet_stat(s.features, g_ref));
        const Interval fd_real_raw = with_interval(n_real, boot, u_seed, frechet_stat(real.features, g_ref));
        const double inf = std::numeric_limits<double>::infinity();
        const Interval entropy = within(metrics::bias_shifted(entropy_raw), 0.0, std::log((double)kClasses));
        const Interval fd = within(metrics::bias_shifted(fd_raw), 0.0, inf);
        const Interval fd_real = within(metrics::bias_shifted(fd_real_raw), 0.0, inf);
        const double fd_noise = metrics::frechet_distance(g_ref, metrics::fit_gaussian(noise.features.data(), n, kFeat));
        Interval acc;
        metrics::LabelAccuracy la;
        if (!asked.empty()) {
            la = metrics::label_accuracy(s.probs.data(), asked.data(), n, kClasses);
            // accuracy = (1/N) #{i : argmax_c p_ic = y_i}
            acc = with_interval(n, boot, u_seed, [&](const std::vector<int64_t>& idx) {
                return mean_over(idx, [&](int64_t i) { return pred[(size_t)i] == asked[(size_t)i] ? 1.0 : 0.0; });
            });
        }

        const std::vector<int64_t> hist = metrics::predicted_histogram(s.probs.data(), n, kClasses);
        std::printf("evaluate: %lld samples from %s, classifier %s\n", (long long)n, samples.c_str(), classifier.c_str());
        if (boot > 0)
            std::printf("  [lo, hi]: 95%% bootstrap intervals, %d resamples of the %lld samples (seed %lld): percentile\n"
                        "  intervals; for entropy and FD moved by the bootstrap's bias estimate\n",
                        boot, (long long)n, (long long)seed);
        else
            std::printf("  no intervals (--bootstrap 0)\n");
        std::printf("  mean confidence (mean max softmax)   %s\n", shown(mean_conf, "%.4f").c_str());
        std::printf("  share with confidence > 0.9          %s\n", shown(share, "%.2f", 100.0, "%").c_str());
        std::printf("  predicted-class entropy              %s   (max ln 10 = %.4f)\n", shown(entropy, "%.4f").c_str(),
                    std::log(10.0));
        std::printf("  predicted-class histogram           ");
        for (int c = 0; c < kClasses; ++c) std::printf(" %d:%lld", c, (long long)hist[(size_t)c]);
        std::printf("\n");
        if (!asked.empty()) {
            std::printf("  accuracy on the requested labels     %s   (labels %s)\n", shown(acc, "%.4f").c_str(),
                        labels_path.c_str());
            std::printf("  per-class accuracy (asked)          ");
            for (int c = 0; c < kClasses; ++c) {
                if (la.asked[(size_t)c] == 0) std::printf(" %d:-", c);
                else std::printf(" %d:%.3f(%lld)", c, la.per_class[(size_t)c], (long long)la.asked[(size_t)c]);
            }
            std::printf("\n");
        }
        std::printf("  Frechet distance of classifier features (fc1, 128-d) to the %lld %s digits of %s:\n",
                    (long long)ref.n, reference.c_str(), data_dir.c_str());
        const std::string real_what = std::to_string(n_real) + (reference == "test" ? " train" : " test") + " digits (for scale)";
        const std::string noise_what = std::to_string(n) + " uniform random images";
        std::printf("    %-40s %10.3f%s\n", "samples", fd.value, bounds(fd, "%.3f").c_str());
        std::printf("    %-40s %10.3f%s\n", ("real: " + real_what).c_str(), fd_real.value, bounds(fd_real, "%.3f").c_str());
        std::printf("    %-40s %10.3f\n", ("noise: " + noise_what).c_str(), fd_noise);
        if (boot > 0)
            std::printf("    FD intervals: the sample noise of the scored set alone (it is resampled, the reference\n"
                        "    digits held fixed), where the FD of another %lld samples would fall: percentiles of the\n"
                        "    resamples' FDs moved down by their bias (their mean minus the FD: samples %.3f, real %.3f;\n"
                        "    the unmoved percentile intervals, in --json, would lie above the FDs themselves)\n",
                        (long long)n, fd.boot_mean - fd.value, fd_real.boot_mean - fd_real.value);

        if (!json_path.empty()) {
            nlohmann::json j;
            j["samples"] = samples;
            j["n"] = n;
            j["classifier"] = classifier;
            j["data"] = data_dir;
            j["reference"] = reference;
            j["n_reference"] = ref.n;
            j["seed"] = seed;
            j["bootstrap"] = {{"resamples", boot},
                              {"level", 0.95},
                              {"method", "percentile; entropy and FD: percentile - (boot_mean - value), "
                                         "the raw bounds in percentile_lo/hi"}};
            j["mean_confidence"] = to_json(mean_conf);
            j["confident_share"] = to_json(share);  // a fraction, not %
            j["confident_threshold"] = 0.9;
            j["class_entropy"] = to_json(entropy, &entropy_raw);
            j["class_histogram"] = hist;
            j["frechet"]["samples"] = to_json(fd, &fd_raw);
            j["frechet"]["real"] = to_json(fd_real, &fd_real_raw);
            j["frechet"]["real"]["n"] = n_real;
            j["frechet"]["noise"] = {{"value", fd_noise}};
            if (!asked.empty()) {
                j["labels"] = labels_path;
                j["accuracy"] = to_json(acc);
                nlohmann::json per = nlohmann::json::array();
                for (int c = 0; c < kClasses; ++c)
                    per.push_back(la.asked[(size_t)c] ? nlohmann::json(la.per_class[(size_t)c]) : nlohmann::json());
                j["per_class_accuracy"] = per;
                j["per_class_asked"] = la.asked;
            }
            write_json(json_path, j);
            std::printf("  wrote %s\n", json_path.c_str());
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "evaluate: %s\n", e.what());
        return 1;
    }
}
