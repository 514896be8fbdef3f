// Claims about training: the loss falls, a stopped-and-resumed run equals an uninterrupted one
// bit for bit, a NaN loss stops the run, corrupt or mismatched checkpoints are refused, and the
// command line rejects bad flags with messages that list what is allowed.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "examples/common/ddpm_trainer.h"
#include "examples/common/flags.h"
#include "examples/common/progress.h"
#include "tests/tempdir.h"

using namespace fw;

namespace {

// 48 synthetic 8x8 "digits": a bright bar at a position that depends on the index.
data::Split synthetic_split() {
    data::Split s;
    s.n = 48;
    s.rows = s.cols = 8;
    s.pixels.assign(48 * 64, 0);
    s.labels.assign(48, 0);
    for (int i = 0; i < 48; ++i) {
        int r = i % 8;
        for (int c = 1; c < 7; ++c) s.pixels[i * 64 + r * 8 + c] = 255;
        s.labels[i] = (uint8_t)(i % 10);
    }
    return s;
}

train::TrainConfig tiny_config() {
    train::TrainConfig c;
    c.batch = 8;
    c.lr = 2e-3;
    c.warmup = 3;
    c.base = 8;
    c.mid = 16;
    c.groups = 4;
    c.seed = 3;
    return c;
}

bool same_tensors(const NamedTensors& a, const NamedTensors& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].first != b[i].first || a[i].second.shape() != b[i].second.shape() ||
            std::memcmp(a[i].second.data(), b[i].second.data(), sizeof(float) * a[i].second.numel()) != 0)
            return false;
    return true;
}

}  // namespace

TEST_CASE("a few training steps of a tiny UNet on synthetic digits lower L_simple") {
    data::Split s = synthetic_split();
    train::DdpmTrainer tr(tiny_config(), s);
    double first = 0, last = 0;
    for (int i = 0; i < 40; ++i) {
        float loss = tr.step();
        if (i < 8) first += loss / 8;
        if (i >= 32) last += loss / 8;
    }
    // L_simple starts near E[eps^2] = 1 (an untrained eps_theta is ~0); averaged over 8 steps to
    // smooth the random t and eps, it must clearly fall within 40 steps.
    INFO("mean loss of steps 1-8: " << first << ", of steps 33-40: " << last);
    CHECK(last < 0.75 * first);
}

TEST_CASE("a run stopped and resumed from its checkpoint reaches the same weights bit for bit") {
    fw::test::TempDir dir;
    const std::string ck = dir.path() + "/ck.safetensors";
    data::Split s = synthetic_split();
    train::DdpmTrainer straight(tiny_config(), s);
    for (int i = 0; i < 8; ++i) straight.step();  // crosses an epoch boundary (6 batches per epoch)

    {
        train::DdpmTrainer first_half(tiny_config(), s);
        for (int i = 0; i < 5; ++i) first_half.step();
        first_half.save(ck);
    }  // the first process is gone
    train::DdpmTrainer resumed(tiny_config(), s);
    resumed.load(ck);
    CHECK(resumed.step_count() == 5);
    for (int i = 0; i < 3; ++i) resumed.step();

    CHECK(same_tensors(straight.model().parameters(), resumed.model().parameters()));
    CHECK(same_tensors(straight.ema_model().parameters(), resumed.ema_model().parameters()));
}

TEST_CASE("a NaN loss stops training with a message naming the step") {
    data::Split s = synthetic_split();
    train::DdpmTrainer tr(tiny_config(), s);
    tr.step();
    Tensor w = tr.model().parameters()[0].second;
    w.data()[0] = NAN;  // poison the weights as a diverged run would
    CHECK_THROWS_WITH_AS(tr.step(), doctest::Contains("at step 2"), train::NonFiniteLoss);
    CHECK(tr.step_count() == 1);  // the failed step did not count
}

TEST_CASE("corrupt and mismatched checkpoints are refused with a message") {
    fw::test::TempDir dir;
    const std::string ck = dir.path() + "/ck.safetensors";
    data::Split s = synthetic_split();
    train::DdpmTrainer tr(tiny_config(), s);
    tr.step();
    tr.save(ck);

    train::TrainConfig other = tiny_config();
    other.batch = 4;
    train::DdpmTrainer different(other, s);
    CHECK_THROWS_WITH_AS(different.load(ck), doctest::Contains("was trained with batch = 8 but this run has batch = 4"),
                         Error);

    const auto size = std::filesystem::file_size(ck);
    std::filesystem::resize_file(ck, size / 2);  // a torn file, as a crash without atomic writes would leave
    train::DdpmTrainer fresh(tiny_config(), s);
    CHECK_THROWS_AS(fresh.load(ck), Error);
}

TEST_CASE("flags: unknown flags and bad values are errors that say what is allowed") {
    std::string data = "d", sampler = "ddim";
    int64_t steps = 10;
    double lr = 1e-3;
    bool resume = false;
    auto parser = [&] {
        flags::Parser p("prog", "test");
        p.add_string("data", &data, "folder");
        p.add_string("sampler", &sampler, "sampler", {"ddpm", "ddim"});
        p.add_int("steps", &steps, "steps", 1, 100);
        p.add_float("lr", &lr, "learning rate", 1e-7, 1.0);
        p.add_bool("resume", &resume, "resume");
        return p;
    };
    auto parse = [&](std::vector<const char*> args) {
        args.insert(args.begin(), "prog");
        flags::Parser p = parser();
        return p.parse((int)args.size(), const_cast<char**>(args.data()));
    };
    CHECK(parse({"--steps", "20", "--lr=0.01", "--resume", "--sampler", "ddpm"}));
    CHECK(steps == 20);
    CHECK(lr == 0.01);
    CHECK(resume);
    CHECK(sampler == "ddpm");
    CHECK_THROWS_WITH_AS(parse({"--stpes", "3"}),
                         "prog: unknown flag --stpes; allowed flags: --data, --sampler, --steps, --lr, --resume, --help", Error);
    CHECK_THROWS_WITH_AS(parse({"--steps", "many"}), "prog: --steps many: not an integer", Error);
    CHECK_THROWS_WITH_AS(parse({"--steps", "0"}), "prog: --steps 0: out of range; allowed: 1 to 100", Error);
    CHECK_THROWS_WITH_AS(parse({"--sampler", "euler"}), "prog: --sampler euler: not an allowed value; allowed: ddpm, ddim",
                         Error);
    CHECK_THROWS_WITH_AS(parse({"--lr", "nan"}), "prog: --lr nan: not a finite number", Error);
    CHECK_THROWS_WITH_AS(parse({"--steps"}), "prog: --steps needs a value", Error);
    CHECK_THROWS_WITH_AS(parse({"--resume=yes"}), "prog: --resume takes no value", Error);
    CHECK_THROWS_WITH_AS(parse({"extra"}), doctest::Contains("unexpected argument 'extra'"), Error);
    CHECK(parser().help().find("--sampler {ddpm|ddim}") != std::string::npos);
}

TEST_CASE("the progress line shows step/total, loss, images/s, elapsed and ETA") {
    CHECK(progress::format_duration(135) == "02:15");
    CHECK(progress::format_duration(3735) == "1:02:15");
    CHECK(progress::format_duration(NAN) == "--:--");
    CHECK(progress::format_line(1200, 3000, 0.04123, 71.26, 135, 202) ==
          "[########------------] 1200/3000  loss 0.0412  71.3 img/s  02:15 elapsed  ETA 03:22");
}
