// Claims about train_mnist and sample_mnist as PROGRAMS, run the way a user runs them (a child
// process, tiny 8 x 8 data, a UNet 8/16 wide): their exit codes and messages on bad input, Ctrl-C
// while training and while sampling, an output folder they cannot write, a resume with changed
// settings, and poisoned or edited checkpoints; predict_eps against the same forward pass in
// process. Each case takes a few seconds.
//
// Exit codes: 0 done, 2 bad input (the message says what), 3 training diverged, 130 Ctrl-C.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/autograd.h"
#include "core/cuda/backend.h"
#include "core/idx.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "examples/common/ddpm_trainer.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "tests/file_util.h"
#include "tests/run_program.h"
#include "tests/tempdir.h"

using namespace fw;
using fw::test::contains;
using fw::test::ProgramRun;
using fw::test::run_program;
namespace fs = std::filesystem;

namespace {

// DIR/{train,t10k}-{images,labels}: n 8 x 8 "digits", a bright bar whose row depends on the index.
void write_tiny_dataset(const std::string& dir, int64_t n = 48) {
    std::vector<uint8_t> pixels((size_t)n * 64, 0), labels((size_t)n);
    for (int64_t i = 0; i < n; ++i) {
        for (int c = 1; c < 7; ++c) pixels[(size_t)(i * 64 + (i % 8) * 8 + c)] = 255;
        labels[(size_t)i] = (uint8_t)(i % 10);
    }
    for (const char* split : {"train", "t10k"}) {
        write_idx_images(dir + "/" + split + "-images-idx3-ubyte", n, 8, 8, pixels.data());
        write_idx_labels(dir + "/" + split + "-labels-idx1-ubyte", n, labels.data());
    }
}

// Flags for a tiny run on that data: everything small, one thread, DDIM with 5 steps at the end.
std::vector<std::string> tiny_run(const std::string& data, const std::string& out, int64_t steps) {
    return {"--data", data, "--out", out, "--steps", std::to_string(steps), "--batch", "8", "--base", "8", "--mid", "16",
            "--warmup", "2", "--sample-every", "0", "--samples", "4", "--sampler", "ddim", "--sample-steps", "5",
            "--threads", "1"};
}

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// Replaces the value of a flag already in args.
void set_flag(std::vector<std::string>& args, const std::string& flag, const std::string& value) {
    auto it = std::find(args.begin(), args.end(), flag);
    REQUIRE(it + 1 < args.end());
    *(it + 1) = value;
}

// What a failed check should show: the command's exit code and both streams.
std::string shown(const ProgramRun& r) {
    return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\n--- stdout:\n" + r.out +
           "\n--- stderr:\n" + r.err;
}

// A checkpoint of 3 tiny training steps: DIR/data holds the data, DIR/out the run. Returns its path.
std::string train_tiny_checkpoint(const fw::test::TempDir& dir) {
    fs::create_directories(dir.file("data"));
    write_tiny_dataset(dir.file("data"));
    ProgramRun train = run_program("train_mnist", tiny_run(dir.file("data"), dir.file("out"), 3));
    REQUIRE_MESSAGE(train.exit_code == 0, shown(train));
    return dir.file("out") + "/checkpoint.safetensors";
}

// A callback that sends `sig` once, on the first stdout line containing `marker`.
fw::test::LineCallback signal_on(const std::string& marker, int sig = SIGINT) {
    auto sent = std::make_shared<bool>(false);
    return [=](pid_t child, const std::string& line) {
        if (!*sent && contains(line, marker)) {
            *sent = true;
            ::kill(child, sig);
        }
    };
}

}  // namespace

