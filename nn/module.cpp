// Module: registration, the pre-order walk that names parameters, and zero_grad.
#include "nn/module.h"

#include "core/error.h"

namespace fw::nn {

void Module::check_new_name(const std::string& name, const char* what) const {
    if (name.empty() || name.find('.') != std::string::npos)
        fail(describe(), ": ", what, " name '", name, "' must be non-empty and contain no '.'");
    for (const auto& p : params_)
        if (p.first == name) fail(describe(), ": ", what, " name '", name, "' is already a parameter");
    for (const auto& b : buffers_)
        if (b.first == name) fail(describe(), ": ", what, " name '", name, "' is already a buffer");
    for (const auto& c : children_)
        if (c.first == name) fail(describe(), ": ", what, " name '", name, "' is already a child module");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
    check_new_name(name, "parameter");
    if (!t.defined()) fail(describe(), ": parameter '", name, "' is an undefined tensor");
    if (!t.is_leaf()) fail(describe(), ": parameter '", name, "' must be a leaf tensor (made by no op)");
    t.set_requires_grad(true);
    t.impl()->name = path_.empty() ? name : path_ + "." + name;  // for pictures of the graph
    params_.emplace_back(name, t);
    return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
    check_new_name(name, "buffer");
    if (!t.defined()) fail(describe(), ": buffer '", name, "' is an undefined tensor");
    t.impl()->name = path_.empty() ? name : path_ + "." + name;
    buffers_.emplace_back(name, t);
    return t;
}

void Module::register_module(const std::string& name, Module& child) {
    check_new_name(name, "child module");
    if (&child == this) fail(describe(), ": cannot register a module as its own child");
    children_.emplace_back(name, &child);
    child.set_path(path_.empty() ? name : path_ + "." + name);
}

void Module::set_path(const std::string& path) {
    path_ = path;
    for (auto& p : params_) p.second.impl()->name = path_ + "." + p.first;  // full names, for graph pictures
    for (auto& b : buffers_) b.second.impl()->name = path_ + "." + b.first;
    for (auto& c : children_) c.second->set_path(path_ + "." + c.first);
}

std::string Module::describe() const {
    return path_.empty() ? type_name() : path_ + " (" + type_name() + ")";
}

// Pre-order: own tensors first, then each child under "prefix.child".
void Module::collect(const std::string& prefix, bool want_buffers, NamedTensors& out) const {
    for (const auto& p : want_buffers ? buffers_ : params_) out.emplace_back(prefix + p.first, p.second);
    for (const auto& c : children_) c.second->collect(prefix + c.first + ".", want_buffers, out);
}

NamedTensors Module::parameters() const {
    NamedTensors out;
    collect("", false, out);
    return out;
}

NamedTensors Module::buffers() const {
    NamedTensors out;
    collect("", true, out);
    return out;
}

int64_t Module::num_parameters() const {
    int64_t n = 0;
    for (const auto& p : parameters()) n += p.second.numel();
    return n;
}

Tensor Module::parameter(const std::string& name) const {
    for (const auto& p : parameters())
        if (p.first == name) return p.second;
    fail(describe(), ": no parameter named '", name, "'");
}

void Module::zero_grad() {
    for (auto& p : parameters()) p.second.zero_grad();
}

void Module::to(Device device) {
    NamedTensors all = parameters();
    for (auto& b : buffers()) all.push_back(b);
    for (auto& nt : all) {
        TensorImpl* impl = nt.second.impl();
        if (nt.second.device() == device) continue;
        Tensor moved = nt.second.to(device);  // a copy on the new device
        impl->storage = moved.impl()->storage;
        impl->offset = 0;
        impl->grad.reset();
    }
}

}  // namespace fw::nn
