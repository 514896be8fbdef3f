// Watching the framework run: the op trace, the per-op profiler, the graph of a backward.
//
//   FW_TRACE=1          one line per op as it runs, forward and backward, in order: the op, its
//                       input and output shapes, the device, which kernel ran, the time.
//   FW_TRACE=2          the same, and below each op the statistics of its output (forward) or of
//                       its gradients (backward): min, max, mean, abs-max, NaN and Inf counts. The
//                       first NaN or Inf is marked, so it shows where a NaN first appears.
//   FW_PROFILE=1        a table when the program ends: per op and pass, calls, ms, share of the
//                       time, GFLOP/s and the fraction of the FMA peak (or GB/s). Programs with a
//                       --profile flag turn it on themselves and time their steps only.
//   FW_GRAPH=file.dot   the autograd graph of the program's first backward() as Graphviz DOT
//                       (core/graph_dot.h; `dot -Tpng file.dot -o graph.png` draws it).
//
// Where the switch is: in exactly two places, where ops run their forward kernels (run_op, used
// by every op in core/ops/) and where backward() runs each Node (run_backward in
// core/autograd.cpp). When nothing watches, run_op is one test of a global bool before it calls
// the kernels, and run_backward makes the same one test per Node: a training step is no slower
// (measured: 271 images/s before this file and after, UNet-S batch 64, 2 threads; README
// "Watching it run"). bench/bench_train_step.cpp's train_step_profiled runs the same step with
// the profiler on, for the cost of watching (2%, within the noise).
//
// What "which kernel" means: the kernel table's name (core/kernels/kernels.h: "scalar
// reference", "avx2", "avx512", "cuda") and what a kernel with several algorithms chose
// (core/kernels/kernel_note.h), e.g. "avx512: winograd F(4x4,3x3)" or "avx512: im2col + gemm 8x48".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fw {

enum class Pass { Forward, Backward, Update };

// --- the switches ----------------------------------------------------------------------------
// Read from FW_TRACE / FW_PROFILE / FW_GRAPH at start-up (a bad value is an error naming the
// variable and its allowed values); the functions below change them for tests and flags.
int trace_level();                       // 0 (off), 1 or 2
void set_trace_level(int level);
void set_trace_stream(std::ostream* os);  // where trace lines go (default std::cerr); nullptr: std::cerr
bool profiling();
// Turns the profiler on and starts its clock afresh (forgetting what it counted so far); the table
// is printed to std::cerr when the program ends, or earlier by print_profile().
void start_profile();
// Marking steps: the ops between profile_step_begin() and profile_step_end() are one step. Once a
// step is marked, the table holds the marked steps only (per step): what a program does between
// steps (a checkpoint, a sample grid) is left out, and so is everything after the last one.
void profile_step_begin();
void profile_step_end();
// The same as a scope: { ProfiledStep s; trainer.step(); }. Nothing when the profiler is off.
class ProfiledStep {
public:
    ProfiledStep() : on_(profiling()) { if (on_) profile_step_begin(); }
    ~ProfiledStep() { if (on_) profile_step_end(); }
    ProfiledStep(const ProfiledStep&) = delete;
    ProfiledStep& operator=(const ProfiledStep&) = delete;

private:
    bool on_;
};
void print_profile(std::ostream& os);      // the table; the program-end print is then skipped
void stop_profile();                       // off, its counts forgotten, nothing printed at exit

// What the table is made of, for tests and programs that print their own.
struct ProfileEntry {
    std::string op;
    Pass pass;
    int64_t calls = 0;
    double seconds = 0;
    double flops = -1;  // direct multiply-add FLOPs (conv2d, matmul, linear), else -1
    double bytes = 0;   // the least an op must move: each input and output once
};
struct ProfileSnapshot {
    std::vector<ProfileEntry> entries;  // by time, largest first
    double wall_seconds = 0;            // the marked steps' time, or (none marked) the time since
                                        // start_profile() or the first profiled op
    int64_t steps = 0;                  // marked steps
};
ProfileSnapshot profile_snapshot();

