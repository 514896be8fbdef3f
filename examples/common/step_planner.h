// train_mnist --minutes M: how many optimizer steps fit in a wall-clock budget.
//
// The run measures its own speed (seconds per step over the last `window` steps, everything in
// the training loop included: checkpoints, sample grids) and after every step plans
//
//   planned = step + floor((budget - spent) / seconds_per_step)
//
// so that training ends at the budget. The plan moves with the speed, under two rules:
//   - it never ends before the step just finished (no step is re-run or skipped: steps only count up);
//   - the learning rate of a step already taken must not change. The "wsd" schedule
//     (nn::warmup_stable_decay_lr) keeps the rate flat until D = wsd_decay_start(planned), so the
//     plan may move freely while step < D, and no new plan may put D behind the current step
//     (a slower speed near D makes the decay start now instead). Once step >= D the plan is final:
//     a later change of speed moves the end time, not the step count.
// Then the finished run is the run `--steps planned --lr-schedule wsd` would have trained, bit for bit.
//
// Time comes in as a number (seconds from any origin) rather than from a clock, so a test can
// drive the planner with a fake one. A resumed run passes what it had used (`spent_s`) and its plan.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>

namespace fw::train {

class StepPlanner {
public:
    struct Options {
        double budget_s = 0;         // the training budget, in seconds (the final samples are not part of it)
        double decay_fraction = 0.2; // the share of the plan over which the rate decays (0: no decay)
        int64_t probe_steps = 10;    // steps of this session timed before the first plan
        // the speed is measured over the last `window` steps: ~40 s of UNet-S steps, long enough that
        // the step-to-step spread (+-3% over 50 steps) does not move the plan back and forth
        int64_t window = 300;
    };

    // A run at `step` steps done (0 for a new run) that has used `spent_s` of its budget in earlier
    // sessions and planned `planned` steps (0: no plan yet), starting now at clock time now_s.
    StepPlanner(const Options& o, int64_t step, double spent_s, int64_t planned, double now_s);

    // Step `step` (the one after the last) has finished at clock time now_s; returns the plan
    // (0 while the first `probe_steps` of this session are being timed).
    int64_t after_step(int64_t step, double now_s);

    int64_t planned() const { return planned_; }
    bool final() const;                                 // the decay has begun: the plan no longer moves
    double spent_s(double now_s) const { return spent_before_ + (now_s - start_s_); }
    double left_s(double now_s) const { return opts_.budget_s - spent_s(now_s); }
    double seconds_per_step() const { return seconds_per_step_; }  // 0 until measured

private:
    Options opts_;
    double spent_before_, start_s_;
    int64_t step_, planned_;
    double seconds_per_step_ = 0;
    std::deque<std::pair<int64_t, double>> ends_;  // (step, clock time at its end), the last window + 1
};

}  // namespace fw::train
