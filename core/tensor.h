// Tensor: a float32 N-d array, contiguous and row-major, with reverse-mode autograd.
//
// A Tensor is a cheap handle (a shared_ptr) to a TensorImpl. Copying a Tensor copies the handle,
// not the data: `Tensor b = a;` makes b and a the same tensor. Views (reshape, detach) make a new
// TensorImpl that shares the Storage: writing through one is seen through the other.
//
// Autograd in one paragraph: an op whose inputs require grad (while grad mode is on) attaches a
// Node to its output (`grad_fn`). The Node holds the op's inputs and whatever its backward needs.
// `loss.backward()` walks those Nodes from the loss back to the leaves in reverse topological
// order and ACCUMULATES (+=) gradients into the leaves' `.grad`. See core/autograd.h.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/shape.h"
#include "core/storage.h"

namespace fw {

struct Node;
class Generator;

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    int64_t offset = 0;                 // first element inside storage (views)
    Shape shape;
    bool requires_grad = false;
    std::shared_ptr<TensorImpl> grad;   // leaves only: accumulated by backward(), same shape
    std::shared_ptr<Node> grad_fn;      // non-leaves only: the op that produced this tensor
    std::string name;                   // a parameter's full name ("enc0.conv1.weight"), set by
                                        // nn::Module; "" otherwise. Only pictures read it (graph_dot.h)
};

class Tensor {
public:
    Tensor() = default;  // an undefined tensor: defined() == false
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    // --- construction ------------------------------------------------------------------
    static Tensor empty(const Shape& shape, Device device = Device::CPU);  // uninitialised
    static Tensor zeros(const Shape& shape, Device device = Device::CPU);
    static Tensor ones(const Shape& shape, Device device = Device::CPU);
    static Tensor full(const Shape& shape, float value, Device device = Device::CPU);
    static Tensor from_vector(const Shape& shape, const std::vector<float>& values, Device device = Device::CPU);
    static Tensor scalar(float value);  // 0-d

    // --- what it is ----------------------------------------------------------------------
    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const;
    int dim() const { return (int)shape().size(); }
    int64_t size(int axis) const;        // negative axes count from the end
    int64_t numel() const { return fw::numel(shape()); }
    Device device() const;

    // Contiguous, numel() floats on the tensor's device: for a CUDA tensor a DEVICE pointer,
    // which only CUDA kernels may dereference (host code copies with to_vector() or to(cpu)).
    float* data();
    const float* data() const;
    float item() const;                  // the value of a 1-element tensor (copied to the host)
    std::vector<float> to_vector() const;  // the values on the host, from any device

    // An explicit copy to `device`, with no autograd history (a new leaf, requires_grad off).
    // On the same device it returns *this itself (no copy, same storage), as PyTorch does; use
    // clone() for a copy. Move parameters and inputs before building a graph.
    Tensor to(Device device) const;

    // --- autograd ------------------------------------------------------------------------
    bool requires_grad() const;
    Tensor& set_requires_grad(bool on);  // leaves only
    bool is_leaf() const;                // no grad_fn
    Tensor grad() const;                 // undefined until a backward() reaches this leaf
    void zero_grad();                    // drops the accumulated gradient
    const char* grad_fn_name() const;    // the op that made it, or nullptr for a leaf

    // Reverse-mode AD from this tensor. Without an argument it must hold one element (a loss)
    // and the seed gradient is 1. Calling backward() twice on the same graph accumulates
    // twice: the graph keeps what it saved until the last Tensor referring to it is released.
    void backward() const;
    void backward(const Tensor& grad_output) const;

    // A new tensor sharing this one's storage, with no grad_fn and requires_grad = false.
    Tensor detach() const;
    Tensor clone() const;                // a copy of the data on the same device, no autograd history

    // --- printing: "Tensor[2, 3] cpu requires_grad {0.1, 0.2, ...}" ------------------------
    std::string to_string(int max_values = 8) const;

    TensorImpl* impl() const { return impl_.get(); }
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

private:
    std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Tensors with names, in order: a model's parameters ("enc0.conv1.weight", ...), a checkpoint.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// dst's values = src's values (same number of elements, any two devices); no autograd.
void copy_into(Tensor& dst, const Tensor& src);

// Checks used by ops: a defined tensor; two tensors on one device ("<op>: tensors on different
// devices (cpu and cuda); ..."); a tensor on the CPU, for code that reads data() on the host.
void check_defined(const Tensor& t, const char* op, const char* what);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_cpu(const Tensor& t, const char* op);

}  // namespace fw
