// Module: a node in a tree of layers that owns named parameters (and, rarely, buffers).
//
// Names are hierarchical, PyTorch-style: a parameter `weight` of the child `conv1` of the child
// `enc0` of the model is called "enc0.conv1.weight". A parity script in PyTorch mirrors these
// names one to one, and checkpoints (safetensors) key tensors by them.
//
// Order. parameters() walks the tree in pre-order, exactly as torch.nn.Module.named_parameters():
// first this module's own parameters in registration order, then each child's (recursively) in
// the order the children were registered. The order is therefore a function of the code only.
//
// Parameters vs buffers. A parameter is a leaf Tensor with requires_grad = true that optimizers
// update and the EMA averages. A buffer is state that is saved with the model but never trained
// nor averaged (none of our layers has one yet; the EMA test uses one).
//
// Ownership. A Module holds Tensor handles (shared with the layer's own `weight`, `bias` members)
// and NON-OWNING pointers to its children, which are members of the derived class. Modules are
// therefore neither copyable nor movable: the pointers would dangle.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace fw::nn {

class Module {
public:
    Module() = default;
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;
    Module(Module&&) = delete;
    Module& operator=(Module&&) = delete;

    NamedTensors parameters() const;           // pre-order, full dotted names (see above)
    NamedTensors buffers() const;              // same order and naming, buffers only
    int64_t num_parameters() const;            // total elements over parameters()
    Tensor parameter(const std::string& name) const;  // by full dotted name; fw::Error if absent
    void zero_grad();                          // drops every parameter's .grad (set-to-none)
    // Moves every parameter and buffer to `device` IN PLACE: the tensors keep their identity (a
    // handle taken before sees the moved data), their gradients are dropped. Make optimizers and
    // the EMA after moving, so their state is made on the same device.
    void to(Device device);

    // The dotted path of this module inside the tree it was registered into ("" for the root,
    // "enc0.conv1" for a grandchild). Error messages of layers start with it.
    const std::string& path() const { return path_; }
    // "enc0.conv1 (Conv2d 32->32 k3 s1 p1)", or "Conv2d 32->32 k3 s1 p1" for a root.
    std::string describe() const;
    virtual std::string type_name() const = 0;  // "Conv2d 32->32 k3 s1 p1"

protected:
    // Registers a leaf tensor under `name` (no dots; unique within this module) and sets
    // requires_grad on it. Returns the same handle, so `weight = register_parameter(...)`.
    Tensor register_parameter(const std::string& name, Tensor t);
    Tensor register_buffer(const std::string& name, Tensor t);
    // `child` must outlive this module (make it a member of the derived class).
    void register_module(const std::string& name, Module& child);

private:
    void check_new_name(const std::string& name, const char* what) const;
    void set_path(const std::string& path);  // and the children's, recursively
    void collect(const std::string& prefix, bool want_buffers, NamedTensors& out) const;

    std::string path_;
    NamedTensors params_, buffers_;
    std::vector<std::pair<std::string, Module*>> children_;
};

}  // namespace fw::nn
