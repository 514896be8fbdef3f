// Claims about the forward values of the ops (hand-computed examples and invariants) and
// about their error messages. Gradients are checked in tests/test_gradcheck.cpp.
#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "core/ops.h"
#include "core/rng.h"

using namespace fw;

static Tensor T(const Shape& s, const std::vector<float>& v) { return Tensor::from_vector(s, v); }

TEST_CASE("binary ops broadcast like numpy") {
    Tensor a = T({2, 1}, {1, 2});
    Tensor b = T({3}, {10, 20, 30});
    Tensor y = a + b;  // (2,1) + (3) -> (2,3)
    CHECK(y.shape() == Shape{2, 3});
    CHECK(y.to_vector() == std::vector<float>{11, 21, 31, 12, 22, 32});
    CHECK((b - a).to_vector() == std::vector<float>{9, 19, 29, 8, 18, 28});
    CHECK((a * b).to_vector() == std::vector<float>{10, 20, 30, 20, 40, 60});
    CHECK((b / a).to_vector() == std::vector<float>{10, 20, 30, 5, 10, 15});
    CHECK((a + Tensor::scalar(1.0f)).to_vector() == std::vector<float>{2, 3});
}

TEST_CASE("sums over axes, with and without keepdim, and means") {
    Tensor x = T({2, 3}, {1, 2, 3, 4, 5, 6});
    CHECK(sum(x).item() == 21.0f);
    CHECK(sum(x, {0}).to_vector() == std::vector<float>{5, 7, 9});
    CHECK(sum(x, {1}, true).shape() == Shape{2, 1});
    CHECK(sum(x, {-1}).to_vector() == std::vector<float>{6, 15});
    CHECK(mean(x, {1}).to_vector() == std::vector<float>{2, 5});
    CHECK(mean(x).item() == doctest::Approx(3.5f));
}

TEST_CASE("broadcasting reductions: the gradient of a broadcast add is summed over the broadcast axes") {
    Tensor bias = Tensor::zeros({3}).set_requires_grad(true);
    Tensor x = Tensor::ones({4, 2, 3});
    sum(x + bias).backward();  // every bias element was read 4*2 = 8 times
    CHECK(bias.grad().to_vector() == std::vector<float>{8, 8, 8});
    Tensor col = Tensor::zeros({2, 1}).set_requires_grad(true);
    sum(Tensor::ones({2, 5}) * col).backward();
    CHECK(col.grad().to_vector() == std::vector<float>{5, 5});
}

TEST_CASE("matmul, batched matmul and linear on hand-computed values") {
    Tensor a = T({2, 3}, {1, 2, 3, 4, 5, 6});
    Tensor b = T({3, 2}, {7, 8, 9, 10, 11, 12});
    CHECK(matmul(a, b).to_vector() == std::vector<float>{58, 64, 139, 154});
    Tensor ab = matmul(reshape(concat({a, a}, 0), {2, 2, 3}), reshape(concat({b, b}, 0), {2, 3, 2}));
    CHECK(ab.to_vector() == std::vector<float>{58, 64, 139, 154, 58, 64, 139, 154});
    // linear: x W^T + b, W = b^T
    Tensor y = linear(a, transpose(b, 0, 1), T({2}, {1, -1}));
    CHECK(y.to_vector() == std::vector<float>{59, 63, 140, 153});
}

TEST_CASE("conv2d: a 3x3 box filter with padding 1 counts the neighbours of each pixel") {
    Tensor x = Tensor::ones({1, 1, 3, 3});
    Tensor w = Tensor::ones({1, 1, 3, 3});
    Tensor y = conv2d(x, w, T({1}, {0.5f}), 1, 1);
    CHECK(y.to_vector() == std::vector<float>{4.5, 6.5, 4.5, 6.5, 9.5, 6.5, 4.5, 6.5, 4.5});
    Tensor y2 = conv2d(Tensor::ones({2, 1, 5, 5}), Tensor::ones({3, 1, 3, 3}), Tensor(), 2, 1);
    CHECK(y2.shape() == Shape{2, 3, 3, 3});  // (5 + 2 - 3) / 2 + 1 = 3
    CHECK(y2.data()[4] == 9.0f);             // the centre sees the full 3x3 window
}

