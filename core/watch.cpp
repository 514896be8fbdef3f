#include "core/watch.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>

#include "core/cpu.h"
#include "core/cuda/backend.h"
#include "core/error.h"
#include "core/fma_peak.h"
#include "core/graph_dot.h"
#include "core/kernels/kernel_note.h"
#include "core/kernels/kernels.h"
#include "core/parallel.h"

namespace fw {

// --- the switches, from the environment ---------------------------------------------------------

namespace {

struct Settings {
    int trace = 0;
    bool profile = false;
    std::string graph;
    std::string error;  // a bad value: thrown by the first watched op (static init cannot throw)
};

Settings read_environment() {
    Settings s;
    if (const char* v = std::getenv("FW_TRACE"); v && *v) {
        if (!std::strcmp(v, "0") || !std::strcmp(v, "1") || !std::strcmp(v, "2")) s.trace = v[0] - '0';
        else s.error = std::string("FW_TRACE='") + v + "': allowed values are 0 (off), 1 (one line per op), 2 (and value statistics)";
    }
    if (const char* v = std::getenv("FW_PROFILE"); v && *v) {
        if (!std::strcmp(v, "0") || !std::strcmp(v, "1")) s.profile = v[0] == '1';
        else s.error = std::string("FW_PROFILE='") + v + "': allowed values are 0 (off) and 1 (a per-op table at exit)";
    }
    if (const char* v = std::getenv("FW_GRAPH")) s.graph = v;
    return s;
}

Settings g_settings = read_environment();
std::ostream* g_trace_stream = nullptr;
bool g_first_bad_seen = false;  // FW_TRACE=2 has marked the first NaN/Inf (set_trace_level resets it)
thread_local int t_depth = 0;  // > 0 inside a watched op: ops it calls are part of it, not watched again

double now_s() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// --- the profile -------------------------------------------------------------------------------

struct ProfileRow {
    int64_t calls = 0;
    double seconds = 0, flops = 0, bytes = 0;
    bool flops_known = true;
};

struct Profile {
    std::mutex mu;
    // Ops of the marked steps (`pending` is merged into `rows` at each profile_step_end()), and
    // ops outside them (kept in `pending` while no step is marked: then they are the table).
    std::map<std::pair<std::string, Pass>, ProfileRow> rows, pending;
    double start_s = -1;  // the clock starts at start_profile(), else at the first profiled op
    double step_begin_s = -1;  // the step being marked began then
    double steps_seconds = 0;  // the marked steps' time in all
    int64_t steps = 0;
    bool printed = false;
    bool at_exit_registered = false;
    std::vector<Device> devices;
};

Profile& profile() {
    static Profile* p = new Profile;  // never destroyed: the at-exit print may run after statics die
    return *p;
}

void print_profile_at_exit() {
    if (!g_settings.profile || profile().printed) return;
    print_profile(std::cerr);
}

void register_at_exit() {
    Profile& p = profile();
    if (!p.at_exit_registered) {
        p.at_exit_registered = true;
        std::atexit(print_profile_at_exit);
    }
}

const char* pass_name(Pass p) {
    switch (p) {
        case Pass::Forward: return "forward";
        case Pass::Backward: return "backward";
        case Pass::Update: return "update";
    }
    return "?";
}

const char* pass_tag(Pass p) {
    switch (p) {
        case Pass::Forward: return "fwd";
        case Pass::Backward: return "bwd";
        case Pass::Update: return "upd";
    }
    return "?";
}

std::string shape_str(const Shape& s) {
    std::string r = "(";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
    return r + ")";
}

// The FLOPs of the ops that are mostly multiply-adds (2 per multiply-add; the direct-convolution
// count for conv2d whatever algorithm ran, so Winograd can show more than the FMA peak), and
// otherwise the bytes an op must move at least: each input and output read or written once, a
// gradient read and written (+=). `dx_computed` (backward): which input gradients were computed.
void op_cost(const char* op, Pass pass, const std::vector<Shape>& in, const Shape& out,
             const std::vector<bool>& dx_computed, double& flops, double& bytes) {
    flops = -1;
    auto elems = [](const Shape& s) { return (double)numel(s); };
    auto computed = [&](size_t i) { return i < dx_computed.size() && dx_computed[i]; };
    if (!std::strcmp(op, "conv2d") && in.size() >= 2 && in[0].size() == 4 && in[1].size() == 4) {
        const double per_pass = 2.0 * elems(out) * (double)(in[1][1] * in[1][2] * in[1][3]);
        flops = pass == Pass::Forward ? per_pass : per_pass * (computed(0) + computed(1));
    } else if ((!std::strcmp(op, "matmul") || !std::strcmp(op, "linear")) && in.size() >= 2 && !in[0].empty()) {
        const double per_pass = 2.0 * elems(out) * (double)in[0].back();  // (rows x cols of out) x K
        flops = pass == Pass::Forward ? per_pass : per_pass * (computed(0) + computed(1));
    }
    double b = elems(out);
    for (size_t i = 0; i < in.size(); ++i) b += elems(in[i]) + (pass == Pass::Backward && computed(i) ? 2 * elems(in[i]) : 0);
    bytes = 4.0 * b;
}

}  // namespace

// Watching when tracing or profiling, and while a bad FW_ value waits to be reported.
static bool any_watch() { return g_settings.trace > 0 || g_settings.profile || !g_settings.error.empty(); }

namespace watch_detail {
bool g_watching = any_watch();
}

static void update_watching() { watch_detail::g_watching = any_watch(); }

int trace_level() { return g_settings.trace; }

void set_trace_level(int level) {
    if (level < 0 || level > 2) fail("set_trace_level: ", level, " is not 0, 1 or 2");
    g_settings.trace = level;
    g_first_bad_seen = false;
    update_watching();
}

void set_trace_stream(std::ostream* os) { g_trace_stream = os; }

bool profiling() { return g_settings.profile; }

// Forgets everything counted so far (the caller holds p.mu).
static void forget_counts(Profile& p) {
    p.rows.clear();
    p.pending.clear();
    p.devices.clear();
    p.steps = 0;
    p.start_s = -1;
    p.step_begin_s = -1;
    p.steps_seconds = 0;
}

void start_profile() {
    g_settings.profile = true;
    update_watching();
    Profile& p = profile();
    std::lock_guard<std::mutex> lock(p.mu);
    forget_counts(p);
    p.printed = false;
    p.start_s = now_s();
    register_at_exit();
}

void stop_profile() {
    g_settings.profile = false;
    update_watching();
    Profile& p = profile();
    std::lock_guard<std::mutex> lock(p.mu);
    forget_counts(p);
}

ProfileSnapshot profile_snapshot() {
    Profile& p = profile();
    std::lock_guard<std::mutex> lock(p.mu);
    ProfileSnapshot snap;
    const bool marked = p.steps > 0;
    for (const auto& [key, r] : marked ? p.rows : p.pending)
        snap.entries.push_back({key.first, key.second, r.calls, r.seconds, r.flops_known && r.flops > 0 ? r.flops : -1.0, r.bytes});
    std::sort(snap.entries.begin(), snap.entries.end(), [](const ProfileEntry& a, const ProfileEntry& b) { return a.seconds > b.seconds; });
    snap.wall_seconds = marked ? p.steps_seconds : p.start_s < 0 ? 0.0 : now_s() - p.start_s;
    snap.steps = p.steps;
    return snap;
}

void profile_step_begin() {
    if (!g_settings.profile) return;
    Profile& p = profile();
    std::lock_guard<std::mutex> lock(p.mu);
    p.pending.clear();  // what ran since the last step is not part of a step
    p.step_begin_s = now_s();
}

void profile_step_end() {
    if (!g_settings.profile) return;
    Profile& p = profile();
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.step_begin_s < 0) fail("profile_step_end: no step began (profile_step_begin)");
    for (const auto& [key, add] : p.pending) {
        ProfileRow& r = p.rows[key];
        r.calls += add.calls;
        r.seconds += add.seconds;
        r.flops += add.flops;
        r.flops_known = r.flops_known && add.flops_known;
        r.bytes += add.bytes;
    }
    p.pending.clear();
    ++p.steps;
    p.steps_seconds += now_s() - p.step_begin_s;
    p.step_begin_s = -1;
}