TEST_CASE("train_mnist: Ctrl-C while training saves a checkpoint; --resume with the same flags finishes the run") {
    fw::test::TempDir dir;
    const std::string data = dir.file("data"), out = dir.file("out");
    fs::create_directories(data);
    write_tiny_dataset(data);
    // 1000 steps print a progress line every 50: the first one is the moment to press Ctrl-C.
    ProgramRun r = run_program("train_mnist", tiny_run(data, out, 1000), signal_on("/1000"));
    INFO(shown(r));
    REQUIRE(r.exit_code == 130);
    CHECK(contains(r.out, "saved " + out + "/checkpoint.safetensors at step"));
    CHECK(fs::exists(out + "/checkpoint.safetensors"));
    CHECK_FALSE(fs::exists(out + "/samples.png"));

    // Resume with no run setting at all: each comes from the checkpoint.
    ProgramRun again = run_program("train_mnist", {"--data", data, "--out", out, "--resume", "--threads", "1"});
    INFO(shown(again));
    CHECK(again.exit_code == 0);
    CHECK(contains(again.out, "resumed " + out + "/checkpoint.safetensors at step"));
    CHECK(contains(again.out, "of 1000"));
    CHECK(fs::exists(out + "/samples.png"));
    // log.csv: one row per step, no step twice (the rows after the checkpoint were dropped on resume)
    const std::string log = fw::test::read_bytes(out + "/log.csv");
    CHECK(std::count(log.begin(), log.end(), '\n') == 1001);
}

TEST_CASE("train_mnist: --resume with other run settings is refused, naming each flag and both values") {
    fw::test::TempDir dir;
    const std::string data = dir.file("data"), out = dir.file("out");
    fs::create_directories(data);
    write_tiny_dataset(data);
    ProgramRun first = run_program("train_mnist", tiny_run(data, out, 3));
    REQUIRE_MESSAGE(first.exit_code == 0, shown(first));
    const std::string ckpt_before = fw::test::read_bytes(out + "/checkpoint.safetensors");

    ProgramRun r = run_program("train_mnist", plus(tiny_run(data, out, 5), {"--resume", "--lr", "0.01", "--no-ema-warmup"}));
    INFO(shown(r));
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "--steps: the checkpoint has steps = 3, the command line 5"));
    CHECK(contains(r.err, "--lr: the checkpoint has lr = 0.001, the command line 0.01"));
    CHECK(contains(r.err, "--no-ema-warmup: the checkpoint has ema_warmup = on, the command line off"));
    CHECK(fw::test::read_bytes(out + "/checkpoint.safetensors") == ckpt_before);

    // Without --resume an existing run is never overwritten.
    ProgramRun fresh = run_program("train_mnist", tiny_run(data, out, 3));
    CHECK_MESSAGE(fresh.exit_code == 2, shown(fresh));
    CHECK(contains(fresh.err, "already exists: pass --resume"));
}

TEST_CASE("train_mnist: Ctrl-C during the final sampling stops promptly, writing no samples") {
    fw::test::TempDir dir;
    const std::string data = dir.file("data"), out = dir.file("out");
    fs::create_directories(data);
    write_tiny_dataset(data);
    std::vector<std::string> args = tiny_run(data, out, 2);
    set_flag(args, "--samples", "256");  // 4 x 1000 DDPM steps: seconds, not milliseconds
    set_flag(args, "--sampler", "ddpm");
    auto t_signal = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    auto send = signal_on("[train] sampling");
    ProgramRun r = run_program("train_mnist", args, [&](pid_t child, const std::string& line) {
        if (contains(line, "[train] sampling")) *t_signal = std::chrono::steady_clock::now();
        send(child, line);
    });
    const double after_signal = std::chrono::duration<double>(std::chrono::steady_clock::now() - *t_signal).count();
    INFO(shown(r));
    CHECK(r.exit_code == 130);
    // One sampler step of 64 tiny images takes milliseconds (tens under ASan): 5 s is "promptly"
    // with a wide margin for a loaded machine; without the check it would run all 4,000 steps.
    CHECK(after_signal < 5.0);
    CHECK(contains(r.out, "while sampling: nothing more written"));
    CHECK(fs::exists(out + "/checkpoint.safetensors"));
    CHECK_FALSE(fs::exists(out + "/samples.png"));
}

