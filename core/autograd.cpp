#include "core/autograd.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/op_table.h"
#include "core/watch.h"

namespace fw {

Node::Node(const char* name_) : name(name_) {
    FW_ASSERT(find_op(name_) != nullptr, "op '", name_, "' records a Node but is missing from core/op_table.cpp");
}

// Releasing the last reference to a long chain would otherwise recurse: ~Node drops an input,
// whose TensorImpl drops its grad_fn, whose ~Node drops its input, ... one stack frame set per
// op (a 100,000-op chain overflows the stack, under ASan sooner). Instead, a dying Node takes
// over the inputs of every node that dies with it and releases them from a flat worklist.
Node::~Node() {
    std::vector<Tensor> pending = std::move(inputs);
    while (!pending.empty()) {
        Tensor t = std::move(pending.back());
        pending.pop_back();
        TensorImpl* impl = t.impl();
        if (impl && t.impl_ptr().use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1) {
            for (Tensor& in : impl->grad_fn->inputs) pending.push_back(std::move(in));
            impl->grad_fn->inputs.clear();
        }
    }  // each `t` dies here with no inputs left behind it: no recursion
}

static thread_local bool g_grad_enabled = true;

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

// Topological order of the non-leaf tensors reachable from root: every tensor comes after all
// the tensors its grad_fn reads. Iterative post-order DFS with an explicit stack.
static std::vector<TensorImpl*> topological_order(TensorImpl* root) {
    std::vector<TensorImpl*> order;
    std::unordered_set<TensorImpl*> visited;
    struct Frame {
        TensorImpl* t;
        size_t next_input;
    };
    std::vector<Frame> stack;
    if (root->grad_fn) {
        stack.push_back({root, 0});
        visited.insert(root);
    }
    while (!stack.empty()) {
        Frame& f = stack.back();
        const std::vector<Tensor>& inputs = f.t->grad_fn->inputs;
        if (f.next_input < inputs.size()) {
            TensorImpl* in = inputs[f.next_input++].impl();
            if (in->grad_fn && in->requires_grad && visited.insert(in).second) stack.push_back({in, 0});
        } else {
            order.push_back(f.t);  // all inputs done: post-order
            stack.pop_back();
        }
    }
    return order;
}

static float* leaf_grad(TensorImpl* leaf) {
    if (!leaf->grad) {
        leaf->grad = Tensor::zeros(leaf->shape, leaf->storage->device()).impl_ptr();
    }
    return leaf->grad->storage->data() + leaf->grad->offset;
}

void run_backward(const Tensor& root, const Tensor& grad_output) {
    TensorImpl* r = root.impl();
    if (!r->requires_grad)
        fail("backward(): the tensor does not require grad (no input of the ops that made it requires grad, "
             "or it was computed under NoGradGuard)");
    check_same_device(root, grad_output, "backward");
    if (!r->grad_fn) {  // backward() on a leaf: its gradient is the seed itself (g += seed)
        float* g = leaf_grad(r);
        kernels_for(root.device()).axpy(g, grad_output.data(), 1.0f, root.numel());
        return;
    }

    // Gradients of intermediate (non-leaf) tensors, alive only until their Node has run.
    std::unordered_map<TensorImpl*, Tensor> grads;
    grads[r] = grad_output.clone();

    graph_of_first_backward(root);  // FW_GRAPH=file.dot (core/watch.h)
    std::vector<TensorImpl*> order = topological_order(r);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        TensorImpl* t = *it;
        Node& node = *t->grad_fn;
        auto found = grads.find(t);
        FW_ASSERT(found != grads.end(), "no gradient reached '", node.name, "'");
        Tensor dy = std::move(found->second);
        grads.erase(found);

        // FW_TRACE / FW_PROFILE (core/watch.h): the backward of each op is watched here, in one
        // place; its time includes making (zero-filled) buffers for the gradients it adds into.
        std::optional<OpWatch> watch;
        if (watching()) {
            watch.emplace(node.name, Pass::Backward, dy.device());
            watch->gradient_in(dy);
        }
        std::vector<float*> dx(node.inputs.size(), nullptr);
        node.fresh_ = 0;
        size_t passed = node.inputs.size();  // the input whose gradient became dy's buffer, if any
        for (size_t i = 0; i < node.inputs.size(); ++i) {
            TensorImpl* in = node.inputs[i].impl();
            if (!in->requires_grad) continue;
            if (!in->grad_fn) {
                dx[i] = leaf_grad(in);
            } else {
                Tensor& g = grads[in];
                if (!g.defined()) {
                    // the first gradient for `in`; `alone`: `in` is no other input of this node (x + x)
                    bool alone = true;
                    for (size_t j = 0; alone && j < node.inputs.size(); ++j) alone = j == i || node.inputs[j].impl() != in;
                    // dy itself, when backward would copy it and nothing else holds dy's buffer
                    if (alone && passed == node.inputs.size() && node.passes_gradient(i) && dy.impl_ptr().use_count() == 1 &&
                        dy.impl()->storage.use_count() == 1 && dy.shape() == in->shape) {
                        g = dy;
                        passed = i;
                        continue;  // dx[i] stays null: nothing for backward to add
                    }
                    // else backward writes it whole, or adds to zeros
                    const bool fresh = alone && i < 64 && node.overwrites_gradient(i);
                    g = fresh ? Tensor::empty(in->shape, in->storage->device())
                              : Tensor::zeros(in->shape, in->storage->device());
                    if (fresh) node.fresh_ |= uint64_t(1) << i;
                }
                dx[i] = g.data();
            }
        }
        node.backward(dy.data(), dx.data());
        node.fresh_ = 0;
        if (!watch) continue;
        for (size_t i = 0; i < node.inputs.size(); ++i) {
            TensorImpl* in = node.inputs[i].impl();
            if (i == passed) watch->gradient_out(grads[in], true);
            else if (dx[i] == nullptr) watch->gradient_out(node.inputs[i], false);
            else if (!in->grad_fn) watch->gradient_out(Tensor(in->grad), true);
            else watch->gradient_out(grads[in], true);
        }
        watch->finish();
    }
}

}  // namespace fw
