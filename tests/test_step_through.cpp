// Claims about examples/step_through as a PROGRAM (run as a child process, the way `make
// step-through` runs it): it walks one training step through all ten stages and every check it
// makes passes (exit 0); --data takes its two digits from a folder of IDX files; bad input is a
// one-line message naming the flag or the folder, and exit 2.
#include <doctest/doctest.h>

#include <filesystem>
#include <vector>

#include "core/idx.h"
#include "tests/file_util.h"
#include "tests/run_program.h"
#include "tests/tempdir.h"

using fw::test::contains;
using fw::test::ProgramRun;
using fw::test::run_program;

namespace {

std::string shown(const ProgramRun& r) {
    return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\n--- stdout:\n" + r.out +
           "\n--- stderr:\n" + r.err;
}

// The title of each stage, as the program prints it.
const std::vector<std::string> kStages = {
    "== 1. the batch x_0 in [-1, 1]",
    "== 2. Algorithm 1: t ~ U{1..T} and eps ~ N(0, I)",
    "== 3. Eq. 6: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps",
    "== 4. eps_theta(x_t, t): the UNet forward, layer by layer",
    "== 5. Eq. 17: L_simple",
    "== 6. backward()",
    "== 7. the analytic gradient beside central finite differences",
    "== 8. gradient clipping",
    "== 9. Adam, step t = 1",
    "== 10. EMA",
};

}  // namespace

TEST_CASE("step_through: one training step of the tiny UNet, all ten stages, every check passes (exit 0)") {
    // Two seeds: the checks' tolerances must hold for other draws of t, eps and the weights too.
    for (const char* seed : {"0", "7"}) {
        ProgramRun r = run_program("step_through", {"--seed", seed}, nullptr, 120);
        INFO("--seed ", seed, "\n", shown(r));
        CHECK(r.exit_code == 0);
        for (const std::string& s : kStages) CHECK_MESSAGE(contains(r.out, s), s);
        CHECK(contains(r.out, "two drawn digits"));
        CHECK(contains(r.out, "out_conv (Conv2d 8->1 k3 s1 p1) = eps_theta"));
        CHECK(contains(r.out, "out_conv.weight              [1, 8, 3, 3]"));
        CHECK(contains(r.out, "by finite differences"));
        CHECK_FALSE(contains(r.out, "[FAIL]"));
        CHECK(contains(r.out, "checks passed\n"));
        CHECK(r.err.empty());
    }
}

TEST_CASE("step_through --data DIR: the batch is the first two training digits of DIR's IDX files") {
    fw::test::TempDir dir;
    // two 28 x 28 "digits": a vertical bar (label 1) and a horizontal bar (label 4)
    std::vector<uint8_t> pixels(2 * 28 * 28, 0), labels = {1, 4};
    for (int i = 4; i < 24; ++i) {
        pixels[(size_t)(i * 28 + 14)] = 255;
        pixels[(size_t)(28 * 28 + 14 * 28 + i)] = 255;
    }
    fw::write_idx_images(dir.file("train-images-idx3-ubyte"), 2, 28, 28, pixels.data());
    fw::write_idx_labels(dir.file("train-labels-idx1-ubyte"), 2, labels.data());
    ProgramRun r = run_program("step_through", {"--data", dir.path()}, nullptr, 120);
    INFO(shown(r));
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, "the first two training digits of " + dir.path() + " (labels 1 and 4)"));
    CHECK(contains(r.out, "checks passed\n"));
}

TEST_CASE("step_through: bad input is one line naming the flag or the folder, and exit 2") {
    SUBCASE("an unknown flag") {
        ProgramRun r = run_program("step_through", {"--steps", "3"});
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, "step_through: unknown flag --steps; allowed flags: --data, --seed, --help"));
        CHECK(r.out.empty());
    }
    SUBCASE("a --seed out of range") {
        ProgramRun r = run_program("step_through", {"--seed", "-1"});
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, "step_through: --seed -1: out of range"));
    }
    SUBCASE("a --data folder without IDX files") {
        fw::test::TempDir dir;
        ProgramRun r = run_program("step_through", {"--data", dir.path()});
        INFO(shown(r));
        CHECK(r.exit_code == 2);
        CHECK(contains(r.err, "step_through: "));
        CHECK(contains(r.err, dir.path() + "/train-images-idx3-ubyte"));
    }
}
