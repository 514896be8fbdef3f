// Claim: every differentiable op's backward matches central differences, on random shapes
// with broadcasting and odd sizes, with a random upstream gradient. See tests/gradcheck.h for
// the tolerance and why. The last test fails if an op in core/op_table.cpp has no case here.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "core/op_table.h"
#include "core/ops.h"
#include "core/rng.h"
#include "tests/gradcheck.h"

using namespace fw;
using fw::test::gradcheck;
using fw::test::OpFn;

namespace {

struct GradCase {
    const char* op;            // the op-table name this case must exercise
    const char* what;          // shapes and arguments, for the failure message
    std::vector<Tensor> inputs;
    OpFn f;
};

// A leaf with values uniform in [lo, hi).
Tensor leaf(const Shape& s, Generator& gen, float lo = -1.0f, float hi = 1.0f) {
    return rand_uniform(s, gen, lo, hi).set_requires_grad(true);
}
// Values with |x| in [0.2, 1.2): away from the kink of relu and from zero.
Tensor away_from_zero(const Shape& s, Generator& gen) {
    Tensor t = rand_uniform(s, gen, 0.2f, 1.2f);
    Tensor sign = rand_uniform(s, gen, -1.0f, 1.0f);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] *= sign.data()[i] < 0 ? -1.0f : 1.0f;
    return t.set_requires_grad(true);
}
Tensor constant(const Shape& s, Generator& gen) { return rand_uniform(s, gen, -1.0f, 1.0f); }