// --- one watched op -----------------------------------------------------------------------------

OpWatch::OpWatch(const char* op, Pass pass, Device device)
    : op_(op), pass_(pass), device_(device), active_(t_depth == 0) {
    if (!g_settings.error.empty()) fail(g_settings.error);
    ++t_depth;
    if (!active_) return;
    if (device_ == Device::CUDA) cuda::synchronize();  // time this op's kernels, not the queue before it
    clear_kernel_notes();
    start_s_ = now_s();
}

OpWatch::~OpWatch() { --t_depth; }

void OpWatch::input(const Tensor& t) {
    if (active_) in_shapes_.push_back(t.shape());
}

void OpWatch::output(const Tensor& t) {
    if (!active_ || !t.defined()) return;
    out_shape_ = t.shape();
    has_out_ = true;
    if (g_settings.trace >= 2) {
        stats_.push_back(t);
        stats_names_.push_back("out");
    }
}

void OpWatch::gradient_in(const Tensor& dy) {
    if (!active_) return;
    out_shape_ = dy.shape();
    has_out_ = true;
    if (g_settings.trace >= 2) {
        stats_.push_back(dy);
        stats_names_.push_back("dy");
    }
}

void OpWatch::gradient_out(const Tensor& dx, bool computed) {
    if (!active_) return;
    in_shapes_.push_back(dx.defined() ? dx.shape() : Shape{});
    computed_.push_back(computed);
    if (g_settings.trace >= 2 && computed) {
        stats_.push_back(dx);
        stats_names_.push_back("d" + std::to_string(computed_.size() - 1));
    }
}

