// Storage: one owned, 64-byte aligned float buffer on one device. Tensors that are views of
// each other (reshape, detach) share one Storage through a shared_ptr; the buffer is freed when
// the last of them goes away (RAII, no manual free anywhere).
#pragma once

#include <cstdint>
#include <memory>

namespace fw {

enum class Device { CPU, CUDA };
const char* device_name(Device d);  // "cpu" / "cuda"

class Storage {
public:
    Storage(int64_t n, Device device);  // uninitialised: callers that need zeros fill them
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    float* data() { return data_; }
    const float* data() const { return data_; }
    int64_t size() const { return n_; }
    Device device() const { return device_; }

private:
    float* data_ = nullptr;
    int64_t n_ = 0;
    Device device_;
};

}  // namespace fw