std::vector<GradCase> grad_cases() {
    Generator gen(1234);
    using V = const std::vector<Tensor>&;
    std::vector<GradCase> c;
    // broadcasting binaries: trailing, leading and middle broadcast axes, odd sizes
    c.push_back({"add", "(3,1,5) + (4,5)", {leaf({3, 1, 5}, gen), leaf({4, 5}, gen)}, [](V x) { return x[0] + x[1]; }});
    c.push_back({"add", "(7) + (2,3,7), one constant", {leaf({7}, gen), constant({2, 3, 7}, gen)}, [](V x) { return x[0] + x[1]; }});
    c.push_back({"sub", "(2,3) - (3)", {leaf({2, 3}, gen), leaf({3}, gen)}, [](V x) { return x[0] - x[1]; }});
    c.push_back({"mul", "(2,1,4) * (3,1)", {leaf({2, 1, 4}, gen), leaf({3, 1}, gen)}, [](V x) { return x[0] * x[1]; }});
    c.push_back({"mul", "x * x (same tensor twice)", {leaf({5}, gen)}, [](V x) { return x[0] * x[0]; }});
    c.push_back({"div", "(5,3) / (1,3), b in [0.5, 2)", {leaf({5, 3}, gen), leaf({1, 3}, gen, 0.5f, 2.0f)},
                 [](V x) { return x[0] / x[1]; }});
    c.push_back({"add_scalar", "(4,3) + 2.5", {leaf({4, 3}, gen)}, [](V x) { return x[0] + 2.5f; }});
    c.push_back({"add_scalar", "(4,3) - 2.5", {leaf({4, 3}, gen)}, [](V x) { return x[0] - 2.5f; }});
    c.push_back({"mul_scalar", "(3,5) * -1.7", {leaf({3, 5}, gen)}, [](V x) { return x[0] * -1.7f; }});
    c.push_back({"mul_scalar", "(3,5) / 4", {leaf({3, 5}, gen)}, [](V x) { return x[0] / 4.0f; }});
    c.push_back({"neg", "-(2,3)", {leaf({2, 3}, gen)}, [](V x) { return -x[0]; }});
    // unary
    c.push_back({"exp", "(3,7) in [-2, 2)", {leaf({3, 7}, gen, -2, 2)}, [](V x) { return exp(x[0]); }});
    c.push_back({"log", "(11) in [0.5, 2)", {leaf({11}, gen, 0.5f, 2)}, [](V x) { return log(x[0]); }});
    c.push_back({"sqrt", "(2,5) in [0.5, 2)", {leaf({2, 5}, gen, 0.5f, 2)}, [](V x) { return sqrt(x[0]); }});
    c.push_back({"square", "(13)", {leaf({13}, gen)}, [](V x) { return square(x[0]); }});
    c.push_back({"pow", "(3,3)^3", {leaf({3, 3}, gen)}, [](V x) { return pow(x[0], 3.0f); }});
    c.push_back({"pow", "(7)^-1.5 in [0.5, 2)", {leaf({7}, gen, 0.5f, 2)}, [](V x) { return pow(x[0], -1.5f); }});
    c.push_back({"sigmoid", "(4,5) in [-3, 3)", {leaf({4, 5}, gen, -3, 3)}, [](V x) { return sigmoid(x[0]); }});
    c.push_back({"tanh", "(4,5) in [-2, 2)", {leaf({4, 5}, gen, -2, 2)}, [](V x) { return tanh(x[0]); }});
    c.push_back({"relu", "(3,7), |x| >= 0.2", {away_from_zero({3, 7}, gen)}, [](V x) { return relu(x[0]); }});
    c.push_back({"silu", "(2,3,5) in [-4, 4)", {leaf({2, 3, 5}, gen, -4, 4)}, [](V x) { return silu(x[0]); }});
    // reductions
    c.push_back({"sum", "all of (3,4,5)", {leaf({3, 4, 5}, gen)}, [](V x) { return sum(x[0]); }});
    c.push_back({"sum", "(3,4,5) over {0,2} keepdim", {leaf({3, 4, 5}, gen)}, [](V x) { return sum(x[0], {0, 2}, true); }});
    c.push_back({"sum", "(3,4,5) over {-2}", {leaf({3, 4, 5}, gen)}, [](V x) { return sum(x[0], {-2}); }});
    c.push_back({"sum", "mean of (2,3,5,7) over {2,3} (spatial)", {leaf({2, 3, 5, 7}, gen)},
                 [](V x) { return mean(x[0], {2, 3}); }});
    c.push_back({"sum", "mean of all of (6,5)", {leaf({6, 5}, gen)}, [](V x) { return mean(x[0]); }});
    // shape
    c.push_back({"reshape", "(2,3,4) -> (6,-1), then * w", {leaf({2, 3, 4}, gen), leaf({6, 4}, gen)},
                 [](V x) { return reshape(x[0], {6, -1}) * x[1]; }});
    c.push_back({"permute", "(2,3,4) by {2,0,1}", {leaf({2, 3, 4}, gen)}, [](V x) { return permute(x[0], {2, 0, 1}); }});
    c.push_back({"permute", "transpose (3,5) 0<->1", {leaf({3, 5}, gen)}, [](V x) { return transpose(x[0], 0, 1); }});
    c.push_back({"concat", "(2,3,4),(2,1,4),(2,2,4) on axis 1", {leaf({2, 3, 4}, gen), leaf({2, 1, 4}, gen), leaf({2, 2, 4}, gen)},
                 [](V x) { return concat({x[0], x[1], x[2]}, 1); }});
    c.push_back({"concat", "(1,3),(2,3) on axis 0", {leaf({1, 3}, gen), leaf({2, 3}, gen)},
                 [](V x) { return concat({x[0], x[1]}, 0); }});
    c.push_back({"slice", "(3,5,2)[:, 1:4]", {leaf({3, 5, 2}, gen)}, [](V x) { return slice(x[0], 1, 1, 4); }});
    c.push_back({"slice", "split (4,7) on axis 1 into 2,5; a*2 + sum(b)", {leaf({4, 7}, gen)}, [](V x) {
        auto parts = split(x[0], 1, {2, 5});
        return parts[0] * 2.0f + sum(parts[1], {1}, true);
    }});
    c.push_back({"upsample2x", "(2,3,3,5)", {leaf({2, 3, 3, 5}, gen)}, [](V x) { return upsample_nearest2x(x[0]); }});
    c.push_back({"avg_pool2d", "(1,2,4,6) k=2", {leaf({1, 2, 4, 6}, gen)}, [](V x) { return avg_pool2d(x[0], 2); }});
    c.push_back({"avg_pool2d", "(1,1,7,7) k=3 (remainder dropped)", {leaf({1, 1, 7, 7}, gen)},
                 [](V x) { return avg_pool2d(x[0], 3); }});
    // linear algebra
    c.push_back({"matmul", "(3,5)@(5,4)", {leaf({3, 5}, gen), leaf({5, 4}, gen)}, [](V x) { return matmul(x[0], x[1]); }});
    c.push_back({"matmul", "(2,3,5)@(2,5,1)", {leaf({2, 3, 5}, gen), leaf({2, 5, 1}, gen)},
                 [](V x) { return matmul(x[0], x[1]); }});
    c.push_back({"linear", "x(4,7) W(3,7) b(3)", {leaf({4, 7}, gen), leaf({3, 7}, gen), leaf({3}, gen)},
                 [](V x) { return linear(x[0], x[1], x[2]); }});
    c.push_back({"linear", "x(1,5) W(2,5), no bias", {leaf({1, 5}, gen), leaf({2, 5}, gen)},
                 [](V x) { return linear(x[0], x[1], Tensor()); }});
    // convolution: 3x3 pad 1, stride 2, 1x1, asymmetric kernel, no bias
    c.push_back({"conv2d", "x(2,3,7,6) w(4,3,3,3) b stride 1 pad 1", {leaf({2, 3, 7, 6}, gen), leaf({4, 3, 3, 3}, gen), leaf({4}, gen)},
                 [](V x) { return conv2d(x[0], x[1], x[2], 1, 1); }});
    c.push_back({"conv2d", "x(1,2,5,5) w(3,2,3,3) b stride 2 pad 1", {leaf({1, 2, 5, 5}, gen), leaf({3, 2, 3, 3}, gen), leaf({3}, gen)},
                 [](V x) { return conv2d(x[0], x[1], x[2], 2, 1); }});
    c.push_back({"conv2d", "x(2,5,3,3) w(2,5,1,1) b 1x1", {leaf({2, 5, 3, 3}, gen), leaf({2, 5, 1, 1}, gen), leaf({2}, gen)},
                 [](V x) { return conv2d(x[0], x[1], x[2], 1, 0); }});
    c.push_back({"conv2d", "x(1,1,6,5) w(2,1,2,3) no bias pad 0", {leaf({1, 1, 6, 5}, gen), leaf({2, 1, 2, 3}, gen)},
                 [](V x) { return conv2d(x[0], x[1], Tensor(), 1, 0); }});
    c.push_back({"conv2d", "conv2d_add: x(2,3,5,4) w(4,3,3,3) b + r(2,4,5,4), pad 1",
                 {leaf({2, 3, 5, 4}, gen), leaf({4, 3, 3, 3}, gen), leaf({4}, gen), leaf({2, 4, 5, 4}, gen)},
                 [](V x) { return conv2d_add(x[0], x[1], x[2], x[3], 1, 1); }});
    c.push_back({"conv2d", "conv2d_add: x(2,16,4,5) w(16,16,3,3) (Winograd) + r = x itself",
                 {leaf({2, 16, 4, 5}, gen), leaf({16, 16, 3, 3}, gen, -0.3, 0.3), leaf({16}, gen)},
                 [](V x) { return conv2d_add(x[0], x[1], x[2], x[0], 1, 1); }});
    // normalization
    c.push_back({"group_norm", "x(2,6,3,5) 3 groups", {leaf({2, 6, 3, 5}, gen, -2, 2), leaf({6}, gen), leaf({6}, gen)},
                 [](V x) { return group_norm(x[0], 3, x[1], x[2]); }});
    c.push_back({"group_norm", "x(3,4) 2 groups (no spatial axes)", {leaf({3, 4}, gen, -2, 2), leaf({4}, gen), leaf({4}, gen)},
                 [](V x) { return group_norm(x[0], 2, x[1], x[2]); }});
    c.push_back({"group_norm_silu", "x(2,6,3,5) 3 groups, b in [-2, 2)",
                 {leaf({2, 6, 3, 5}, gen, -2, 2), leaf({6}, gen), leaf({6}, gen, -2, 2)},
                 [](V x) { return group_norm_silu(x[0], 3, x[1], x[2]); }});
    c.push_back({"group_norm_silu", "x(3,4,17) 2 groups (odd HW)", {leaf({3, 4, 17}, gen, -2, 2), leaf({4}, gen), leaf({4}, gen)},
                 [](V x) { return group_norm_silu(x[0], 2, x[1], x[2]); }});
    c.push_back({"group_norm_silu", "x(2,6,3,5) + shift(2,6), 3 groups",
                 {leaf({2, 6, 3, 5}, gen, -2, 2), leaf({6}, gen), leaf({6}, gen, -2, 2), leaf({2, 6}, gen, -1, 1)},
                 [](V x) { return group_norm_silu(x[0], x[3], 3, x[1], x[2]); }});
    c.push_back({"group_norm_silu", "x(3,4,17) + shift(3,4), 2 groups (odd HW)",
                 {leaf({3, 4, 17}, gen, -2, 2), leaf({4}, gen), leaf({4}, gen), leaf({3, 4}, gen, -1, 1)},
                 [](V x) { return group_norm_silu(x[0], x[3], 2, x[1], x[2]); }});
    // losses
    c.push_back({"mse_loss", "(3,4) vs (3,4)", {leaf({3, 4}, gen), leaf({3, 4}, gen)}, [](V x) { return mse_loss(x[0], x[1]); }});
    c.push_back({"log_softmax", "(4,7) in [-3, 3)", {leaf({4, 7}, gen, -3, 3)}, [](V x) { return log_softmax(x[0]); }});
    c.push_back({"nll_loss", "cross_entropy (5,3)", {leaf({5, 3}, gen, -2, 2)}, [](V x) {
        return cross_entropy(x[0], {0, 2, 1, 2, 0});
    }});
    return c;
}

}  // namespace

