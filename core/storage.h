// Storage: one owned, 64-byte aligned float buffer on one device (host memory, or GPU memory
// for Device::CUDA: then data() is a device pointer, to be dereferenced only by CUDA kernels). Tensors that are views of
// each other (reshape, detach) share one Storage through a shared_ptr; the buffer is freed when
// the last of them goes away (RAII, no manual free anywhere).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace fw {

enum class Device { CPU, CUDA };
const char* device_name(Device d);  // "cpu" / "cuda"

// Memory accounting per device (bytes of tensor storage). Freed buffers are cached for reuse by
// size (see storage.cpp), so after the first training step no step allocates from the system
// (malloc on the host, cudaMalloc on a GPU).
struct MemoryStats {
    size_t live_bytes = 0;          // held by live Storage objects now
    size_t peak_live_bytes = 0;     // the most ever held at once (since reset_peak_memory)
    size_t cached_bytes = 0;        // freed, kept for reuse
    size_t system_allocations = 0;  // times the cache had to ask the system
};
MemoryStats memory_stats(Device d = Device::CPU);
void reset_peak_memory(Device d = Device::CPU);

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
