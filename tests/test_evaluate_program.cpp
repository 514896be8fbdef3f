// Claims about evaluate as a PROGRAM, run the way a user runs it (a child process): with a
// classifier of random weights saved the way train_classifier saves one (data::save_classifier) and
// tiny 28 x 28 data, its numbers mean nothing, but the path through it does: every score printed
// with its bootstrap interval, --json holding the same scores, the same seed giving the same file,
// and --labels files of the wrong count or with labels outside 0-9 refused naming the file.
//
// Exit codes: 0 done, 1 a bad input file (named on stderr), 2 a bad command line.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <utility>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/idx.h"
#include "core/rng.h"
#include "examples/common/classifier.h"
#include "tests/file_util.h"
#include "tests/run_program.h"
#include "tests/tempdir.h"

using namespace fw;
using fw::test::contains;
using fw::test::ProgramRun;
using fw::test::run_program;

namespace {

// n 28 x 28 images of random bytes where a random share of pixels is ink.
std::vector<uint8_t> random_images(int64_t n, uint64_t seed) {
    std::vector<float> u((size_t)n * 784);
    Generator gen(seed);
    gen.uniform(u.data(), (int64_t)u.size());
    std::vector<uint8_t> px(u.size());
    for (size_t i = 0; i < u.size(); ++i) px[i] = u[i] < 0.8f ? 0 : (uint8_t)(255.0f * u[i]);
    return px;
}

// DIR/data: train and t10k splits of 40 random digits; DIR/classifier.safetensors: random weights;
// DIR/samples: 30 random images; DIR/labels: their requested digits i % 10.
struct Files {
    std::string data, classifier, samples, labels;
};
Files write_files(const fw::test::TempDir& dir) {
    Files f{dir.file("data"), dir.file("classifier.safetensors"), dir.file("samples"), dir.file("labels")};
    std::filesystem::create_directories(f.data);
    const int64_t n_split = 40, n = 30;
    std::vector<uint8_t> y((size_t)n_split);
    for (int64_t i = 0; i < n_split; ++i) y[(size_t)i] = (uint8_t)(i % 10);
    uint64_t seed = 1;
    for (const char* split : {"train", "t10k"}) {
        write_idx_images(f.data + "/" + split + "-images-idx3-ubyte", n_split, 28, 28, random_images(n_split, seed++).data());
        write_idx_labels(f.data + "/" + split + "-labels-idx1-ubyte", n_split, y.data());
    }
    Generator gen(7);
    data::Classifier model(gen);
    data::save_classifier(f.classifier, model);
    write_idx_images(f.samples, n, 28, 28, random_images(n, 9).data());
    write_idx_labels(f.labels, n, y.data());
    return f;
}

std::string shown(const ProgramRun& r) {
    return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\n--- stdout:\n" + r.out +
           "\n--- stderr:\n" + r.err;
}

}  // namespace

