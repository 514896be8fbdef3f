// train_mnist --minutes: the step planner on a fake clock (a number the test moves), and a
// budgeted run of the trainer against the same run given its step count.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "core/error.h"
#include "examples/common/ddpm_trainer.h"
#include "examples/common/step_planner.h"
#include "nn/optim.h"
#include "tests/tempdir.h"
#include "tests/trainer_test_util.h"

using namespace fw;
using train::StepPlanner;

namespace {

// Runs a planner from step `step` at clock time 0 until its plan is done, the step after step s
// taking seconds_for(s) seconds; checks at every step that the plan never falls behind the step
// count and (under wsd) never moves the rate of a step already taken.
struct Run {
    int64_t steps = 0;       // steps done at the end
    double end_s = 0;        // the budget used at the end
    int64_t plan_at_final = 0;
    bool moved_after_final = false;
};
Run drive(StepPlanner& p, int64_t step, double decay_fraction, const std::function<double(int64_t)>& seconds_for,
          int64_t stop_at = -1) {
    Run r;
    double now = 0;
    int64_t before = p.planned();
    while (p.planned() == 0 || step < p.planned()) {
        if (step == stop_at) break;
        now += seconds_for(step + 1);
        const bool was_final = p.final();
        const int64_t plan = p.after_step(++step, now);
        REQUIRE(plan >= (plan == 0 ? 0 : step));  // no plan yet, or one that is not behind
        if (before > 0 && plan != before) {
            // the rates of steps 1..step are those of the old plan: both decays begin at or after `step`
            REQUIRE(nn::wsd_decay_start(plan, decay_fraction) >= step);
            REQUIRE(nn::wsd_decay_start(before, decay_fraction) >= step);
        }
        if (was_final && plan != before) r.moved_after_final = true;
        if (p.final() && r.plan_at_final == 0) r.plan_at_final = plan;
        before = plan;
        REQUIRE(step < 1'000'000);
    }
    r.steps = step;
    r.end_s = p.spent_s(now);
    return r;
}

StepPlanner::Options options(double budget_s) {
    StepPlanner::Options o;
    o.budget_s = budget_s;
    o.decay_fraction = 0.2;
    o.probe_steps = 10;
    o.window = 50;
    return o;
}

}  // namespace

TEST_CASE("at a constant speed the plan ends at the budget, within one step's time") {
    // (step times that are binary fractions, so that the fake clock adds them up exactly)
    for (double sec : {0.125, 0.375, 1.5, 0.7}) {
        StepPlanner p(options(300), 0, 0, 0, 0);
        const Run r = drive(p, 0, 0.2, [&](int64_t) { return sec; });
        INFO(sec << " s per step: " << r.steps << " steps, " << r.end_s << " s");
        CHECK(r.end_s <= 300 + 1e-6);
        CHECK(r.end_s > 300 - sec);
        CHECK(std::llabs(r.steps - (int64_t)std::floor(300 / sec + 1e-9)) <= 1);  // 0.7 s: rounding of the sums
        CHECK_FALSE(r.moved_after_final);
    }
}

TEST_CASE("the first step of a session is not timed: a slow warm-up does not shrink the plan") {
    StepPlanner p(options(100), 0, 0, 0, 0);
    const Run r = drive(p, 0, 0.2, [](int64_t s) { return s == 1 ? 5.0 : 0.125; });
    // 5 s for step 1, then 0.125 s a step: 760 more steps fit, ending at the budget
    CHECK(r.steps == 761);
    CHECK(r.end_s == 100.0);
}

TEST_CASE("a change of speed before the decay re-plans; after it the plan stays and the end time moves") {
    SUBCASE("twice as slow from step 200: fewer steps, still ending at the budget") {
        StepPlanner p(options(100), 0, 0, 0, 0);
        const Run r = drive(p, 0, 0.2, [](int64_t s) { return s <= 200 ? 0.125 : 0.25; });
        // 200 steps in 25 s, then 75 s at 0.25 s: 300 more
        CHECK(r.steps == 500);
        CHECK(r.end_s == 100.0);
    }
    SUBCASE("twice as fast from step 300: more steps, ending at the budget") {
        StepPlanner p(options(100), 0, 0, 0, 0);
        const Run r = drive(p, 0, 0.2, [](int64_t s) { return s <= 300 ? 0.25 : 0.125; });
        CHECK(r.steps == 300 + 200);  // 75 s, then 25 s at 0.125 s
        CHECK(r.end_s == 100.0);
    }
    SUBCASE("slower once the decay has begun: the plan is final, the run ends late") {
        StepPlanner p(options(100), 0, 0, 0, 0);
        // 800 steps planned at 0.125 s; the decay begins after step 640; from step 700 on, 0.25 s
        const Run r = drive(p, 0, 0.2, [](int64_t s) { return s <= 700 ? 0.125 : 0.25; });
        CHECK(r.plan_at_final == 800);
        CHECK(r.steps == 800);
        CHECK_FALSE(r.moved_after_final);
        CHECK(r.end_s == 112.5);  // 700 x 0.125 + 100 x 0.25
    }
    SUBCASE("much slower just before the decay: the decay begins now rather than change a rate taken") {
        StepPlanner p(options(100), 0, 0, 0, 0);
        // at 0.125 s the plan is 800 (decay after 640); from step 630 a step takes 2 s: the budget
        // left holds ~9 more steps, but the shortest plan whose decay has not begun (D(N) >= step,
        // N ~ step / 0.8) is longer: training runs over the budget by the decay's length
        const Run r = drive(p, 0, 0.2, [](int64_t s) { return s < 630 ? 0.125 : 2.0; });
        CHECK(nn::wsd_decay_start(r.steps, 0.2) >= 630);
        CHECK(nn::wsd_decay_start(r.steps, 0.2) <= 640);
        CHECK(r.end_s > 100);
    }
}

