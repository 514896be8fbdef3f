// Claims about the autograd engine: accumulation, the diamond graph, backward twice,
// no-grad, detach, deep graphs, freeing, errors.
#include <doctest/doctest.h>

#include <memory>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"
#include "tests/gradcheck.h"

using namespace fw;

TEST_CASE("a value used twice (diamond graph) gets the sum of both gradients") {
    // x -> a = 2x, b = x^2 -> y = a + b.  dy/dx = 2 + 2x = 8 at x = 3.
    // A backward that overwrote instead of accumulating would give 2 or 6.
    Tensor x = Tensor::from_vector({1}, {3.0f}).set_requires_grad(true);
    Tensor a = x * 2.0f;
    Tensor b = square(x);
    Tensor y = a + b;
    y.backward();
    CHECK(x.grad().item() == doctest::Approx(8.0f));

    // The diamond through an intermediate: h = 3x used by two branches, y = h*h + h.
    // dy/dh = 2h + 1, dy/dx = 3 (2h + 1) = 3 (6x + 1) = 57 at x = 3.
    Tensor x2 = Tensor::from_vector({1}, {3.0f}).set_requires_grad(true);
    Tensor h = x2 * 3.0f;
    Tensor y2 = h * h + h;
    y2.backward();
    CHECK(x2.grad().item() == doctest::Approx(57.0f));
}

// Ops that WRITE a new gradient buffer instead of adding into zeros (Node::overwrites_gradient:
// conv2d's dx, group_norm_silu's dx, concat, add of same-shaped inputs) or pass dy's own buffer
// on (Node::passes_gradient: add), in every order: `a` is used by group_norm_silu, add and concat
// (its buffer is first written by concat, then added to by add and group_norm_silu); cat by both
// sides of one add (never written or passed: a buffer an op adds to twice); u's add passes its dy
// on as s's gradient and writes a copy as c's, which s's add then adds to; h is written by
// conv2d. Checked against finite differences.
TEST_CASE("gradients written into new buffers (no zero fill) equal the added ones") {
    Generator gen(21);
    Tensor x = rand_uniform({2, 4, 5, 5}, gen, -1.0f, 1.0f).set_requires_grad(true);
    Tensor w = rand_uniform({4, 4, 3, 3}, gen, -0.5f, 0.5f).set_requires_grad(true);
    Tensor b = rand_uniform({4}, gen, -0.5f, 0.5f), gw = rand_uniform({4}, gen, 0.5f, 1.5f),
           gb = rand_uniform({4}, gen, -0.5f, 0.5f);
    auto f = [&](const std::vector<Tensor>& in) {
        Tensor a = in[0] * 1.5f;
        Tensor h = group_norm_silu(a, 2, gw, gb);
        Tensor c = conv2d(h, in[1], b, 1, 1);
        Tensor s = c + a;
        Tensor u = s + c;
        Tensor cat = concat({u, a}, 1);
        return cat + cat;
    };
    const fw::test::GradCheckResult r = fw::test::gradcheck(f, {x, w}, /*seed=*/5);
    INFO(r.worst);
    CHECK(r.max_violation <= 1.0);
    CHECK(r.checked > 100);
}

TEST_CASE("backward() twice on the same graph accumulates exactly twice; zero_grad resets") {
    Tensor x = Tensor::from_vector({2}, {1.0f, -2.0f}).set_requires_grad(true);
    Tensor y = sum(x * x);  // dy/dx = 2x
    y.backward();
    CHECK(x.grad().to_vector() == std::vector<float>{2.0f, -4.0f});
    y.backward();
    CHECK(x.grad().to_vector() == std::vector<float>{4.0f, -8.0f});
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
    y.backward();
    CHECK(x.grad().to_vector() == std::vector<float>{2.0f, -4.0f});
}

