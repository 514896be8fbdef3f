#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "core/autograd.h"
#include "core/cuda/backend.h"
#include "core/error.h"
#include "core/parallel.h"

namespace fw {

static std::shared_ptr<TensorImpl> new_impl(const Shape& shape, Device device) {
    for (int64_t d : shape)
        if (d < 0) fail("Tensor: negative size in shape ", fw::to_string(shape));
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(fw::numel(shape), device);
    impl->shape = shape;
    return impl;
}

Tensor Tensor::empty(const Shape& shape, Device device) { return Tensor(new_impl(shape, device)); }

Tensor Tensor::full(const Shape& shape, float value, Device device) {
    Tensor t = empty(shape, device);
    if (device == Device::CUDA) {
        cuda::fill(t.data(), value, t.numel());
        return t;
    }
    // Gradient buffers start as zeros: large fills are split over the threads (64K floats a task).
    // Zeros by memset (wide stores; GCC -O2 left std::fill a loop of 4-byte stores: 5.7% of a
    // 1-thread training step). +0.0f only: -0.0f has its sign bit set.
    const int64_t n = t.numel(), chunk = 65536;
    float* p = t.data();
    const bool zero = value == 0.0f && !std::signbit(value);
    parallel_for((n + chunk - 1) / chunk, [&](int64_t c) {
        const int64_t begin = c * chunk, end = std::min(n, begin + chunk);
        if (zero) std::memset(p + begin, 0, (size_t)(end - begin) * sizeof(float));
        else std::fill(p + begin, p + end, value);
    });
    return t;
}
Tensor Tensor::zeros(const Shape& shape, Device device) { return full(shape, 0.0f, device); }
Tensor Tensor::ones(const Shape& shape, Device device) { return full(shape, 1.0f, device); }
Tensor Tensor::scalar(float value) { return full({}, value); }

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values, Device device) {
    if ((int64_t)values.size() != fw::numel(shape))
        fail("Tensor::from_vector: shape ", fw::to_string(shape), " holds ", fw::numel(shape),
             " values but ", values.size(), " were given");
    Tensor t = empty(shape, device);
    if (device == Device::CUDA) cuda::copy_host_to_device(t.data(), values.data(), sizeof(float) * values.size());
    else std::copy(values.begin(), values.end(), t.data());
    return t;
}

const Shape& Tensor::shape() const {
    FW_ASSERT(impl_, "shape() of an undefined tensor");
    return impl_->shape;
}

int64_t Tensor::size(int axis) const { return shape()[normalize_axis(axis, dim(), "Tensor::size")]; }

Device Tensor::device() const { return impl_->storage->device(); }

float* Tensor::data() {
    FW_ASSERT(impl_, "data() of an undefined tensor");
    return impl_->storage->data() + impl_->offset;
}
const float* Tensor::data() const {
    FW_ASSERT(impl_, "data() of an undefined tensor");
    return impl_->storage->data() + impl_->offset;
}

float Tensor::item() const {
    if (numel() != 1) fail("Tensor::item: tensor of shape ", fw::to_string(shape()), " has ", numel(), " elements, not 1");
    if (device() == Device::CPU) return data()[0];
    float v = 0.0f;
    cuda::copy_device_to_host(&v, data(), sizeof(float));
    return v;
}

std::vector<float> Tensor::to_vector() const {
    if (device() == Device::CPU) return std::vector<float>(data(), data() + numel());
    std::vector<float> v((size_t)numel());
    cuda::copy_device_to_host(v.data(), data(), sizeof(float) * v.size());
    return v;
}

Tensor Tensor::to(Device device) const {
    FW_ASSERT(impl_, "to() of an undefined tensor");
    if (device == this->device()) return *this;
    Tensor t = empty(shape(), device);
    copy_into(t, *this);
    return t;
}

void copy_into(Tensor& dst, const Tensor& src) {
    if (dst.numel() != src.numel())
        fail("copy_into: destination ", fw::to_string(dst.shape()), " and source ", fw::to_string(src.shape()),
             " hold different numbers of elements");
    const size_t bytes = sizeof(float) * (size_t)src.numel();
    if (bytes == 0) return;
    const bool dst_gpu = dst.device() == Device::CUDA, src_gpu = src.device() == Device::CUDA;
    if (!dst_gpu && !src_gpu) std::memcpy(dst.data(), src.data(), bytes);
    else if (dst_gpu && !src_gpu) cuda::copy_host_to_device(dst.data(), src.data(), bytes);
    else if (!dst_gpu && src_gpu) cuda::copy_device_to_host(dst.data(), src.data(), bytes);
    else cuda::copy_device_to_device(dst.data(), src.data(), bytes);
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
    FW_ASSERT(impl_, "set_requires_grad on an undefined tensor");
    if (impl_->grad_fn)
        fail("set_requires_grad: tensor made by '", impl_->grad_fn->name,
             "' is not a leaf; call detach() first to make a new leaf");
    impl_->requires_grad = on;
    return *this;
}

bool Tensor::is_leaf() const { return !impl_->grad_fn; }

Tensor Tensor::grad() const { return Tensor(impl_->grad); }

void Tensor::zero_grad() { impl_->grad.reset(); }

const char* Tensor::grad_fn_name() const { return impl_->grad_fn ? impl_->grad_fn->name : nullptr; }

void Tensor::backward() const {
    if (numel() != 1)
        fail("backward(): called on a tensor of shape ", fw::to_string(shape()),
             "; without a gradient argument it needs a single element (a loss)");
    run_backward(*this, Tensor::ones(shape(), device()));
}

void Tensor::backward(const Tensor& grad_output) const {
    if (grad_output.shape() != shape())
        fail("backward(grad): grad has shape ", fw::to_string(grad_output.shape()), " but the tensor has shape ",
             fw::to_string(shape()));
    run_backward(*this, grad_output);
}

Tensor Tensor::detach() const {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = impl_->storage;
    impl->offset = impl_->offset;
    impl->shape = impl_->shape;
    return Tensor(impl);
}

Tensor Tensor::clone() const {
    Tensor t = empty(shape(), device());
    copy_into(t, *this);
    return t;
}

std::string Tensor::to_string(int max_values) const {
    if (!impl_) return "Tensor(undefined)";
    std::ostringstream os;
    os << "Tensor" << fw::to_string(shape()) << " " << device_name(device());
    if (requires_grad()) os << " requires_grad";
    if (impl_->grad_fn) os << " grad_fn=" << impl_->grad_fn->name;
    os << " {";
    int64_t n = std::min<int64_t>(numel(), max_values);
    // a CUDA tensor's first values are copied to the host to be printed
    std::vector<float> first = (device() == Device::CPU) ? std::vector<float>(data(), data() + n) : to_vector();
    for (int64_t i = 0; i < n; ++i) os << (i ? ", " : "") << first[i];
    if (numel() > n) os << ", ... (" << numel() << " values)";
    os << "}";
    return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

void check_defined(const Tensor& t, const char* op, const char* what) {
    if (!t.defined()) fail(op, ": ", what, " is an undefined tensor");
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
    if (a.device() != b.device())
        fail(op, ": tensors on different devices (", device_name(a.device()), " and ", device_name(b.device()),
             "); move one with .to(device) first");
}

void check_cpu(const Tensor& t, const char* op) {
    if (t.defined() && t.device() != Device::CPU)
        fail(op, ": needs a cpu tensor, got one on ", device_name(t.device()), " (copy it with .to(Device::CPU))");
}

}  // namespace fw