TEST_CASE("conv2d matches matmul for a 1x1 kernel") {
    Generator g(4);
    Tensor x = randn({1, 5, 2, 3}, g), w = randn({4, 5, 1, 1}, g);
    Tensor y = conv2d(x, w, Tensor(), 1, 0);
    Tensor ref = matmul(reshape(w, {4, 5}), reshape(x, {5, 6}));
    for (int i = 0; i < 24; ++i) CHECK(y.data()[i] == doctest::Approx(ref.data()[i]).epsilon(1e-5));
}

TEST_CASE("group_norm output has mean 0 and variance 1 in each group before the affine map") {
    Generator g(5);
    Tensor x = rand_uniform({2, 4, 3, 3}, g, -3, 5);
    Tensor y = group_norm(x, 2, Tensor::ones({4}), Tensor::zeros({4}));
    for (int n = 0; n < 2; ++n)
        for (int grp = 0; grp < 2; ++grp) {
            double s = 0, s2 = 0;
            for (int i = 0; i < 18; ++i) {
                double v = y.data()[(n * 4 + grp * 2) * 9 + i];
                s += v;
                s2 += v * v;
            }
            CHECK(std::fabs(s / 18) < 1e-5);  // float rounding of 18 values ~1e-7 each
            CHECK(s2 / 18 == doctest::Approx(1.0).epsilon(1e-3));  // var/(var+eps), eps = 1e-5
        }
    Tensor z = group_norm(x, 2, T({4}, {2, 2, 2, 2}), T({4}, {1, 1, 1, 1}));
    CHECK(z.data()[0] == doctest::Approx(2 * y.data()[0] + 1));
}

TEST_CASE("group_norm_silu equals silu(group_norm(x)), values and gradients") {
    Generator g(6);
    Tensor x = rand_uniform({2, 6, 5, 3}, g, -3, 5).set_requires_grad(true);
    Tensor w = rand_uniform({6}, g, -2, 2).set_requires_grad(true), b = rand_uniform({6}, g, -2, 2).set_requires_grad(true);
    Tensor up = rand_uniform({2, 6, 5, 3}, g, -1, 1);  // a random upstream gradient
    Tensor fused = group_norm_silu(x, 3, w, b);
    sum(fused * up).backward();
    std::vector<float> dx(x.grad().data(), x.grad().data() + x.numel()), dw(w.grad().data(), w.grad().data() + 6),
        db(b.grad().data(), b.grad().data() + 6);
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
    Tensor plain = silu(group_norm(x, 3, w, b));
    sum(plain * up).backward();
    // the same math in another order of roundings: values |y| <= ~7, gradients <= ~20
    for (int64_t i = 0; i < x.numel(); ++i) {
        CHECK(fused.data()[i] == doctest::Approx(plain.data()[i]).epsilon(1e-5).scale(1));
        CHECK(dx[i] == doctest::Approx(x.grad().data()[i]).epsilon(1e-4).scale(1));
    }
    for (int c = 0; c < 6; ++c) {
        CHECK(dw[c] == doctest::Approx(w.grad().data()[c]).epsilon(1e-4).scale(1));
        CHECK(db[c] == doctest::Approx(b.grad().data()[c]).epsilon(1e-4).scale(1));
    }
}

