#include "examples/common/step_planner.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "nn/optim.h"

namespace fw::train {

StepPlanner::StepPlanner(const Options& o, int64_t step, double spent_s, int64_t planned, double now_s)
    : opts_(o), spent_before_(spent_s), start_s_(now_s), step_(step), planned_(planned) {
    if (!(o.budget_s > 0)) fail("StepPlanner: the budget must be positive, got ", o.budget_s, " s");
    if (!(o.decay_fraction >= 0 && o.decay_fraction < 1))
        fail("StepPlanner: decay fraction ", o.decay_fraction, " is not in [0, 1)");
    if (o.probe_steps < 1 || o.window < o.probe_steps)
        fail("StepPlanner: need 1 <= probe_steps <= window, got ", o.probe_steps, " and ", o.window);
    if (planned != 0 && planned < step) fail("StepPlanner: the plan (", planned, " steps) is behind step ", step);
}

bool StepPlanner::final() const {
    return planned_ > 0 && step_ > nn::wsd_decay_start(planned_, opts_.decay_fraction);
}

int64_t StepPlanner::after_step(int64_t step, double now_s) {
    if (step != step_ + 1) fail("StepPlanner: step ", step, " after step ", step_, ": steps are counted one by one");
    step_ = step;
    // The speed: the window's steps over its time. The session's first step is not in it (its end
    // is the window's first point): it warms up allocations and caches.
    ends_.emplace_back(step, now_s);
    if ((int64_t)ends_.size() > opts_.window + 1) ends_.pop_front();
    const int64_t timed = ends_.back().first - ends_.front().first;
    if (timed > 0) seconds_per_step_ = (ends_.back().second - ends_.front().second) / (double)timed;
    if (timed < opts_.probe_steps || final() || !(seconds_per_step_ > 0)) return planned_;

    // planned = step + the whole steps the budget left holds at this speed
    const double left = std::max(0.0, left_s(now_s));
    const int64_t fits = step + (int64_t)std::floor(left / seconds_per_step_);
    // The shortest plan whose decay has not begun before this step (D(N) >= step; D is
    // non-decreasing in N): the rate of every step taken so far stays what it was.
    int64_t shortest = std::max<int64_t>(step, (int64_t)std::floor((double)step / (1.0 - opts_.decay_fraction)) - 2);
    while (nn::wsd_decay_start(shortest, opts_.decay_fraction) < step) ++shortest;
    planned_ = std::max(fits, shortest);
    return planned_;
}

}  // namespace fw::train