TEST_CASE("evaluate: every score with its bootstrap interval, --json with the same, --labels errors name the file") {
    fw::test::TempDir dir;
    const Files f = write_files(dir);
    const std::vector<std::string> common = {"--samples", f.samples, "--classifier", f.classifier, "--data", f.data,
                                             "--seed", "3"};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> a = common;
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    };
    const std::string json1 = dir.file("a.json"), json2 = dir.file("b.json");
    const ProgramRun r = run_program("evaluate", with({"--labels", f.labels, "--bootstrap", "40", "--json", json1}));
    REQUIRE_MESSAGE(r.exit_code == 0, shown(r));
    INFO(shown(r));
    CHECK(contains(r.out, "95% bootstrap intervals, 40 resamples of the 30 samples (seed 3)"));
    CHECK(contains(r.out, "mean confidence (mean max softmax)   0."));
    CHECK(contains(r.out, "accuracy on the requested labels"));
    CHECK(contains(r.out, "per-class accuracy (asked)           0:"));
    CHECK(contains(r.out, "FD intervals: the sample noise of the scored set alone"));

    const nlohmann::json j = nlohmann::json::parse(fw::test::read_bytes(json1));
    CHECK(j["n"] == 30);
    CHECK(j["bootstrap"]["resamples"] == 40);
    // Means over samples (confidence, share, accuracy): the resample means spread around the value,
    // so lo <= value <= hi. Entropy's and FD's intervals are the resamples' percentiles minus their
    // mean plus the value, so they hold the value by construction.
    for (const nlohmann::json& s : {j["mean_confidence"], j["confident_share"], j["accuracy"], j["class_entropy"],
                                    j["frechet"]["samples"], j["frechet"]["real"]}) {
        INFO(s.dump());
        CHECK(s["lo"].get<double>() <= s["value"].get<double>());
        CHECK(s["value"].get<double>() <= s["hi"].get<double>());
    }
    // The FD's unmoved percentile interval is kept beside it, the move being the bootstrap's bias
    // (lo stays above 0 here: the FD of 30 random-weight features is far from 0).
    const nlohmann::json& fd = j["frechet"]["samples"];
    const double bias = fd["boot_mean"].get<double>() - fd["value"].get<double>();
    CHECK(bias > 0);  // resampled FDs are biased up
    CHECK(fd["percentile_lo"].get<double>() - bias == doctest::Approx(fd["lo"].get<double>()));
    CHECK(j["frechet"]["noise"]["value"].get<double>() >= 0.0);
    CHECK(j["per_class_accuracy"].size() == 10);
    CHECK(j["per_class_asked"][0] == 3);  // 30 labels i % 10

    // The same seed gives the same file; --bootstrap 0 prints no intervals and writes null for them.
    const ProgramRun again = run_program("evaluate", with({"--labels", f.labels, "--bootstrap", "40", "--json", json2}));
    REQUIRE_MESSAGE(again.exit_code == 0, shown(again));
    CHECK(nlohmann::json::parse(fw::test::read_bytes(json2)) == j);
    const ProgramRun off = run_program("evaluate", with({"--bootstrap", "0", "--json", json2}));
    REQUIRE_MESSAGE(off.exit_code == 0, shown(off));
    CHECK(contains(off.out, "no intervals (--bootstrap 0)"));
    CHECK(!contains(off.out, "accuracy"));
    const nlohmann::json j0 = nlohmann::json::parse(fw::test::read_bytes(json2));
    CHECK(j0["mean_confidence"]["lo"].is_null());
    CHECK(j0["mean_confidence"]["value"] == j["mean_confidence"]["value"]);  // the value needs no resamples

    // --labels with 29 labels for 30 samples, and with a label 12: exit 1 naming the file.
    const std::string short_labels = dir.file("short-labels"), bad_labels = dir.file("bad-labels");
    std::vector<uint8_t> y(30, 4);
    write_idx_labels(short_labels, 29, y.data());
    y[17] = 12;
    write_idx_labels(bad_labels, 30, y.data());
    const ProgramRun s = run_program("evaluate", with({"--labels", short_labels}));
    CHECK(s.exit_code == 1);
    CHECK(contains(s.err, short_labels + " has 29 labels"));
    const ProgramRun b = run_program("evaluate", with({"--labels", bad_labels}));
    CHECK(b.exit_code == 1);
    CHECK(contains(b.err, bad_labels + ": label 12 at index 17 is outside 0-9"));
    const ProgramRun nodir = run_program("evaluate", with({"--json", dir.file("no/such/folder/x.json")}));
    CHECK(nodir.exit_code == 1);
    CHECK(contains(nodir.err, "no/such/folder/x.json: cannot write the --json output"));
}

TEST_CASE("plot_scores: evaluate's --json files against a setting as one PNG; bad points and files named") {
    fw::test::TempDir dir;
    const Files f = write_files(dir);
    const std::string a = dir.file("a.json"), b = dir.file("b.json");
    for (const auto& [json, boot] : {std::pair{a, "30"}, std::pair{b, "0"}}) {
        const ProgramRun r = run_program("evaluate", {"--samples", f.samples, "--classifier", f.classifier, "--data", f.data,
                                                      "--labels", f.labels, "--bootstrap", boot, "--json", json});
        REQUIRE_MESSAGE(r.exit_code == 0, shown(r));
    }
    const std::string png = dir.file("scores.png");
    const ProgramRun ok = run_program("plot_scores", {"--points", "0=" + a + ",0.5=" + b + ",2=" + a, "--x-label", "w", "--out", png});
    REQUIRE_MESSAGE(ok.exit_code == 0, shown(ok));
    CHECK(contains(ok.out, "3 points, 5 panels"));  // accuracy (every file has labels), confidence, share, entropy, FD
    CHECK(fw::test::read_bytes(png).substr(0, 8) == std::string("\x89PNG\r\n\x1a\n"));

    const ProgramRun order = run_program("plot_scores", {"--points", "1=" + a + ",0=" + b, "--out", png});
    CHECK(order.exit_code == 2);
    CHECK(contains(order.err, "the X values must increase (1 then 0)"));
    const ProgramRun form = run_program("plot_scores", {"--points", "w1:" + a + ",0=" + b, "--out", png});
    CHECK(form.exit_code == 2);
    CHECK(contains(form.err, "is not X=FILE"));
    const ProgramRun missing = run_program("plot_scores", {"--points", "0=" + a + ",1=" + dir.file("none.json"), "--out", png});
    CHECK(missing.exit_code == 1);
    CHECK(contains(missing.err, dir.file("none.json") + ": cannot open"));
    const std::string other = dir.file("other.json");
    fw::test::write_bytes(other, "{\"mean_confidence\": {\"value\": 0.5}}");
    const ProgramRun lacking = run_program("plot_scores", {"--points", "0=" + a + ",1=" + other, "--out", png});
    CHECK(lacking.exit_code == 1);
    CHECK(contains(lacking.err, other + ": has no 'confident_share'"));
    const ProgramRun unwritable = run_program("plot_scores", {"--points", "0=" + a + ",1=" + b, "--out", dir.file("no/dir/x.png")});
    CHECK(unwritable.exit_code == 1);
    CHECK(contains(unwritable.err, "no/dir/x.png"));
}