void OpWatch::describe(const std::string& what, double flops, double bytes) {
    what_ = what;
    flops_ = flops;
    bytes_ = bytes;
}

void OpWatch::finish() {
    if (!active_) return;
    if (device_ == Device::CUDA) cuda::synchronize();
    const double end_s = now_s(), seconds = end_s - start_s_;
    const std::string notes = kernel_notes();
    double flops = flops_, bytes = bytes_;
    if (what_.empty()) op_cost(op_, pass_, in_shapes_, out_shape_, computed_, flops, bytes);

    if (g_settings.profile) {
        Profile& p = profile();
        std::lock_guard<std::mutex> lock(p.mu);
        if (p.start_s < 0) {
            p.start_s = start_s_;
            register_at_exit();
        }
        if (std::find(p.devices.begin(), p.devices.end(), device_) == p.devices.end()) p.devices.push_back(device_);
        ProfileRow& r = p.pending[{op_, pass_}];
        ++r.calls;
        r.seconds += seconds;
        if (flops >= 0) r.flops += flops;
        else r.flops_known = false;
        r.bytes += bytes;
    }
    if (g_settings.trace == 0) return;

    // "[trace] fwd  conv2d          (64,32,28,28) (32,32,3,3) (32) -> (64,32,28,28)   cpu avx512: winograd F(4x4,3x3)   2.457 ms"
    std::ostringstream line;
    std::string shapes;
    if (!what_.empty()) {
        shapes = what_;
    } else if (pass_ == Pass::Backward) {
        shapes = "dy " + shape_str(out_shape_) + " ->";
        for (size_t i = 0; i < in_shapes_.size(); ++i) shapes += " " + (computed_[i] ? "d" + shape_str(in_shapes_[i]) : std::string("-"));
    } else {
        for (const Shape& s : in_shapes_) shapes += shape_str(s) + " ";
        shapes += "-> " + (has_out_ ? shape_str(out_shape_) : std::string("?"));
    }
    const Kernels& k = kernels_for(device_);
    std::string kernel = std::string(device_name(device_)) + " " + k.name;
    if (!notes.empty()) kernel += ": " + notes;
    char head[64], tail[32];
    std::snprintf(head, sizeof head, "[trace] %s  %-16s ", pass_tag(pass_), op_);
    std::snprintf(tail, sizeof tail, "%9.3f ms", seconds * 1e3);
    line << head;
    line.width(56);
    line << std::left << shapes << "  ";
    line.width(60);
    line << std::left << kernel << tail << "\n";
    for (size_t i = 0; i < stats_.size(); ++i) {
        const ValueStats s = value_stats(stats_[i]);
        line << "[trace]        " << stats_names_[i] << " " << to_string(s);
        if ((s.nan || s.inf) && !g_first_bad_seen) {
            g_first_bad_seen = true;
            line << "   <-- the first NaN/Inf of the run";
        }
        line << "\n";
    }
    std::ostream& os = g_trace_stream ? *g_trace_stream : std::cerr;
    os << line.str() << std::flush;
}

// --- statistics ----------------------------------------------------------------------------------

ValueStats value_stats(const Tensor& t) {
    ValueStats s;
    const std::vector<float> v = t.to_vector();
    s.count = (int64_t)v.size();
    double sum = 0;
    int64_t finite = 0;
    for (float x : v) {
        if (std::isnan(x)) { ++s.nan; continue; }
        if (std::isinf(x)) { ++s.inf; continue; }
        if (finite == 0) s.min = s.max = x;
        s.min = std::min(s.min, (double)x);
        s.max = std::max(s.max, (double)x);
        s.abs_max = std::max(s.abs_max, (double)std::fabs(x));
        sum += x;
        ++finite;
    }
    s.mean = finite ? sum / (double)finite : 0.0;
    return s;
}