TEST_CASE("group_norm_silu with a shift equals silu(group_norm(x + shift[:, :, None, None])), values and gradients") {
    Generator g(7);
    Tensor x = rand_uniform({2, 6, 5, 3}, g, -3, 5).set_requires_grad(true);
    Tensor shift = rand_uniform({2, 6}, g, -2, 2).set_requires_grad(true);
    Tensor w = rand_uniform({6}, g, -2, 2).set_requires_grad(true), b = rand_uniform({6}, g, -2, 2).set_requires_grad(true);
    Tensor up = rand_uniform({2, 6, 5, 3}, g, -1, 1);  // a random upstream gradient
    Tensor fused = group_norm_silu(x, shift, 3, w, b);
    sum(fused * up).backward();
    auto copy = [](const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); };
    const std::vector<float> dx = copy(x.grad()), dshift = copy(shift.grad()), dw = copy(w.grad()), db = copy(b.grad());
    for (Tensor* t : {&x, &shift, &w, &b}) t->zero_grad();
    Tensor plain = silu(group_norm(x + reshape(shift, {2, 6, 1, 1}), 3, w, b));
    sum(plain * up).backward();
    // the same math in another order of roundings: values |y| <= ~7, gradients <= ~20 (dshift: a
    // sum of 15 of them)
    for (int64_t i = 0; i < x.numel(); ++i) {
        CHECK(fused.data()[i] == doctest::Approx(plain.data()[i]).epsilon(1e-5).scale(1));
        CHECK(dx[i] == doctest::Approx(x.grad().data()[i]).epsilon(1e-4).scale(1));
    }
    for (int64_t i = 0; i < shift.numel(); ++i) CHECK(dshift[i] == doctest::Approx(shift.grad().data()[i]).epsilon(1e-4).scale(15));
    for (int c = 0; c < 6; ++c) {
        CHECK(dw[c] == doctest::Approx(w.grad().data()[c]).epsilon(1e-4).scale(1));
        CHECK(db[c] == doctest::Approx(b.grad().data()[c]).epsilon(1e-4).scale(1));
    }
    // a shift of the wrong shape is an error that names both shapes
    CHECK_THROWS_WITH(group_norm_silu(x, rand_uniform({2, 5}, g), 3, w, b),
                      doctest::Contains("shift [2, 5] must be [2, 6] for input [2, 6, 5, 3]"));
}

TEST_CASE("conv2d_add equals conv2d + r, values and gradients") {
    Generator g(8);
    // 16 -> 16 channels, 3x3 pad 1: the Winograd path, which adds r in its output transform
    Tensor x = rand_uniform({2, 16, 7, 6}, g, -1, 1).set_requires_grad(true);
    Tensor w = rand_uniform({16, 16, 3, 3}, g, -0.3f, 0.3f).set_requires_grad(true);
    Tensor b = rand_uniform({16}, g, -1, 1).set_requires_grad(true), r = rand_uniform({2, 16, 7, 6}, g, -1, 1).set_requires_grad(true);
    Tensor up = rand_uniform({2, 16, 7, 6}, g, -1, 1);  // a random upstream gradient
    auto copy = [](const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); };
    Tensor fused = conv2d_add(x, w, b, r, 1, 1);
    sum(fused * up).backward();
    const std::vector<float> dx = copy(x.grad()), dw = copy(w.grad()), db = copy(b.grad()), dr = copy(r.grad());
    for (Tensor* t : {&x, &w, &b, &r}) t->zero_grad();
    Tensor plain = conv2d(x, w, b, 1, 1) + r;
    sum(plain * up).backward();
    // the same kernels and the same order of roundings: equal bits
    CHECK(copy(fused) == copy(plain));
    CHECK(dx == copy(x.grad()));
    CHECK(dw == copy(w.grad()));
    CHECK(db == copy(b.grad()));
    CHECK(dr == copy(r.grad()));
    // an added tensor of another shape is an error that names both shapes
    CHECK_THROWS_WITH(conv2d_add(x, w, b, rand_uniform({2, 16, 7, 5}, g), 1, 1),
                      doctest::Contains("conv2d_add: the added tensor [2, 16, 7, 5] must have the conv's output shape [2, 16, 7, 6]"));
}

TEST_CASE("activations on hand-picked points") {
    Tensor x = T({3}, {-1.0f, 0.0f, 2.0f});
    CHECK(relu(x).to_vector() == std::vector<float>{0, 0, 2});
    CHECK(sigmoid(x).data()[1] == 0.5f);
    CHECK(silu(x).data()[2] == doctest::Approx(2.0f / (1.0f + std::exp(-2.0f))));
    CHECK(tanh(x).data()[0] == doctest::Approx(std::tanh(-1.0f)));
    Tensor extreme = sigmoid(T({2}, {-100.0f, 100.0f}));  // e^100 overflows float: must not give NaN
    CHECK(extreme.data()[0] == doctest::Approx(0.0f));
    CHECK(extreme.data()[1] == 1.0f);
    CHECK(pow(T({2}, {4, 9}), 0.5f).to_vector() == std::vector<float>{2, 3});
    CHECK(sqrt(T({1}, {16})).item() == 4.0f);
    CHECK(log(exp(T({1}, {1.5f}))).item() == doctest::Approx(1.5f));
    CHECK(sin(T({1}, {0.0f})).item() == 0.0f);
    CHECK(cos(T({1}, {0.0f})).item() == 1.0f);
}