TEST_CASE("gradients accumulate across different graphs until zero_grad") {
    Tensor x = Tensor::from_vector({1}, {2.0f}).set_requires_grad(true);
    sum(x * 3.0f).backward();
    sum(x * 5.0f).backward();
    CHECK(x.grad().item() == doctest::Approx(8.0f));
}

TEST_CASE("NoGradGuard records nothing, and restores the previous mode") {
    Tensor x = Tensor::ones({3}).set_requires_grad(true);
    {
        NoGradGuard guard;
        CHECK_FALSE(grad_enabled());
        Tensor y = exp(x) * x;
        CHECK_FALSE(y.requires_grad());
        CHECK(y.grad_fn_name() == nullptr);
        {
            NoGradGuard nested;
        }
        CHECK_FALSE(grad_enabled());  // the nested guard restored "off", not "on"
    }
    CHECK(grad_enabled());
    CHECK(exp(x).requires_grad());
}

TEST_CASE("detach cuts the graph: no gradient flows through a detached value") {
    Tensor x = Tensor::from_vector({1}, {2.0f}).set_requires_grad(true);
    Tensor y = x * x.detach();  // d/dx treats the detached copy as a constant: dy/dx = x = 2
    sum(y).backward();
    CHECK(x.grad().item() == doctest::Approx(2.0f));
}

TEST_CASE("only tensors that require grad receive gradients") {
    Tensor a = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
    Tensor b = Tensor::from_vector({2}, {3, 4});
    sum(a * b).backward();
    CHECK(a.grad().to_vector() == std::vector<float>{3, 4});
    CHECK_FALSE(b.grad().defined());
}

TEST_CASE("backward walks a 100,000-op chain without recursion") {
    Tensor x = Tensor::from_vector({1}, {1.0f}).set_requires_grad(true);
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y + 0.0f;
    y.backward();
    CHECK(x.grad().item() == 1.0f);
    y = Tensor();  // releasing the chain must not recurse either (Node::~Node is iterative)
    x = Tensor();
}

TEST_CASE("intermediate buffers are freed as soon as the graph is released") {
    Tensor x = Tensor::ones({1000}).set_requires_grad(true);
    std::weak_ptr<Storage> hidden;
    {
        Tensor h = exp(x);  // saved by the mul node below
        hidden = h.impl()->storage;
        Tensor loss = sum(h * h);
        h = Tensor();
        CHECK_FALSE(hidden.expired());  // the graph of `loss` keeps it
        loss.backward();
        CHECK_FALSE(hidden.expired());  // still held: backward() may be called again
    }
    CHECK(hidden.expired());  // graph gone -> buffer gone (no shared_ptr cycle)
}

TEST_CASE("autograd errors say what was wrong") {
    Tensor x = Tensor::ones({3});
    CHECK_THROWS_WITH_AS(sum(x).backward(),
                         doctest::Contains("backward(): the tensor does not require grad"), Error);
    Tensor w = Tensor::ones({3}).set_requires_grad(true);
    CHECK_THROWS_WITH_AS((w * 2.0f).backward(),
                         "backward(): called on a tensor of shape [3]; without a gradient argument it needs a "
                         "single element (a loss)",
                         Error);
    CHECK_THROWS_WITH_AS((w * 2.0f).set_requires_grad(false), doctest::Contains("is not a leaf"), Error);
    CHECK_THROWS_WITH_AS(sin(w), doctest::Contains("sin: has no gradient"), Error);
}

TEST_CASE("backward with an explicit upstream gradient") {
    Tensor x = Tensor::from_vector({3}, {1, 2, 3}).set_requires_grad(true);
    Tensor y = x * 2.0f;
    y.backward(Tensor::from_vector({3}, {1, 10, 100}));
    CHECK(x.grad().to_vector() == std::vector<float>{2, 20, 200});
    CHECK_THROWS_WITH_AS(y.backward(Tensor::ones({2})),
                         "backward(grad): grad has shape [2] but the tensor has shape [3]", Error);
}