TEST_CASE("every differentiable op's backward matches central differences") {
    for (const GradCase& gc : grad_cases()) {
        fw::test::GradCheckResult r = gradcheck(gc.f, gc.inputs, /*seed=*/7);
        INFO(gc.op << " " << gc.what << ": worst " << r.worst);
        CHECK(r.checked > 0);
        CHECK(r.max_violation <= 1.0);  // |analytic - numeric| <= 2e-3 + 1e-2 |numeric|
        CHECK(r.ops_seen.count(gc.op) == 1);  // the case really exercises the op it names
    }
}

TEST_CASE("gradcheck itself catches a wrong gradient") {
    // A deliberately wrong op: y = x * c with the constant c smuggled in as a tensor that the
    // graph does not see, so autograd says dy/dx = 1 where the truth is c = 3.
    Generator gen(3);
    Tensor x = leaf({4}, gen);
    OpFn wrong = [](const std::vector<Tensor>& v) {
        Tensor y = v[0] + 0.0f;  // records add_scalar: gradient 1
        Tensor three = v[0].detach().clone();
        for (int64_t i = 0; i < three.numel(); ++i) three.data()[i] = 3.0f * v[0].data()[i] - y.data()[i];
        for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] += three.data()[i];  // values become 3x
        return y;
    };
    CHECK(gradcheck(wrong, {x}, 1).max_violation > 10.0);
}

TEST_CASE("every op in the op table has a gradient check") {
    std::set<std::string> covered;
    for (const GradCase& gc : grad_cases()) covered.insert(gc.op);
    for (const OpInfo& op : differentiable_ops()) {
        INFO("op '" << op.name << "' (" << op.forward << ") has no case in grad_cases()");
        CHECK(covered.count(op.name) == 1);
    }
    for (const std::string& name : covered) {
        INFO("grad case names '" << name << "', which is not in core/op_table.cpp");
        CHECK(find_op(name.c_str()) != nullptr);
    }
}
