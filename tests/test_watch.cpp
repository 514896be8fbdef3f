// Claims about watching the framework run (core/watch.h, core/graph_dot.h): the op trace prints
// one line per op, forward and backward, in order, with shapes and kernel; FW_TRACE=2 shows value
// statistics and marks the first NaN; the profiler counts every op of a training step and its
// rows add up to the step; the DOT picture of a graph has one node per op and per leaf, named,
// with edges in data-flow order; a bad FW_TRACE / FW_PROFILE value is refused by a program.
#include <doctest/doctest.h>

#include <cstdlib>
#include <limits>
#include <filesystem>
#include <regex>
#include <sstream>

#include "core/autograd.h"
#include "core/cpu.h"
#include "core/graph_dot.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/watch.h"
#include "nn/layers.h"
#include "nn/unet.h"
#include "tests/file_util.h"
#include "tests/run_program.h"
#include "tests/tempdir.h"

using namespace fw;

namespace {

// Traces into a string at `level` on the scalar path (stable kernel names) while alive.
struct TraceCapture {
    std::ostringstream out;
    CpuPath path = cpu_path();
    explicit TraceCapture(int level) {
        set_cpu_path(CpuPath::Scalar);
        set_trace_stream(&out);
        set_trace_level(level);
    }
    ~TraceCapture() {
        set_trace_level(0);
        set_trace_stream(nullptr);
        set_cpu_path(path);
    }
    // The lines, with the time column ("   0.012 ms") cut off and trailing blanks removed.
    std::vector<std::string> lines() const {
        std::vector<std::string> r;
        std::istringstream in(out.str());
        for (std::string l; std::getline(in, l);) {
            l = std::regex_replace(l, std::regex(" +[0-9]+\\.[0-9]{3} ms$"), "");
            l = std::regex_replace(l, std::regex(" +$"), "");
            r.push_back(l);
        }
        return r;
    }
};

Tensor named_leaf(Shape shape, std::vector<float> v, const char* name) {
    Tensor t = Tensor::from_vector(std::move(shape), std::move(v)).set_requires_grad(true);
    t.impl()->name = name;
    return t;
}

std::string squeeze_blanks(std::string s) { return std::regex_replace(s, std::regex(" +"), " "); }

int count(const std::string& s, const std::string& what) {
    int n = 0;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("FW_TRACE=1: one line per op, forward then backward, with shapes and the kernel") {
    Tensor x = named_leaf({2, 3}, {1, -2, 3, -4, 5, -6}, "x");
    Tensor w = named_leaf({4, 3}, std::vector<float>(12, 0.5f), "w");
    std::vector<std::string> got;
    {
        TraceCapture trace(1);
        Tensor y = sum(relu(linear(x, w, Tensor())));  // three ops
        y.backward();
        got = trace.lines();
        CHECK(count(trace.out.str(), " ms\n") == 6);  // each line ends with its time (cut from `got`)
    }
    const std::vector<std::string> expected = {
        "[trace] fwd linear (2,3) (4,3) -> (2,4) cpu scalar reference",
        "[trace] fwd relu (2,4) -> (2,4) cpu scalar reference",
        "[trace] fwd sum (2,4) -> () cpu scalar reference",
        "[trace] bwd sum dy () -> d(2,4) cpu scalar reference",
        "[trace] bwd relu dy (2,4) -> d(2,4) cpu scalar reference",
        "[trace] bwd linear dy (2,4) -> d(2,3) d(4,3) cpu scalar reference",
    };
    REQUIRE(got.size() == expected.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(squeeze_blanks(got[i]) == expected[i]);
}

TEST_CASE("FW_TRACE: an op inside another watched op is not traced twice; off, nothing is printed") {
    Tensor x = named_leaf({4}, {1, 2, 3, 4}, "x");
    std::ostringstream out;
    set_trace_stream(&out);
    (void)sum(square(x));  // trace level 0: no line
    set_trace_stream(nullptr);
    CHECK(out.str().empty());
    CHECK_FALSE(watching());
    // cross_entropy is log_softmax then nll_loss: two ops, two lines, not three.
    Tensor logits = named_leaf({2, 3}, {1, 2, 3, 3, 2, 1}, "logits");
    std::vector<std::string> got;
    {
        TraceCapture trace(1);
        (void)cross_entropy(logits, {2, 0});
        got = trace.lines();
    }
    REQUIRE(got.size() == 2);
    CHECK(got[0].find("fwd  log_softmax") != std::string::npos);
    CHECK(got[1].find("fwd  nll_loss") != std::string::npos);
}

TEST_CASE("FW_TRACE=2: statistics of each output and gradient; the first NaN is marked once") {
    // log(x) of x = (1, e, -1, 0): out = (0, 1, NaN, -Inf); then times 2 (NaN again, not marked).
    Tensor x = named_leaf({4}, {1.0f, 2.718281828f, -1.0f, 0.0f}, "x");
    std::vector<std::string> got;
    {
        TraceCapture trace(2);
        Tensor y = log(x) * 2.0f;
        got = trace.lines();
    }
    REQUIRE(got.size() == 4);
    CHECK(got[0].find("fwd  log") != std::string::npos);
    // finite values 0 and 1: min 0, max 1, mean 0.5, absmax 1; one NaN, one Inf
    CHECK(squeeze_blanks(got[1]) ==
          "[trace] out min 0 max 1 mean 0.5 absmax 1 nan 1 inf 1 <-- the first NaN/Inf of the run");
    CHECK(got[2].find("fwd  mul") != std::string::npos);
    CHECK(squeeze_blanks(got[3]) == "[trace] out min 0 max 2 mean 1 absmax 2 nan 1 inf 1");

    // Backward: the gradient statistics, dy first, then each computed input gradient.
    Tensor a = named_leaf({3}, {1, 2, 3}, "a");
    {
        TraceCapture trace(2);
        sum(a * 3.0f).backward();
        got = trace.lines();
    }
    // fwd mul + out, fwd sum + out, bwd sum + dy + d0, bwd mul + dy + d0
    REQUIRE(got.size() == 10);
    CHECK(got[4].find("bwd  sum") != std::string::npos);
    CHECK(squeeze_blanks(got[5]) == "[trace] dy min 1 max 1 mean 1 absmax 1 nan 0 inf 0");
    CHECK(squeeze_blanks(got[9]) == "[trace] d0 min 3 max 3 mean 3 absmax 3 nan 0 inf 0");
}

TEST_CASE("value_stats counts NaN and Inf apart and takes min, max, mean over the finite values") {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    ValueStats s = value_stats(Tensor::from_vector({6}, {-3, 1, nan, inf, -inf, 5}));
    CHECK(s.count == 6);
    CHECK(s.nan == 1);
    CHECK(s.inf == 2);
    CHECK(s.min == -3);
    CHECK(s.max == 5);
    CHECK(s.mean == doctest::Approx(1.0));
    CHECK(s.abs_max == 5);
}

TEST_CASE("write_dot: the diamond x -> (2x, x^2) -> sum has one node per op, the leaf named, edges input -> op") {
    Tensor x = named_leaf({3}, {1, 2, 3}, "x");
    Tensor y = x * 2.0f + square(x);
    const std::string dot = graph_dot(y);
    const std::string expected =
        "digraph autograd {\n"
        "  rankdir=TB;\n"
        "  node [fontname=\"Helvetica\", fontsize=10];\n"
        "  t0 [label=\"x\\n(3)\", shape=ellipse, style=filled, fillcolor=\"#fde3b0\"];\n"
        "  t1 [label=\"mul_scalar\\n(3)\", shape=box, style=filled, fillcolor=\"#dbe8f7\"];\n"
        "  t2 [label=\"square\\n(3)\", shape=box, style=filled, fillcolor=\"#dbe8f7\"];\n"
        "  t3 [label=\"add\\n(3)\", shape=box, style=filled, fillcolor=\"#dbe8f7\"];\n"
        "  t0 -> t1;\n"
        "  t0 -> t2;\n"
        "  t1 -> t3;\n"
        "  t2 -> t3;\n"
        "}\n";
    CHECK(dot == expected);
}

TEST_CASE("write_dot: a two-layer MLP's graph names its parameters and writes the file atomically") {
    Generator gen(7);
    nn::Linear fc1(3, 5, gen), fc2(5, 2, gen);
    // Standalone modules have no path: their parameters are "weight" / "bias". In a model they
    // are "enc0.conv1.weight" and so on (the UNet case below).
    Tensor x = Tensor::from_vector({4, 3}, std::vector<float>(12, 0.25f));
    Tensor loss = mse_loss(fc2.forward(silu(fc1.forward(x))), Tensor::zeros({4, 2}));
    const std::string dot = graph_dot(loss);
    // 4 ops (linear, silu, linear, mse_loss) + 4 parameters + the input x + the target
    CHECK(count(dot, "shape=box") == 4);
    CHECK(count(dot, "fillcolor=\"#fde3b0\"") == 4);
    CHECK(count(dot, "label=\"input\\n(4,3)\"") == 1);
    CHECK(count(dot, "label=\"weight\\n(5,3)\"") == 1);
    CHECK(count(dot, "label=\"bias\\n(2)\"") == 1);
    CHECK(count(dot, "label=\"mse_loss\\n()\"") == 1);
    CHECK(count(dot, " -> ") == 3 + 1 + 3 + 2);  // linear: x, W, b; silu: 1; linear: 3; mse: pred, target

    test::TempDir dir;
    const std::string path = dir.path() + "/mlp.dot";
    write_dot(loss, path);
    CHECK(test::read_bytes(path) == dot);
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
    CHECK_THROWS_WITH(write_dot(loss, dir.path() + "/no/such/dir/g.dot"), doctest::Contains("no/such/dir/g.dot"));
}

TEST_CASE("the profiler counts every op of a tiny UNet training step, and its rows add up to the step") {
    Generator gen(11);
    nn::UNet model(nn::UNetConfig::tiny(), gen);
    Tensor x = randn({2, 1, 8, 8}, gen);
    Tensor target = randn({2, 1, 8, 8}, gen);
    const std::vector<int> t = {5, 500};

    // How many ops one step records: the boxes of its graph.
    Tensor probe = mse_loss(model.forward(x, t), target);
    const int ops_in_graph = count(graph_dot(probe), "shape=box");
    int convs = 0;
    for (const auto& p : model.parameters()) convs += p.second.dim() == 4;
    probe = Tensor();

    start_profile();
    const int steps = 3;
    for (int s = 0; s < steps; ++s) {
        (void)sum(x);  // between steps: not part of the table
        ProfiledStep step;
        Tensor loss = mse_loss(model.forward(x, t), target);
        loss.backward();
    }
    (void)sum(x);  // after the last marked step: not part of the table
    const ProfileSnapshot snap = profile_snapshot();
    std::ostringstream table;
    print_profile(table);
    stop_profile();

    CHECK(snap.steps == steps);
    int64_t backward_calls = 0, conv_forward = 0, sum_calls = 0;
    double in_ops = 0;
    for (const ProfileEntry& e : snap.entries) {
        in_ops += e.seconds;
        if (e.pass == Pass::Backward) backward_calls += e.calls;
        if (e.op == "conv2d" && e.pass == Pass::Forward) conv_forward += e.calls;
        if (e.op == "sum") sum_calls += e.calls;
        if (e.op == "conv2d") CHECK(e.flops > 0);
    }
    CHECK(backward_calls == (int64_t)ops_in_graph * steps);  // every Node of every step
    CHECK(conv_forward == (int64_t)convs * steps);
    CHECK(sum_calls == 0);
    CHECK(in_ops <= snap.wall_seconds);
    CHECK(in_ops > 0);

    // The printed shares: the rows and "other" make 100% of the steps' time (to rounding: 0.1% per row).
    double shares = 0;
    int rows = 0;
    std::istringstream in(table.str());
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (line.rfind("total", 0) == 0 || line.rfind("[profile]", 0) == 0 || line.rfind("op ", 0) == 0) continue;
        if (std::regex_search(line, m, std::regex(" ([0-9]+\\.[0-9])% "))) shares += std::stod(m[1]), ++rows;
    }
    CHECK(rows == (int)snap.entries.size() + 1);
    CHECK(shares == doctest::Approx(100.0).epsilon(0.0006 * rows));
    CHECK(table.str().find("other") != std::string::npos);
    CHECK(table.str().find("3 steps") != std::string::npos);
}

TEST_CASE("a bad FW_TRACE or FW_PROFILE value: the program says which variable and its allowed values") {
    ::setenv("FW_TRACE", "3", 1);
    test::ProgramRun r = test::run_program("step_through", {});
    ::unsetenv("FW_TRACE");
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("FW_TRACE='3': allowed values are 0 (off), 1 (one line per op), 2 (and value statistics)") !=
          std::string::npos);

    ::setenv("FW_PROFILE", "yes", 1);
    r = test::run_program("step_through", {});
    ::unsetenv("FW_PROFILE");
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("FW_PROFILE='yes': allowed values are 0 (off) and 1") != std::string::npos);
}

TEST_CASE("FW_GRAPH=file and FW_TRACE=1 on a program: the graph file is written, every op is traced") {
    test::TempDir dir;
    const std::string path = dir.path() + "/step.dot";
    ::setenv("FW_GRAPH", path.c_str(), 1);
    ::setenv("FW_TRACE", "1", 1);
    test::ProgramRun r = test::run_program("step_through", {});
    ::unsetenv("FW_GRAPH");
    ::unsetenv("FW_TRACE");
    REQUIRE(r.exit_code == 0);
    const std::string dot = test::read_bytes(path);
    CHECK(dot.find("enc0.conv1.weight") != std::string::npos);
    CHECK(dot.find("conv_in.weight") != std::string::npos);
    CHECK(r.err.find("[trace] fwd  conv2d") != std::string::npos);
    CHECK(r.err.find("[trace] bwd  conv2d") != std::string::npos);
    CHECK(r.err.find("[trace] upd  adam") != std::string::npos);
    CHECK(r.err.find("[trace] upd  ema") != std::string::npos);
}
