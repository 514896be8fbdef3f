// Claims about Tensor: storage, views, printing, construction errors.
#include <doctest/doctest.h>

#include <memory>

#include "core/error.h"
#include "core/ops.h"
#include "core/tensor.h"

using namespace fw;

TEST_CASE("a tensor is contiguous row-major: element (i,j,k) of [2,3,4] sits at 12i + 4j + k") {
    std::vector<float> v(24);
    for (int i = 0; i < 24; ++i) v[i] = (float)i;
    Tensor t = Tensor::from_vector({2, 3, 4}, v);
    CHECK(t.dim() == 3);
    CHECK(t.numel() == 24);
    CHECK(t.size(-1) == 4);
    CHECK(t.data()[12 * 1 + 4 * 2 + 3] == 23.0f);
    CHECK(contiguous_strides(t.shape()) == Shape{12, 4, 1});
}

TEST_CASE("reshape is a view: it shares storage, and a write through one is seen through the other") {
    Tensor a = Tensor::zeros({2, 6});
    Tensor b = reshape(a, {3, -1});
    CHECK(b.shape() == Shape{3, 4});
    CHECK(b.data() == a.data());
    b.data()[5] = 7.0f;
    CHECK(a.data()[5] == 7.0f);
}

TEST_CASE("detach shares storage but has no history and does not require grad") {
    Tensor x = Tensor::ones({3}).set_requires_grad(true);
    Tensor y = x * 2.0f;
    Tensor d = y.detach();
    CHECK(d.data() == y.data());
    CHECK_FALSE(d.requires_grad());
    CHECK(d.grad_fn_name() == nullptr);
    CHECK(std::string(y.grad_fn_name()) == "mul_scalar");
}

TEST_CASE("storage is freed when the last view goes away (RAII)") {
    std::weak_ptr<Storage> w;
    {
        Tensor a = Tensor::zeros({1000});
        Tensor b = reshape(a, {10, 100});
        w = a.impl()->storage;
        a = Tensor();
        CHECK_FALSE(w.expired());  // b still holds it
    }
    CHECK(w.expired());
}

TEST_CASE("printing shows the shape, the device, autograd state and the leading values") {
    Tensor t = Tensor::from_vector({2, 2}, {1, 2, 3, 4}).set_requires_grad(true);
    CHECK(t.to_string() == "Tensor[2, 2] cpu requires_grad {1, 2, 3, 4}");
    Tensor big = Tensor::zeros({100});
    CHECK(big.to_string(3) == "Tensor[100] cpu {0, 0, 0, ... (100 values)}");
    CHECK(Tensor().to_string() == "Tensor(undefined)");
}

TEST_CASE("construction errors name what was wrong") {
    CHECK_THROWS_WITH_AS(Tensor::from_vector({2, 3}, {1, 2}),
                         "Tensor::from_vector: shape [2, 3] holds 6 values but 2 were given", Error);
    CHECK_THROWS_WITH_AS(Tensor::zeros({2, -1}), "Tensor: negative size in shape [2, -1]", Error);
    CHECK_THROWS_WITH_AS(Tensor::zeros({3}).item(), "Tensor::item: tensor of shape [3] has 3 elements, not 1", Error);
    CHECK_THROWS_WITH_AS(reshape(Tensor::zeros({2, 3}), {4, -1}),
                         "reshape: cannot view [2, 3] (6 elements) as [4, -1]", Error);
}

TEST_CASE("0-d and empty tensors are valid") {
    Tensor s = Tensor::scalar(2.5f);
    CHECK(s.dim() == 0);
    CHECK(s.numel() == 1);
    CHECK(s.item() == 2.5f);
    Tensor e = Tensor::zeros({0, 3});
    CHECK(e.numel() == 0);
    CHECK(sum(e).item() == 0.0f);
}