TEST_CASE("train_mnist: problems are found before the first step, each naming its flag or file") {
    fw::test::TempDir dir;
    const std::string data = dir.file("data");
    fs::create_directories(data);
    write_tiny_dataset(data);
    fw::test::write_bytes(dir.file("a_file"), "x");

    SUBCASE("an --out that cannot be created") {
        ProgramRun r = run_program("train_mnist", tiny_run(data, dir.file("a_file") + "/out", 3));
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, "--out " + dir.file("a_file") + "/out: cannot create the folder"));
    }
    SUBCASE("a log.csv that cannot be written (a full disk)") {
        const std::string out = dir.file("out");
        fs::create_directories(out);
        fs::create_symlink("/dev/full", out + "/log.csv");
        ProgramRun r = run_program("train_mnist", tiny_run(data, out, 3));
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, "log.csv: No space left on device"));
    }
    SUBCASE("a flag whose value is missing, or given twice") {
        ProgramRun r = run_program("train_mnist", {"--data", "--out", dir.file("out")});
        CHECK_MESSAGE(r.exit_code == 2, shown(r));
        CHECK_MESSAGE(contains(r.err, "--data"), shown(r));
        ProgramRun twice = run_program("train_mnist", {"--batch", "5", "--batch", "6", "--out", dir.file("out")});
        CHECK_MESSAGE(twice.exit_code == 2, shown(twice));
        CHECK_MESSAGE(contains(twice.err, "--batch"), shown(twice));
        CHECK_FALSE(fs::exists(dir.file("out")));
    }
    SUBCASE("an IDX header that claims 20 million images") {
        const std::string bad = dir.file("bad");
        fs::create_directories(bad);
        write_tiny_dataset(bad);
        std::string bytes = fw::test::read_bytes(bad + "/train-images-idx3-ubyte");
        bytes[4] = (char)0x01, bytes[5] = (char)0x31, bytes[6] = (char)0x2D, bytes[7] = 0;  // N = 20,000,000
        fw::test::write_bytes(bad + "/train-images-idx3-ubyte", bytes);
        ProgramRun r = run_program("train_mnist", tiny_run(bad, dir.file("out"), 3));
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, bad + "/train-images-idx3-ubyte"));
        CHECK_FALSE(contains(r.err, "bad_alloc"));
    }
    SUBCASE("--device cuda without a usable GPU is refused before the output folder is made") {
        if (cuda_available()) return;  // a machine with a GPU (or the emulated device) trains there
        ProgramRun r = run_program("train_mnist", plus(tiny_run(data, dir.file("out"), 3), {"--device", "cuda"}));
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, "--device cuda: "));
        CHECK_FALSE(fs::exists(dir.file("out")));
    }
}

TEST_CASE("train_mnist --profile and sample_mnist --profile: the per-op table of the steps after the first") {
    fw::test::TempDir dir;
    const std::string out = dir.file("out"), ckpt = train_tiny_checkpoint(dir);
    ProgramRun t = run_program("train_mnist", plus(tiny_run(dir.file("data"), dir.file("out2"), 4), {"--profile"}));
    INFO(shown(t));
    REQUIRE(t.exit_code == 0);
    CHECK(contains(t.out, "[profile] 3 steps"));  // 4 steps, the first one left out
    CHECK(contains(t.out, "conv2d             forward        "));
    CHECK(contains(t.out, "conv2d             backward       "));
    CHECK(contains(t.out, "adam               update          1.0"));
    CHECK(contains(t.out, "ema                update          1.0"));
    CHECK(contains(t.out, "\nother "));
    CHECK(contains(t.out, "\ntotal "));
    CHECK(t.out.find("[profile]") < t.out.find("[train] sampling"));  // the training steps only

    ProgramRun s = run_program("sample_mnist", {"--ckpt", ckpt, "--out", out + "/s", "--n", "2", "--sampler", "ddim",
                                                "--steps", "5", "--threads", "1", "--profile"});
    INFO(shown(s));
    REQUIRE(s.exit_code == 0);
    CHECK(contains(s.out, "[profile] 4 steps"));  // 5 sampler steps, the first one left out
    CHECK(contains(s.out, "conv2d             forward        "));
    CHECK_FALSE(contains(s.out, "backward"));  // sampling records no graph
}

