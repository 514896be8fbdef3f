// Ops that change the shape or the layout: reshape (a view), permute/transpose, concat,
// slice/split, nearest upsampling x2, average pooling.
#include <algorithm>
#include <numeric>

#include "core/autograd.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/ops.h"
#include "core/watch.h"

namespace fw {

// --- reshape: same storage, new shape. Backward: dx += dy (same elements, same order). -------
struct ReshapeBackward final : Node {
    ReshapeBackward() : Node("reshape") {}
    void backward(const float* dy, float* const* dx) override {
        if (dx[0]) kernels_for(inputs[0].device()).axpy(dx[0], dy, 1.0f, inputs[0].numel());
    }
};

Tensor reshape(const Tensor& x, Shape shape) {
    check_defined(x, "reshape", "x");
    int infer = -1;
    int64_t known = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            if (infer >= 0) fail("reshape: more than one -1 in ", to_string(shape));
            infer = (int)i;
        } else if (shape[i] < 0) {
            fail("reshape: negative size in ", to_string(shape));
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0 && known != 0 && x.numel() % known == 0) shape[infer] = x.numel() / known;
    if (numel(shape) != x.numel() || (infer >= 0 && shape[infer] < 0))
        fail("reshape: cannot view ", to_string(x.shape()), " (", x.numel(), " elements) as ", to_string(shape));
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = x.impl()->storage;  // a view: no copy
    impl->offset = x.impl()->offset;
    impl->shape = shape;
    Tensor y(impl);
    run_op("reshape", {&x}, y, [] {});  // no kernel: the trace shows that a view ran
    record<ReshapeBackward>(y, {x});
    return y;
}

// --- permute: y's axis k is x's axis dims[k]; y[i] = x[m(i)] with m's strides = x's strides
// taken in the order dims. Backward: dx[m(i)] += dy[i].
struct PermuteBackward final : Node {
    PermuteBackward() : Node("permute") {}
    BroadcastMap m;
    void backward(const float* dy, float* const* dx) override {
        if (dx[0]) kernels_for(inputs[0].device()).scatter_add(dx[0], dy, m);
    }
};

Tensor permute(const Tensor& x, std::vector<int> dims) {
    check_defined(x, "permute", "x");
    const int nd = x.dim();
    std::vector<bool> seen(nd, false);
    if ((int)dims.size() != nd) fail("permute: ", dims.size(), " dims given for a tensor of shape ", to_string(x.shape()));
    if (nd > kMaxDims) fail("permute: ", nd, "-d tensor; at most ", kMaxDims, " dimensions");
    for (int& d : dims) {
        d = normalize_axis(d, nd, "permute");
        if (seen[d]) fail("permute: axis ", d, " appears twice for a tensor of shape ", to_string(x.shape()));
        seen[d] = true;
    }
    Shape xs = contiguous_strides(x.shape()), out(nd);
    BroadcastMap m;
    m.ndim = nd;
    m.n = x.numel();
    for (int k = 0; k < nd; ++k) {
        out[k] = x.shape()[dims[k]];
        m.size[k] = out[k];
        m.stride[k] = xs[dims[k]];
    }
    m.identity = std::is_sorted(dims.begin(), dims.end());
    Tensor y;
    run_op("permute", {&x}, y, [&] {
        y = Tensor::zeros(out, x.device());
        kernels_for(x.device()).gather(y.data(), x.data(), m);
    });
    if (auto* node = record<PermuteBackward>(y, {x})) node->m = m;
    return y;
}

Tensor transpose(const Tensor& x, int a, int b) {
    std::vector<int> dims(x.dim());
    std::iota(dims.begin(), dims.end(), 0);
    std::swap(dims[normalize_axis(a, x.dim(), "transpose")], dims[normalize_axis(b, x.dim(), "transpose")]);
    return permute(x, dims);
}

// --- concat and slice: view every tensor as (outer, axis, inner) around the axis. -------------
static void split_around(const Shape& s, int axis, int64_t& outer, int64_t& inner) {
    outer = 1;
    inner = 1;
    for (int d = 0; d < axis; ++d) outer *= s[d];
    for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
}

struct ConcatBackward final : Node {
    ConcatBackward() : Node("concat") {}
    int64_t outer = 0, inner = 0, total = 0;  // total = y's size along the axis
    std::vector<int64_t> sizes;               // each input's size along the axis
    bool overwrites_gradient(size_t) const override { return true; }
    void backward(const float* dy, float* const* dx) override {
        int64_t start = 0;
        for (size_t i = 0; i < inputs.size(); ++i) {
            // dx_i += dy[:, start : start + size_i, :]  (= when dx_i is fresh)
            if (dx[i])
                kernels_for(inputs[i].device())
                    .copy_axis_range(dx[i], sizes[i], 0, dy, total, start, sizes[i], outer, inner, !is_fresh(i));
            start += sizes[i];
        }
    }
};

