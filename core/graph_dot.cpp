#include "core/graph_dot.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"

namespace fw {

static std::string dims(const Shape& s) {
    std::string r = "(";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
    return r + ")";
}

std::string graph_dot(const Tensor& root) {
    // Post-order walk from the root (an explicit stack: a long chain is fine): a tensor is numbered
    // when all its inputs are, so ids run in data-flow order.
    std::unordered_map<const TensorImpl*, int> id;
    std::vector<const TensorImpl*> order;
    struct Frame {
        const TensorImpl* t;
        size_t next;
    };
    std::vector<Frame> stack;
    std::unordered_map<const TensorImpl*, bool> on_stack;
    if (root.defined()) {
        stack.push_back({root.impl(), 0});
        on_stack[root.impl()] = true;
    }
    while (!stack.empty()) {
        Frame& f = stack.back();
        const Node* node = f.t->grad_fn.get();
        if (node && f.next < node->inputs.size()) {
            const TensorImpl* in = node->inputs[f.next++].impl();
            if (!id.count(in) && !on_stack[in]) {
                on_stack[in] = true;
                stack.push_back({in, 0});
            }
            continue;
        }
        id[f.t] = (int)order.size();
        order.push_back(f.t);
        stack.pop_back();
    }

    std::ostringstream os;
    os << "digraph autograd {\n"
       << "  rankdir=TB;\n"
       << "  node [fontname=\"Helvetica\", fontsize=10];\n";
    for (const TensorImpl* t : order) {
        os << "  t" << id[t] << " [label=\"";
        if (t->grad_fn) {
            os << t->grad_fn->name << "\\n" << dims(t->shape) << "\", shape=box, style=filled, fillcolor=\"#dbe8f7\"";
        } else if (t->requires_grad) {
            os << (t->name.empty() ? std::string("leaf") : t->name) << "\\n" << dims(t->shape)
               << "\", shape=ellipse, style=filled, fillcolor=\"#fde3b0\"";
        } else {
            os << (t->name.empty() ? std::string("input") : t->name) << "\\n" << dims(t->shape)
               << "\", shape=ellipse, style=filled, fillcolor=\"#eeeeee\"";
        }
        os << "];\n";
    }
    for (const TensorImpl* t : order)
        if (t->grad_fn)
            for (const Tensor& in : t->grad_fn->inputs) os << "  t" << id[in.impl()] << " -> t" << id[t] << ";\n";
    os << "}\n";
    return os.str();
}

void write_dot(const Tensor& root, const std::string& path) {
    const std::string text = graph_dot(root);
    const std::string tmp = path + ".tmp." + std::to_string((long)::getpid());
    {
        std::ofstream f(tmp, std::ios::binary);
        if (!f) fail(path, ": cannot write the graph (creating '", tmp, "'): ", std::strerror(errno ? errno : EIO));
        f << text;
        f.flush();
        if (!f) {
            std::remove(tmp.c_str());
            fail(path, ": cannot write the graph (writing '", tmp, "')");
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp.c_str());
        fail(path, ": cannot write the graph (renaming '", tmp, "'): ", std::strerror(err));
    }
}

}  // namespace fw