TEST_CASE("a resumed plan continues: the same steps and the same end as a run not stopped") {
    StepPlanner straight(options(60), 0, 0, 0, 0);
    const Run a = drive(straight, 0, 0.2, [](int64_t) { return 0.0625; });
    CHECK(a.steps == 960);

    StepPlanner first(options(60), 0, 0, 0, 0);
    const Run part = drive(first, 0, 0.2, [](int64_t) { return 0.0625; }, 300);  // stopped after step 300
    REQUIRE(part.steps == 300);
    // a new session: another clock origin; what was used and planned come from the checkpoint
    StepPlanner second(options(60), 300, part.end_s, first.planned(), 1234.5);
    CHECK(second.planned() == first.planned());
    double now = 1234.5;
    int64_t step = 300;
    while (step < second.planned()) second.after_step(++step, now += 0.0625);
    CHECK(step == a.steps);  // the window starts again; at a constant speed the same plan
    CHECK(second.spent_s(now) == a.end_s);
}

TEST_CASE("the planner refuses a bad budget, a plan behind the steps, and a skipped or repeated step") {
    CHECK_THROWS_AS(StepPlanner(options(0), 0, 0, 0, 0), Error);
    CHECK_THROWS_AS(StepPlanner(options(10), 50, 0, 40, 0), Error);
    StepPlanner p(options(10), 0, 0, 0, 0);
    p.after_step(1, 0.1);
    CHECK_THROWS_AS(p.after_step(3, 0.2), Error);
    CHECK_THROWS_AS(p.after_step(1, 0.2), Error);
}

TEST_CASE("a budgeted run trains the same weights as --steps N --lr-schedule wsd, also when resumed") {
    const data::Split s = test::synthetic_split();
    train::TrainConfig budgeted = test::tiny_config();
    budgeted.minutes = 0.05;  // 3 s at a fake 0.125 s per step: 24 steps
    budgeted.lr_schedule = "wsd";
    budgeted.steps = 0;
    StepPlanner::Options o = options(budgeted.minutes * 60);
    o.probe_steps = 4;
    o.window = 8;

    // the budgeted run, stopped after step 12 and resumed from its checkpoint
    fw::test::TempDir dir;
    const std::string ck = dir.path() + "/ck.safetensors";
    train::DdpmTrainer a(budgeted, s);
    StepPlanner pa(o, 0, 0, 0, 0);
    double now = 0;
    while (a.step_count() < 12) {
        a.step();
        const int64_t plan = pa.after_step(a.step_count(), now += 0.125);
        a.set_budget_spent(pa.spent_s(now));
        if (plan != a.config().steps) a.set_planned_steps(plan);
    }
    a.save(ck);
    train::TrainConfig resumed_cfg = budgeted;
    resumed_cfg.steps = a.config().steps;  // what train_mnist --resume reads from the checkpoint
    train::DdpmTrainer b(resumed_cfg, s);
    b.load(ck);
    CHECK(b.budget_spent() == 1.5);
    StepPlanner pb(o, b.step_count(), b.budget_spent(), b.config().steps, 100.0);
    now = 100.0;
    while (b.config().steps == 0 || b.step_count() < b.config().steps) {
        b.step();
        const int64_t plan = pb.after_step(b.step_count(), now += 0.125);
        if (plan != b.config().steps) b.set_planned_steps(plan);
    }
    CHECK(b.step_count() == 24);

    // the same run given its step count from the start
    train::TrainConfig fixed = test::tiny_config();
    fixed.steps = b.step_count();
    fixed.lr_schedule = "wsd";
    train::DdpmTrainer c(fixed, s);
    while (c.step_count() < fixed.steps) c.step();
    CHECK(test::same_tensors(b.model().parameters(), c.model().parameters()));
    CHECK(b.last_lr() == c.last_lr());

    // a plan that would change a rate already taken is refused
    train::DdpmTrainer d(budgeted, s);
    d.set_planned_steps(20);  // decay after step 16
    for (int i = 0; i < 18; ++i) d.step();
    CHECK_THROWS_AS(d.set_planned_steps(40), Error);
    CHECK_THROWS_AS(d.set_planned_steps(17), Error);  // behind the steps taken
}

TEST_CASE("a time budget with the cosine schedule is refused: its every rate depends on the count") {
    train::TrainConfig c = test::tiny_config();
    c.minutes = 1;
    c.steps = 0;
    c.lr_schedule = "cosine";
    const data::Split s = test::synthetic_split();
    CHECK_THROWS_WITH_AS(train::DdpmTrainer(c, s), doctest::Contains("wsd or constant"), Error);
}