namespace watch_detail {
extern bool g_watching;  // trace_level() > 0 || profiling(): the one test the hot path makes
}
inline bool watching() { return watch_detail::g_watching; }

// --- one watched op --------------------------------------------------------------------------
// Made only when watching() is true (run_op below, run_backward, the optimizer): takes the start
// time; finish() takes the end time, prints the trace line and adds the op to the profile.
class OpWatch {
public:
    OpWatch(const char* op, Pass pass, Device device);
    ~OpWatch();
    OpWatch(const OpWatch&) = delete;
    OpWatch& operator=(const OpWatch&) = delete;

    bool active() const { return active_; }  // false when nested inside another watched op
    // What the trace line shows and the profile's FLOP/byte counts are computed from.
    void input(const Tensor& t);                   // forward: an input of the op
    void output(const Tensor& t);                  // forward: its output (stats at level 2)
    void gradient_in(const Tensor& dy);            // backward: dL/d(output)
    void gradient_out(const Tensor& dx, bool computed);  // backward: one per input, in order
    void describe(const std::string& what, double flops, double bytes);  // ops without tensors
    void finish();

private:
    const char* op_;
    Pass pass_;
    Device device_;
    bool active_;
    double start_s_ = 0;
    std::vector<Shape> in_shapes_;
    std::vector<Tensor> stats_;     // tensors whose statistics level 2 prints (after the op ran)
    std::vector<std::string> stats_names_;
    std::vector<bool> computed_;    // backward: which input gradients were computed
    Shape out_shape_;
    bool has_out_ = false;
    std::string what_;
    double flops_ = -1, bytes_ = -1;
};

// Runs an op's forward kernels (`kernel_calls`, a lambda) and, when something watches, traces and
// profiles them as one op. `inputs` (the first one defined) may hold undefined tensors (an absent
// bias): they are skipped.
template <typename KernelCalls>
void run_op(const char* op, std::initializer_list<const Tensor*> inputs, const Tensor& output,
            KernelCalls&& kernel_calls) {
    if (!watching()) {
        kernel_calls();
        return;
    }
    OpWatch w(op, Pass::Forward, (*inputs.begin())->device());
    for (const Tensor* t : inputs)
        if (t->defined()) w.input(*t);
    kernel_calls();
    w.output(output);  // read after the calls: a loss makes its 0-d output from the kernel's value
    w.finish();
}

// The same for an op with a list of inputs (concat).
template <typename KernelCalls>
void run_op(const char* op, const std::vector<Tensor>& inputs, const Tensor& output, KernelCalls&& kernel_calls) {
    if (!watching()) {
        kernel_calls();
        return;
    }
    OpWatch w(op, Pass::Forward, inputs.front().device());
    for (const Tensor& t : inputs) w.input(t);
    kernel_calls();
    w.output(output);
    w.finish();
}

// Runs kernels that are not an op on tensors (the optimizer, the EMA, gradient clipping) and,
// when something watches, traces and profiles them as one step of the Update pass. `what` says
// what they ran on; `bytes`: what they must move at least.
template <typename KernelCalls>
void run_update(const char* name, Device device, int64_t tensors, int64_t values, double bytes,
                KernelCalls&& kernel_calls) {
    if (!watching()) {
        kernel_calls();
        return;
    }
    OpWatch w(name, Pass::Update, device);
    w.describe(std::to_string(tensors) + " tensors, " + std::to_string(values) + " values", -1, bytes);
    kernel_calls();
    w.finish();
}

// FW_GRAPH: called by run_backward with the root of each backward(); writes the first one.
void graph_of_first_backward(const Tensor& root);

// Statistics of a tensor's values, as FW_TRACE=2 prints them.
struct ValueStats {
    int64_t count = 0, nan = 0, inf = 0;
    double min = 0, max = 0, mean = 0, abs_max = 0;  // over the finite values
};
ValueStats value_stats(const Tensor& t);
std::string to_string(const ValueStats& s);

}  // namespace fw