TEST_CASE("train_mnist --cond and sample_mnist --label: a grid per digit; the wrong kind of checkpoint is refused") {
    fw::test::TempDir dir;
    const std::string data = dir.file("data"), out = dir.file("cond");
    const std::string plain_ckpt = train_tiny_checkpoint(dir);  // unconditional, in DIR/out
    std::vector<std::string> args = plus(tiny_run(data, out, 3), {"--cond"});
    set_flag(args, "--samples", "20");
    ProgramRun r = run_program("train_mnist", args);
    INFO(shown(r));
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "one row per digit, guidance w = 2"));
    const std::string ckpt = out + "/checkpoint.safetensors";
    CHECK(contains(fw::test::read_bytes(ckpt), "\"cond\":\"on\""));
    CHECK(read_idx_images(out + "/samples-idx3-ubyte").n == 20);

    ProgramRun all = run_program("sample_mnist", {"--ckpt", ckpt, "--out", dir.file("all"), "--n", "20", "--sampler",
                                                  "ddim", "--steps", "3", "--label", "all", "--guidance", "1.5",
                                                  "--threads", "1"});
    INFO(shown(all));
    CHECK(all.exit_code == 0);
    CHECK(read_idx_images(dir.file("all") + "-idx3-ubyte").n == 20);
    const std::vector<uint8_t> asked = read_idx_labels(dir.file("all") + "-labels-idx1-ubyte");
    REQUIRE(asked.size() == 20);
    for (int i = 0; i < 20; ++i) CHECK(asked[(size_t)i] == i / 2);  // two of each digit, in order
    ProgramRun seven = run_program("sample_mnist", {"--ckpt", ckpt, "--out", dir.file("seven"), "--n", "2", "--sampler",
                                                    "ddim", "--steps", "3", "--label", "7", "--threads", "1"});
    CHECK(seven.exit_code == 0);

    struct Bad {
        std::vector<std::string> args;
        std::string says;
    };
    for (const Bad& bad : std::vector<Bad>{
             {{"--ckpt", ckpt}, "is a class-conditional model (trained with --cond): give --label"},
             {{"--ckpt", ckpt, "--label", "10"}, "--label"},
             {{"--ckpt", ckpt, "--label", "3", "--guidance", "-1"}, "--guidance"},
             {{"--ckpt", plain_ckpt, "--label", "3"}, "is an unconditional model"},
             {{"--ckpt", plain_ckpt, "--guidance", "2"}, "is an unconditional model"}}) {
        ProgramRun b = run_program("sample_mnist", plus(bad.args, {"--out", dir.file("bad"), "--threads", "1"}));
        INFO(shown(b));
        CHECK(b.exit_code == 2);
        CHECK(contains(b.err, bad.says));
        CHECK_FALSE(fs::exists(dir.file("bad") + ".png"));
    }
    ProgramRun resumed = run_program("train_mnist", plus(tiny_run(data, out, 3), {"--resume"}));  // takes --cond from it
    CHECK(resumed.exit_code == 0);
    ProgramRun uncond_flag = run_program("train_mnist", plus(tiny_run(data, dir.file("u"), 3), {"--p-uncond", "0.2"}));
    CHECK(uncond_flag.exit_code == 2);
    CHECK(contains(uncond_flag.err, "--p-uncond is for a class-conditional run (--cond)"));
}

