#include "core/storage.h"

#include <cstdlib>
#include <new>

#include "core/error.h"

namespace fw {

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// 64-byte alignment: one AVX-512 register, one cache line.
static constexpr size_t kAlign = 64;

Storage::Storage(int64_t n, Device device) : n_(n), device_(device) {
    if (n < 0) fail("Storage: negative size ", n);
    if (device != Device::CPU) fail("Storage: device '", device_name(device), "' is not built in");
    size_t bytes = ((size_t)n * sizeof(float) + kAlign - 1) / kAlign * kAlign;
    if (bytes == 0) bytes = kAlign;
    data_ = static_cast<float*>(std::aligned_alloc(kAlign, bytes));
    if (!data_) throw std::bad_alloc();
}

Storage::~Storage() { std::free(data_); }

}  // namespace fw