Tensor concat(const std::vector<Tensor>& xs, int axis) {
    if (xs.empty()) fail("concat: no tensors given");
    for (const Tensor& t : xs) check_defined(t, "concat", "an input");
    const Shape& s0 = xs[0].shape();
    axis = normalize_axis(axis, (int)s0.size(), "concat");
    Shape out = s0;
    out[axis] = 0;
    std::vector<int64_t> sizes;
    for (const Tensor& t : xs) {
        check_same_device(xs[0], t, "concat");
        Shape a = t.shape(), b = s0;
        bool ok = a.size() == b.size();
        if (ok) {
            a[axis] = b[axis] = 0;
            ok = (a == b);
        }
        if (!ok)
            fail("concat: along axis ", axis, " shapes ", to_string(s0), " and ", to_string(t.shape()),
                 " differ in another axis");
        sizes.push_back(t.shape()[axis]);
        out[axis] += t.shape()[axis];
    }
    int64_t outer, inner;
    split_around(out, axis, outer, inner);
    Tensor y = Tensor::empty(out, xs[0].device());
    const Kernels& k = kernels_for(y.device());
    run_op("concat", xs, y, [&] {
        int64_t start = 0;
        for (size_t i = 0; i < xs.size(); ++i) {
            // y[:, start : start + size_i, :] = x_i
            k.copy_axis_range(y.data(), out[axis], start, xs[i].data(), sizes[i], 0, sizes[i], outer, inner, false);
            start += sizes[i];
        }
    });
    if (auto* node = record<ConcatBackward>(y, xs)) {
        node->outer = outer;
        node->inner = inner;
        node->total = out[axis];
        node->sizes = sizes;
    }
    return y;
}

struct SliceBackward final : Node {
    SliceBackward() : Node("slice") {}
    int64_t outer = 0, inner = 0, axis_size = 0, start = 0, len = 0;
    void backward(const float* dy, float* const* dx) override {
        // dx[:, start : start + len, :] += dy
        if (dx[0])
            kernels_for(inputs[0].device()).copy_axis_range(dx[0], axis_size, start, dy, len, 0, len, outer, inner, true);
    }
};

Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end) {
    check_defined(x, "slice", "x");
    axis = normalize_axis(axis, x.dim(), "slice");
    const int64_t n = x.shape()[axis];
    if (start < 0 || end > n || start > end)
        fail("slice: range [", start, ", ", end, ") is outside axis ", axis, " of size ", n, " (shape ",
             to_string(x.shape()), ")");
    Shape out = x.shape();
    out[axis] = end - start;
    int64_t outer, inner;
    split_around(x.shape(), axis, outer, inner);
    Tensor y = Tensor::empty(out, x.device());
    run_op("slice", {&x}, y, [&] {
        kernels_for(x.device()).copy_axis_range(y.data(), end - start, 0, x.data(), n, start, end - start, outer, inner,
                                                false);
    });
    if (auto* node = record<SliceBackward>(y, {x})) {
        node->outer = outer;
        node->inner = inner;
        node->axis_size = n;
        node->start = start;
        node->len = end - start;
    }
    return y;
}

std::vector<Tensor> split(const Tensor& x, int axis, const std::vector<int64_t>& sizes) {
    check_defined(x, "split", "x");
    int ax = normalize_axis(axis, x.dim(), "split");
    int64_t total = std::accumulate(sizes.begin(), sizes.end(), (int64_t)0);
    if (total != x.shape()[ax])
        fail("split: sizes add up to ", total, " but axis ", ax, " of ", to_string(x.shape()), " has ", x.shape()[ax]);
    std::vector<Tensor> parts;
    int64_t start = 0;
    for (int64_t s : sizes) {
        parts.push_back(slice(x, ax, start, start + s));
        start += s;
    }
    return parts;
}

// --- nearest upsampling x2 and average pooling over (N, C, H, W). ----------------------------
static void check_nchw(const Tensor& x, const char* op) {
    check_defined(x, op, "x");
    if (x.dim() != 4) fail(op, ": expects (N, C, H, W), got shape ", to_string(x.shape()));
}

struct Upsample2xBackward final : Node {
    Upsample2xBackward() : Node("upsample2x") {}
    void backward(const float* dy, float* const* dx) override {
        const Shape& s = inputs[0].shape();
        if (dx[0]) kernels_for(inputs[0].device()).upsample2x_backward(dx[0], dy, s[0] * s[1], s[2], s[3]);
    }
};

Tensor upsample_nearest2x(const Tensor& x) {
    check_nchw(x, "upsample_nearest2x");
    const Shape& s = x.shape();
    Tensor y = Tensor::empty({s[0], s[1], 2 * s[2], 2 * s[3]}, x.device());
    run_op("upsample2x", {&x}, y, [&] { kernels_for(x.device()).upsample2x_forward(y.data(), x.data(), s[0] * s[1], s[2], s[3]); });
    record<Upsample2xBackward>(y, {x});
    return y;
}

struct AvgPool2dBackward final : Node {
    AvgPool2dBackward() : Node("avg_pool2d") {}
    int k = 1;
    void backward(const float* dy, float* const* dx) override {
        const Shape& s = inputs[0].shape();
        if (dx[0]) kernels_for(inputs[0].device()).avg_pool2d_backward(dx[0], dy, s[0] * s[1], s[2], s[3], k);
    }
};

Tensor avg_pool2d(const Tensor& x, int k) {
    check_nchw(x, "avg_pool2d");
    const Shape& s = x.shape();
    if (k < 1 || s[2] < k || s[3] < k)
        fail("avg_pool2d: window ", k, " does not fit input of shape ", to_string(s));
    Tensor y = Tensor::empty({s[0], s[1], s[2] / k, s[3] / k}, x.device());
    const Kernels& kern = kernels_for(x.device());
    run_op("avg_pool2d", {&x}, y, [&] { kern.avg_pool2d_forward(y.data(), x.data(), s[0] * s[1], s[2], s[3], k); });
    // (kern outside the lambda and std::vector(1, x), not {x}: else g++ 12 inlines this into a false
    // -Wfree-nonheap-object warning)
    if (auto* node = record<AvgPool2dBackward>(y, std::vector<Tensor>(1, x))) node->k = k;
    return y;
}

}  // namespace fw
