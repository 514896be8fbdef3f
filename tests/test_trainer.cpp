// Claims about training: the loss falls, a stopped-and-resumed run equals an uninterrupted one
// bit for bit, a NaN loss or a NaN gradient stops the run before any weight changes, and corrupt
// or mismatched checkpoints are refused with every differing setting named.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "examples/common/ddpm_trainer.h"
#include "examples/common/progress.h"
#include "tests/file_util.h"
#include "tests/trainer_test_util.h"
#include "tests/tempdir.h"

using namespace fw;

using fw::test::same_tensors;
using fw::test::synthetic_split;
using fw::test::tiny_config;

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
    CHECK_THROWS_WITH_AS(tr.step(), doctest::Contains("at step 2"), train::NonFiniteStep);
    CHECK(tr.step_count() == 1);  // the failed step did not count
}

TEST_CASE("a finite loss with a NaN gradient stops the step before Adam, naming the parameter and index") {
    fw::test::TempDir dir;
    data::Split s = synthetic_split();
    for (double clip : {1.0, 0.0}) {  // clipping on (a NaN norm would skip the scaling) and off
        CAPTURE(clip);
        train::TrainConfig c = tiny_config();
        c.grad_clip = clip;
        train::DdpmTrainer tr(c, s);
        tr.step();
        const std::vector<float> before = tr.model().parameters()[2].second.to_vector();
        const float loss = tr.compute_gradients();
        REQUIRE(std::isfinite(loss));
        const auto [name, p] = tr.model().parameters()[2];  // a copy: parameters() returns a fresh list
        p.grad().data()[5] = NAN;  // as an overflow inside backward would leave it
        std::string message;
        try {
            tr.apply_update();
        } catch (const train::NonFiniteStep& e) {
            message = e.what();
        }
        CHECK(message == "gradient norm is nan at step 2: the gradient of '" + name + "' " + to_string(p.shape()) +
                             " holds nan at index 5");
        CHECK(tr.step_count() == 1);
        CHECK(tr.model().parameters()[2].second.to_vector() == before);  // Adam never ran
        for (const auto& [n, w] : tr.ema_model().parameters())
            for (float v : w.to_vector()) REQUIRE(std::isfinite(v));
    }
}

TEST_CASE("a checkpoint records every run setting and the data; each difference is named on load") {
    fw::test::TempDir dir;
    const std::string ck = dir.path() + "/ck.safetensors";
    data::Split s = synthetic_split();
    train::TrainConfig c = tiny_config();
    c.lr = 1.7e-3;
    c.grad_clip = 0.5;
    c.ema_warmup = false;
    train::DdpmTrainer tr(c, s);
    tr.step();
    tr.save(ck);

    // Every setting reads back exactly (the values are written as shortest exact decimals).
    train::TrainConfig back = train::config_from_checkpoint(read_checkpoint(ck), train::TrainConfig{});
    std::vector<train::RunSetting> a = train::run_settings(c), b = train::run_settings(back);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) CHECK_MESSAGE(a[i].value == b[i].value, a[i].key);
    CHECK(a[2].value == "0.0017");

    // Three settings changed: all three are named, with the flags that set them.
    train::TrainConfig other = c;
    other.lr = 2e-3;
    other.warmup = 7;
    other.grad_clip = 1.0;
    train::DdpmTrainer different(other, s);
    const std::string msg = fw::test::error_of([&] { different.load(ck); });
    CHECK(fw::test::contains(msg, "lr = 0.0017 but this run has lr = 0.002 (--lr)"));
    CHECK(fw::test::contains(msg, "warmup = 3 but this run has warmup = 7 (--warmup)"));
    CHECK(fw::test::contains(msg, "grad_clip = 0.5 but this run has grad_clip = 1 (--clip)"));
    CHECK(different.step_count() == 0);

    // Other training images: the same run cannot continue on them.
    data::Split s2 = synthetic_split();
    s2.pixels[100] ^= 1;
    train::DdpmTrainer other_data(c, s2);
    CHECK(fw::test::contains(fw::test::error_of([&] { other_data.load(ck); }), "train_crc32 = "));
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
    CHECK_THROWS_WITH_AS(different.load(ck), doctest::Contains("batch = 8 but this run has batch = 4 (--batch)"),
                         Error);

    const auto size = std::filesystem::file_size(ck);
    std::filesystem::resize_file(ck, size / 2);  // a torn file, as a crash without atomic writes would leave
    train::DdpmTrainer fresh(tiny_config(), s);
    CHECK_THROWS_AS(fresh.load(ck), Error);
}

TEST_CASE("the progress line shows step/total, loss, images/s, elapsed and ETA") {
    CHECK(progress::format_duration(135) == "02:15");
    CHECK(progress::format_duration(3735) == "1:02:15");
    CHECK(progress::format_duration(NAN) == "--:--");
    CHECK(progress::format_line(1200, 3000, 0.04123, 71.26, 135, 202) ==
          "[########------------] 1200/3000  loss 0.0412  71.3 img/s  02:15 elapsed  ETA 03:22");
}

TEST_CASE("--cond with p_uncond = 1: every label is dropped, so training does not depend on the labels") {
    data::Split a = synthetic_split(), b = synthetic_split();
    for (size_t i = 0; i < b.labels.size(); ++i) b.labels[i] = (uint8_t)((b.labels[i] + 3) % 10);  // other labels
    train::TrainConfig c = tiny_config();
    c.cond = true;
    c.p_uncond = 1.0;
    train::DdpmTrainer ta(c, a), tb(c, b);
    const std::vector<float> initial = ta.model().label_emb->weight.to_vector();
    for (int i = 0; i < 3; ++i) ta.step(), tb.step();
    CHECK(same_tensors(ta.model().parameters(), tb.model().parameters()));
    // only the "no label" row of the table was trained; the rows of the digits kept their initial values
    const Tensor table = ta.model().label_emb->weight;
    const int64_t temb = table.size(1);
    for (int64_t i = 0; i < 10 * temb; ++i) REQUIRE(table.data()[i] == initial[(size_t)i]);
    bool null_row_moved = false;
    for (int64_t i = 10 * temb; i < 11 * temb; ++i) null_row_moved |= table.data()[i] != initial[(size_t)i];
    CHECK(null_row_moved);

    // with p_uncond = 0 the labels matter
    c.p_uncond = 0.0;
    train::DdpmTrainer tc(c, a), td(c, b);
    for (int i = 0; i < 3; ++i) tc.step(), td.step();
    CHECK_FALSE(same_tensors(tc.model().parameters(), td.model().parameters()));
}