TEST_CASE("sample_mnist --inpaint keeps the known half byte for byte; --interpolate writes a strip; bad input refused") {
    fw::test::TempDir dir;
    const std::string ckpt = train_tiny_checkpoint(dir), digits = dir.file("data") + "/t10k-images-idx3-ubyte";
    ProgramRun r = run_program("sample_mnist", {"--ckpt", ckpt, "--inpaint", digits, "--mask", "left", "--n", "3", "--out",
                                                dir.file("inp"), "--threads", "1"});
    INFO(shown(r));
    REQUIRE(r.exit_code == 0);
    const IdxImages in = read_idx_images(digits), done = read_idx_images(dir.file("inp") + "-idx3-ubyte");
    REQUIRE(done.n == 3);
    for (int64_t i = 0; i < 3; ++i)
        for (int row = 0; row < 8; ++row)
            for (int col = 0; col < 4; ++col) {  // the kept left half
                const size_t k = (size_t)(i * 64 + row * 8 + col);
                CHECK(done.pixels[k] == in.pixels[k]);
            }
    CHECK(fs::exists(dir.file("inp") + ".png"));
    ProgramRun repaint = run_program("sample_mnist", {"--ckpt", ckpt, "--inpaint", digits, "--jumps", "1", "--n", "1",
                                                      "--out", dir.file("rp"), "--threads", "1"});
    CHECK(repaint.exit_code == 0);
    ProgramRun strip = run_program("sample_mnist", {"--ckpt", ckpt, "--interpolate", digits, "--frames", "4", "--steps",
                                                    "5", "--out", dir.file("strip"), "--threads", "1"});
    INFO(shown(strip));
    CHECK(strip.exit_code == 0);
    CHECK(fs::exists(dir.file("strip") + ".png"));

    write_idx_images(dir.file("big"), 1, 12, 12, std::vector<uint8_t>(144, 0).data());
    struct Bad {
        std::vector<std::string> args;
        std::string says;
    };
    for (const Bad& bad : std::vector<Bad>{{{"--inpaint", digits, "--mask", "diagonal"}, "--mask"},
                                           {{"--inpaint", dir.file("big")}, "images of 12 x 12, the model draws 8 x 8"},
                                           {{"--inpaint", digits, "--n", "100"}, "fewer than the 100 asked for"},
                                           {{"--mask", "top"}, "--mask goes with --inpaint"},
                                           {{"--inpaint", digits, "--interpolate", digits}, "give one of them"}}) {
        ProgramRun b = run_program("sample_mnist", plus({"--ckpt", ckpt, "--out", dir.file("bad"), "--threads", "1"}, bad.args));
        INFO(shown(b));
        CHECK(b.exit_code == 2);
        CHECK(contains(b.err, bad.says));
        CHECK_FALSE(fs::exists(dir.file("bad") + ".png"));
    }
}

TEST_CASE("train_mnist --loss vlb: trains on the bound's terms; the checkpoint records it; --resume keeps it") {
    fw::test::TempDir dir;
    const std::string data = dir.file("data"), out = dir.file("out");
    fs::create_directories(data);
    write_tiny_dataset(data);
    ProgramRun r = run_program("train_mnist", plus(tiny_run(data, out, 3), {"--loss", "vlb"}));
    INFO(shown(r));
    REQUIRE(r.exit_code == 0);
    const std::string ckpt = fw::test::read_bytes(out + "/checkpoint.safetensors");
    CHECK(contains(ckpt, "\"loss\":\"vlb\""));
    ProgramRun other = run_program("train_mnist", plus(tiny_run(data, out, 3), {"--resume", "--loss", "simple"}));
    INFO(shown(other));
    CHECK(other.exit_code == 2);
    CHECK(contains(other.err, "--loss: the checkpoint has loss = vlb"));
    ProgramRun more = run_program("train_mnist", plus(tiny_run(data, out, 3), {"--resume"}));  // takes vlb from it
    INFO(shown(more));
    CHECK(more.exit_code == 0);
    ProgramRun bad = run_program("train_mnist", plus(tiny_run(data, dir.file("out2"), 3), {"--loss", "elbo"}));
    CHECK(bad.exit_code == 2);
    CHECK(contains(bad.err, "--loss"));
    CHECK(contains(bad.err, "vlb"));
}