TEST_CASE("permute, concat, slice, split, upsample and pooling move the right elements") {
    Tensor x = T({2, 3}, {1, 2, 3, 4, 5, 6});
    CHECK(transpose(x, 0, 1).to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
    CHECK(concat({x, T({2, 1}, {7, 8})}, 1).to_vector() == std::vector<float>{1, 2, 3, 7, 4, 5, 6, 8});
    CHECK(slice(x, 1, 1, 3).to_vector() == std::vector<float>{2, 3, 5, 6});
    auto parts = split(x, 0, {1, 1});
    CHECK(parts[1].to_vector() == std::vector<float>{4, 5, 6});
    Tensor img = T({1, 1, 2, 2}, {1, 2, 3, 4});
    CHECK(upsample_nearest2x(img).to_vector() ==
          std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
    CHECK(avg_pool2d(upsample_nearest2x(img), 2).to_vector() == img.to_vector());
    CHECK(mean(img, {2, 3}).item() == 2.5f);
}

TEST_CASE("log_softmax rows exponentiate to 1; cross_entropy and mse on known values") {
    Tensor logits = T({2, 3}, {1, 2, 3, 1000, 1000, 1000});  // the second row would overflow e^x
    Tensor lp = log_softmax(logits);
    for (int r = 0; r < 2; ++r) {
        double s = 0;
        for (int c = 0; c < 3; ++c) s += std::exp(lp.data()[r * 3 + c]);
        CHECK(s == doctest::Approx(1.0).epsilon(1e-6));
    }
    CHECK(lp.data()[3] == doctest::Approx(-std::log(3.0f)));
    float ce = cross_entropy(logits, {2, 0}).item();
    CHECK(ce == doctest::Approx(0.5 * (-lp.data()[2] + std::log(3.0))));
    CHECK(mse_loss(T({2}, {1, 3}), T({2}, {0, 0})).item() == 5.0f);
}

TEST_CASE("shape errors name the op and both shapes") {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 3});
    CHECK_THROWS_WITH_AS(add(a, b), "add: shapes [2, 3] and [4, 3] cannot be broadcast", Error);
    CHECK_THROWS_WITH_AS(matmul(a, b),
                         "matmul: shapes [2, 3] and [4, 3] do not match (need (M,K)@(K,N) or (B,M,K)@(B,K,N))", Error);
    CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({1, 2, 5, 5}), Tensor::zeros({4, 3, 3, 3}), Tensor(), 1, 1),
                         "conv2d: input [1, 2, 5, 5] and weight [4, 3, 3, 3] do not match (need input (N,Cin,H,W), "
                         "weight (Cout,Cin,KH,KW))",
                         Error);
    CHECK_THROWS_WITH_AS(group_norm(Tensor::zeros({1, 6, 2, 2}), 4, Tensor::ones({6}), Tensor::zeros({6})),
                         "group_norm: 6 channels (shape [1, 6, 2, 2]) cannot be split into 4 groups", Error);
    CHECK_THROWS_WITH_AS(linear(a, Tensor::zeros({5, 4}), Tensor()),
                         "linear: input [2, 3] and weight [5, 4] do not match (need x (N,in), weight (out,in))", Error);
    CHECK_THROWS_WITH_AS(concat({a, Tensor::zeros({2, 2, 1})}, 0), doctest::Contains("concat: along axis 0"), Error);
    CHECK_THROWS_WITH_AS(slice(a, 1, 2, 5), "slice: range [2, 5) is outside axis 1 of size 3 (shape [2, 3])", Error);
    CHECK_THROWS_WITH_AS(sum(a, {2}), "sum: axis 2 is out of range for a 2-d tensor", Error);
    CHECK_THROWS_WITH_AS(mse_loss(a, b), "mse_loss: pred [2, 3] and target [4, 3] differ", Error);
    CHECK_THROWS_WITH_AS(cross_entropy(a, {0, 3}), "nll_loss: label 3 at index 1 is outside [0, 3)", Error);
    CHECK_THROWS_WITH_AS(permute(a, {0, 0}), "permute: axis 0 appears twice for a tensor of shape [2, 3]", Error);
    CHECK_THROWS_WITH_AS(upsample_nearest2x(a), "upsample_nearest2x: expects (N, C, H, W), got shape [2, 3]", Error);
}
