// Reverse-mode automatic differentiation.
//
// Every differentiable op, when it runs with grad mode on and an input that requires grad,
// records a Node on its output. A Node is a small struct named after the op's backward
// (`SiluBackward`, `Conv2dBackward`, ...) that holds
//   * `inputs`: the op's input tensors (strong references, so the graph stays alive as long as
//     its output does), and
//   * whatever the backward needs: saved inputs, saved outputs (as detached tensors, so a node
//     never owns its own output: no shared_ptr cycles), shapes, small statistics.
//
// backward() (run_backward) then:
//   1. collects every tensor reachable from the root through grad_fn, iteratively (an explicit
//      stack, no recursion, so a 100,000-op chain is fine), in topological order;
//   2. seeds d(root) and visits the tensors in REVERSE topological order, so a tensor's gradient
//      is complete (all its consumers have added their share) before its own Node runs;
//   3. calls node->backward(dy, dx), which ACCUMULATES (+=) into dx[i] for each input i:
//      a tensor used twice (the "diamond") receives the sum of both contributions (the first
//      contribution may be written instead, into an uninitialised buffer: Node::overwrites_gradient);
//   4. frees each intermediate gradient as soon as its Node has run; leaves accumulate
//      into their persistent `.grad`.
//
// Calling backward() twice on the same graph accumulates twice (2x the gradient): Nodes keep
// their saved tensors until the graph is released. zero_grad() resets a leaf.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace fw {

struct Node {
    // `name` must be one of the differentiable ops listed in core/op_table.h; the constructor
    // checks it, so a new op cannot skip the table (and its gradient-check coverage test).
    explicit Node(const char* name);
    virtual ~Node();  // releases the graph behind it iteratively (see autograd.cpp)
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // dy: gradient w.r.t. this op's output (contiguous, numel(output) floats).
    // dx[i]: where to ACCUMULATE the gradient of inputs[i], or nullptr when input i needs none;
    // or, where is_fresh(i), where to WRITE it (see overwrites_gradient).
    virtual void backward(const float* dy, float* const* dx) = 0;

    // Whether backward() can write (=) the whole gradient of input i instead of adding to it. For
    // such an input, run_backward hands the first gradient buffer it makes as it is, uninitialised,
    // with is_fresh(i) true for that call, instead of zero-filling it for backward to add into:
    // the fill and the read of the zeros are a write and a read of every gradient in the graph
    // (239 MB a UNet-S training step at batch 64). A later consumer of the same input (the
    // "diamond") gets the buffer as it is then, to add into, with is_fresh false.
    virtual bool overwrites_gradient(size_t i) const { (void)i; return false; }
    // Whether the gradient of input i is exactly dy (an input of the output's own shape, passed
    // through: add). Then, when input i has no gradient yet, run_backward makes dy's own buffer that
    // gradient (nothing copied) and hands backward() dx[i] = nullptr; at most one input per call.
    virtual bool passes_gradient(size_t i) const { (void)i; return false; }
    bool is_fresh(size_t i) const { return i < 64 && (fresh_ >> i & 1u); }

    const char* name;
    std::vector<Tensor> inputs;

private:
    friend void run_backward(const Tensor& root, const Tensor& grad_output);
    uint64_t fresh_ = 0;  // bit i: dx[i] of the backward() now running is a new, uninitialised buffer
};

// Grad mode: on by default, per thread.
bool grad_enabled();

// While alive, ops record nothing and produce tensors that do not require grad (sampling,
// EMA updates, optimizer steps). Restores the previous mode on destruction.
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

// For op implementations. If grad mode is on and any of `inputs` requires grad, creates a
// NodeT, stores `inputs` in it, attaches it to `out` (which then requires grad) and returns it
// so the caller can save what backward needs. Otherwise returns nullptr and records nothing.
template <typename NodeT, typename... CtorArgs>
NodeT* record(Tensor& out, std::vector<Tensor> inputs, CtorArgs&&... ctor_args) {
    if (!grad_enabled()) return nullptr;
    bool any = false;
    for (const Tensor& t : inputs) any = any || t.requires_grad();
    if (!any) return nullptr;
    auto node = std::make_shared<NodeT>(std::forward<CtorArgs>(ctor_args)...);
    node->inputs = std::move(inputs);
    out.impl()->requires_grad = true;
    out.impl()->grad_fn = node;
    return node.get();
}

// The engine behind Tensor::backward. grad_output has root's shape.
void run_backward(const Tensor& root, const Tensor& grad_output);

}  // namespace fw