TEST_CASE("train_mnist --minutes: plans its steps to the budget; --steps N --lr-schedule wsd retrains it bit for bit") {
    fw::test::TempDir dir;
    const std::string data = dir.file("data"), out = dir.file("out");
    fs::create_directories(data);
    write_tiny_dataset(data);
    std::vector<std::string> args = tiny_run(data, out, 1);
    args.erase(std::find(args.begin(), args.end(), "--steps"), std::find(args.begin(), args.end(), "--steps") + 2);

    SUBCASE("the budget, the plan in the checkpoint, and the same run from --steps") {
        ProgramRun r = run_program("train_mnist", plus(args, {"--minutes", "0.02"}));  // 1.2 s of training
        INFO(shown(r));
        REQUIRE(r.exit_code == 0);
        CHECK(contains(r.out, "[plan] step "));
        CHECK(contains(r.out, "retrains this run"));
        const Checkpoint ck = read_checkpoint(out + "/checkpoint.safetensors");
        CHECK(ck.setting("minutes") == "0.02");
        CHECK(ck.setting("lr_schedule") == "wsd");
        const int64_t steps = ck.setting_int("steps", 1, 1'000'000);
        CHECK(ck.setting_double("budget_spent_s") > 0.5);  // the steps ran for about the budget...
        CHECK(ck.setting_double("budget_spent_s") < 3.0);  // ...(a loaded machine may slow a step down)
        CHECK(contains(r.out, "`--steps " + std::to_string(steps) + " --lr-schedule wsd` retrains this run"));

        std::vector<std::string> again = tiny_run(data, dir.file("again"), steps);
        ProgramRun fixed = run_program("train_mnist", plus(again, {"--lr-schedule", "wsd"}));
        REQUIRE_MESSAGE(fixed.exit_code == 0, shown(fixed));
        const Checkpoint ck2 = read_checkpoint(dir.file("again") + "/checkpoint.safetensors");
        REQUIRE(ck.tensors.size() == ck2.tensors.size());
        for (size_t i = 0; i < ck.tensors.size(); ++i) {
            const Tensor& a = ck.tensors[i].second;
            const Tensor& b = ck2.tensors[i].second;
            INFO(ck.tensors[i].first);
            REQUIRE(a.numel() == b.numel());
            CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * (size_t)a.numel()) == 0);
        }
    }
    SUBCASE("--minutes with --steps, or with the cosine schedule, is refused naming both flags") {
        ProgramRun both = run_program("train_mnist", plus(args, {"--minutes", "1", "--steps", "50"}));
        CHECK_MESSAGE(both.exit_code == 2, shown(both));
        CHECK(contains(both.err, "--minutes 1 and --steps 50 both set the run's length"));
        ProgramRun cosine = run_program("train_mnist", plus(args, {"--minutes", "1", "--lr-schedule", "cosine"}));
        CHECK_MESSAGE(cosine.exit_code == 2, shown(cosine));
        CHECK(contains(cosine.err, "--lr-schedule cosine"));
        CHECK_FALSE(fs::exists(out + "/checkpoint.safetensors"));
    }
}