std::string to_string(const ValueStats& s) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "min %.4g  max %.4g  mean %.4g  absmax %.4g  nan %lld  inf %lld", s.min, s.max,
                  s.mean, s.abs_max, (long long)s.nan, (long long)s.inf);
    return buf;
}

// --- the table -----------------------------------------------------------------------------------

void print_profile(std::ostream& os) {
    bool cpu = false;
    {
        Profile& p = profile();
        std::lock_guard<std::mutex> lock(p.mu);
        p.printed = true;
        cpu = std::find(p.devices.begin(), p.devices.end(), Device::CPU) != p.devices.end();
    }
    const ProfileSnapshot snap = profile_snapshot();
    const double wall = snap.wall_seconds;
    double in_ops = 0;
    for (const ProfileEntry& e : snap.entries) in_ops += e.seconds;
    const int threads = num_threads();
    const double peak = cpu ? measure_fma_peak_gflops(threads) : 0.0;  // measured after the timed part
    const bool per_step = snap.steps > 0;
    const double div = per_step ? (double)snap.steps : 1.0;

    char buf[256];
    std::snprintf(buf, sizeof buf, "[profile] %s%lld step%s, %.1f ms in all; CPU path %s, %d thread%s; FMA peak %.0f GFLOP/s (measured at exit)\n",
                  per_step ? "" : "no steps marked, totals over ", (long long)std::max<int64_t>(snap.steps, 1),
                  snap.steps == 1 || !per_step ? "" : "s", wall * 1e3, cpu_path_name(cpu_path()), threads, threads == 1 ? "" : "s", peak);
    os << buf;
    std::snprintf(buf, sizeof buf, "%-18s %-8s %10s %10s %7s %9s %8s %8s\n", "op", "pass", per_step ? "calls/step" : "calls",
                  per_step ? "ms/step" : "ms", "share", "GFLOP/s", "of peak", "GB/s");
    os << buf;
    for (const ProfileEntry& e : snap.entries) {
        const double ms = e.seconds * 1e3 / div, share = wall > 0 ? 100.0 * e.seconds / wall : 0.0;
        std::string rate = "", frac = "", gbs = "";
        if (e.flops > 0 && e.seconds > 0) {
            const double g = e.flops / e.seconds / 1e9;
            std::snprintf(buf, sizeof buf, "%.1f", g);
            rate = buf;
            if (peak > 0) {
                std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * g / peak);
                frac = buf;
            }
        } else if (e.bytes > 0 && e.seconds > 0) {
            std::snprintf(buf, sizeof buf, "%.1f", e.bytes / e.seconds / 1e9);
            gbs = buf;
        }
        std::snprintf(buf, sizeof buf, "%-18s %-8s %10.1f %10.3f %6.1f%% %9s %8s %8s\n", e.op.c_str(), pass_name(e.pass),
                      (double)e.calls / div, ms, share, rate.c_str(), frac.c_str(), gbs.c_str());
        os << buf;
    }
    const double other = std::max(0.0, wall - in_ops);
    std::snprintf(buf, sizeof buf, "%-18s %-8s %10s %10.3f %6.1f%%   (outside every op: allocation, data, the program's own work)\n", "other", "",
                  "", other * 1e3 / div, wall > 0 ? 100.0 * other / wall : 0.0);
    os << buf;
    std::snprintf(buf, sizeof buf, "%-18s %-8s %10s %10.3f %6.1f%%\n", "total", "", "", wall * 1e3 / div, wall > 0 ? 100.0 : 0.0);
    os << buf;
    os << "[profile] GFLOP/s: conv2d, matmul and linear, counted as direct multiply-adds (Winograd does fewer, so it can\n"
          "          pass 100% of peak); GB/s: the other ops, each input and output moved once (a lower bound).\n"
       << std::flush;
}

// --- FW_GRAPH --------------------------------------------------------------------------------------

void graph_of_first_backward(const Tensor& root) {
    static bool written = false;
    if (g_settings.graph.empty() || written) return;
    written = true;
    write_dot(root, g_settings.graph);
    std::cerr << "[graph] the autograd graph of the first backward() -> " << g_settings.graph << "\n";
}

}  // namespace fw
