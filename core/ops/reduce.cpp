// Reductions: sum and mean over all elements or over given axes (keepdim or not).
//
// sum over axes A: y has x's shape with the axes in A set to 1 (keepdim) or removed.
// With m = the map from x's index to the keepdim-y index (core/shape.h):
//   forward   y[m(i)] += x[i]   (scatter_add)
//   backward  dx[i]  += dy[m(i)] (gather): every x in a reduced group gets that group's gradient.
#include <algorithm>

#include "core/autograd.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/ops.h"
#include "core/watch.h"

namespace fw {

struct SumBackward final : Node {
    SumBackward() : Node("sum") {}
    BroadcastMap m;  // x's index -> y's index
    void backward(const float* dy, float* const* dx) override {
        if (dx[0]) kernels_for(inputs[0].device()).gather(dx[0], dy, m);
    }
};

Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim) {
    check_defined(x, "sum", "x");
    const int nd = x.dim();
    for (int& a : axes) a = normalize_axis(a, nd, "sum");
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) fail("sum: an axis is repeated");
    if (nd > kMaxDims) fail("sum: ", nd, "-d tensor; at most ", kMaxDims, " dimensions");

    Shape kept = x.shape(), squeezed;
    for (int a : axes) kept[a] = 1;
    for (int d = 0; d < nd; ++d)
        if (!std::binary_search(axes.begin(), axes.end(), d)) squeezed.push_back(x.shape()[d]);

    BroadcastMap m = make_broadcast_map(kept, x.shape());
    Tensor y;
    run_op("sum", {&x}, y, [&] {
        y = Tensor::zeros(keepdim ? kept : squeezed, x.device());
        kernels_for(x.device()).scatter_add(y.data(), x.data(), m);
    });
    if (auto* node = record<SumBackward>(y, {x})) node->m = m;
    return y;
}

Tensor sum(const Tensor& x) {
    std::vector<int> all(x.dim());
    for (int d = 0; d < x.dim(); ++d) all[d] = d;
    return sum(x, all, false);
}

// mean = sum / (number of elements summed): its gradient is sum's, scaled.
Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim) {
    int64_t count = 1;
    for (int a : axes) count *= x.shape()[normalize_axis(a, x.dim(), "mean")];
    if (count == 0) fail("mean: reducing over an empty axis of shape ", to_string(x.shape()));
    return mul(sum(x, axes, keepdim), 1.0f / (float)count);
}

Tensor mean(const Tensor& x) {
    if (x.numel() == 0) fail("mean: of an empty tensor of shape ", to_string(x.shape()));
    return mul(sum(x), 1.0f / (float)x.numel());
}

}  // namespace fw