TEST_CASE("nll_mnist: the bound in bits/dim, exact and Monte-Carlo; bad input refused; Ctrl-C writes nothing") {
    fw::test::TempDir dir;
    const std::string ckpt = train_tiny_checkpoint(dir), data = dir.file("data"), out = dir.file("nll");
    auto bits = [](const std::string& text) {  // "bits/dim <= X +- Y"
        const size_t at = text.find("bits/dim <= ");
        REQUIRE(at != std::string::npos);
        return std::stod(text.substr(at + 12));
    };
    ProgramRun exact = run_program("nll_mnist", {"--ckpt", ckpt, "--data", data, "--out", out, "--n", "3", "--batch",
                                                 "2", "--threads", "1"});
    INFO(shown(exact));
    REQUIRE(exact.exit_code == 0);
    CHECK(contains(exact.out, "exact sum over t"));
    const double b = bits(exact.out);
    CHECK(b > 0.0);   // a bound on a negative log-likelihood of discrete data
    CHECK(b < 30.0);  // 3 tiny steps: far from good, not absurd
    CHECK(fs::exists(out + "/bpd_per_t.png"));
    const std::string csv = fw::test::read_bytes(out + "/bpd.csv");
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 4);  // a header and 3 images

    ProgramRun mc = run_program("nll_mnist", {"--ckpt", ckpt, "--data", data, "--out", dir.file("mc"), "--n", "3",
                                              "--mc-t", "50", "--threads", "1"});
    INFO(shown(mc));
    REQUIRE(mc.exit_code == 0);
    CHECK(contains(mc.out, "Monte-Carlo estimate over t"));
    CHECK(std::fabs(bits(mc.out) - b) < 0.5 * b);  // the same bound, estimated (its +- is printed)

    for (const auto& bad : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"--mc-t", "1"}, "--mc-t 1"},
             {{"--n", "1000"}, "--n 1000"},
             {{"--sigma", "big"}, "--sigma"},
             {{"--ckpt", dir.file("none.safetensors")}, "none.safetensors"}}) {
        std::vector<std::string> args = {"--ckpt", ckpt, "--data", data, "--out", dir.file("bad"), "--threads", "1"};
        for (size_t i = 0; i < bad.first.size(); i += 2) {
            auto it = std::find(args.begin(), args.end(), bad.first[i]);
            if (it != args.end()) *(it + 1) = bad.first[i + 1];
            else args.insert(args.end(), {bad.first[i], bad.first[i + 1]});
        }
        ProgramRun r = run_program("nll_mnist", args);
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, bad.second));
        CHECK_FALSE(fs::exists(dir.file("bad") + "/bpd.csv"));
    }

    ProgramRun stopped = run_program("nll_mnist", {"--ckpt", ckpt, "--data", data, "--out", dir.file("stopped"), "--n",
                                                   "40", "--batch", "2", "--threads", "1"},
                                     signal_on("/20000"));  // the progress line: 20 batches x 1000 terms
    INFO(shown(stopped));
    CHECK(stopped.exit_code == 130);
    CHECK_FALSE(fs::exists(dir.file("stopped") + "/bpd.csv"));
}

TEST_CASE("sample_mnist: samples at the trained size; refuses corrupt checkpoints and unwritable outputs up front") {
    fw::test::TempDir dir;
    const std::string out = dir.file("out"), ckpt = train_tiny_checkpoint(dir);

    SUBCASE("a model trained on 8 x 8 images draws 8 x 8 samples") {
        ProgramRun r = run_program("sample_mnist", {"--ckpt", ckpt, "--out", out + "/s", "--n", "3", "--sampler", "ddim",
                                                    "--steps", "4", "--threads", "1"});
        INFO(shown(r));
        REQUIRE(r.exit_code == 0);
        IdxImages im = read_idx_images(out + "/s-idx3-ubyte");
        CHECK(im.n == 3);
        CHECK(im.rows == 8);
        CHECK(im.cols == 8);
    }
    SUBCASE("one flipped exponent bit in the weights is caught by the checksum") {
        std::string bytes = fw::test::read_bytes(ckpt);
        bytes[bytes.size() - 2] ^= 0x40;  // the high byte of the last float: its exponent
        fw::test::write_bytes(ckpt, bytes);
        ProgramRun r = run_program("sample_mnist", {"--ckpt", ckpt, "--out", out + "/s"});
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, ckpt));
        CHECK(contains(r.err, "CRC"));
        CHECK_FALSE(fs::exists(out + "/s.png"));
    }
    SUBCASE("a metadata value that is not a number names the setting") {
        std::string bytes = fw::test::read_bytes(ckpt);
        const size_t at = bytes.find("\"base\":\"8\"");
        REQUIRE(at != std::string::npos);
        bytes[at + 8] = 'q';
        fw::test::write_bytes(ckpt, bytes);
        ProgramRun r = run_program("sample_mnist", {"--ckpt", ckpt, "--out", out + "/s"});
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, "'base' = 'q'"));
    }
    SUBCASE("an --out folder that cannot be written is refused before sampling") {
        fw::test::write_bytes(dir.file("a_file"), "x");
        ProgramRun r = run_program("sample_mnist", {"--ckpt", ckpt, "--out", dir.file("a_file") + "/sub/s"});
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, "--out " + dir.file("a_file") + "/sub: cannot create the folder"));
        CHECK_FALSE(contains(r.out, "drawing"));
    }
    SUBCASE("Ctrl-C while sampling stops within a step and writes nothing") {
        ProgramRun r = run_program("sample_mnist", {"--ckpt", ckpt, "--out", out + "/s", "--n", "256", "--threads", "1"},
                                   signal_on("sample_mnist: drawing"));
        INFO(shown(r));
        CHECK(r.exit_code == 130);
        CHECK(contains(r.err, "stopped by signal 2 (Ctrl-C); nothing written"));
        CHECK_FALSE(fs::exists(out + "/s.png"));
    }
}

TEST_CASE("predict_eps: the EMA model's eps for given x_t and t, as in-process; bad t is refused naming the file") {
    fw::test::TempDir dir;
    const std::string out = dir.file("out"), ckpt = train_tiny_checkpoint(dir);

    Generator gen(5);
    Tensor x = randn({3, 1, 8, 8}, gen);
    save_safetensors(dir.file("in.safetensors"), {{"x_t", x}, {"t", Tensor::from_vector({3}, {1, 500, 1000})}});
    ProgramRun r = run_program("predict_eps", {"--ckpt", ckpt, "--inputs", dir.file("in.safetensors"), "--out",
                                               dir.file("eps.safetensors"), "--weights", "ema", "--threads", "1"});
    INFO(shown(r));
    REQUIRE(r.exit_code == 0);
    const SafeTensors eps = load_safetensors(dir.file("eps.safetensors"));
    REQUIRE(eps.tensors.size() == 1);
    CHECK(eps.tensors[0].first == "eps.ema");
    // The same forward pass in this process, on one thread: bit for bit (the kernels are
    // deterministic for a given thread count and CPU path).
    const int threads = num_threads();
    set_num_threads(1);
    NoGradGuard no_grad;
    Tensor want = train::unet_from_checkpoint(read_checkpoint(ckpt), "ema.", "the EMA model")->forward(x, {1, 500, 1000});
    set_num_threads(threads);
    CHECK(eps.tensors[0].second.to_vector() == want.to_vector());

    save_safetensors(dir.file("bad.safetensors"), {{"x_t", x}, {"t", Tensor::from_vector({3}, {1, 0, 1000})}});
    ProgramRun bad = run_program("predict_eps", {"--ckpt", ckpt, "--inputs", dir.file("bad.safetensors"), "--out",
                                                 dir.file("eps2.safetensors")});
    CHECK_MESSAGE(bad.exit_code == 2, shown(bad));
    CHECK_MESSAGE(contains(bad.err, dir.file("bad.safetensors") + ": t holds 0; expected integers in 1..1000"), shown(bad));
    CHECK_FALSE(fs::exists(dir.file("eps2.safetensors")));
}
