#include "core/storage.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace fw {

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// 64-byte alignment: one AVX-512 register, one cache line.
static constexpr size_t kAlign = 64;

// A simple caching allocator. A training step allocates the same sizes in the same order every
// step, so a freed buffer is kept in a list for its exact size and handed out again: the steady
// state allocates nothing from the system and touches no fresh pages (fresh pages cost a page
// fault and a zero-fill each, ~4% of a step without the cache). Cached bytes are capped; under
// AddressSanitizer the cache is off so that a use after free is still caught.
namespace {
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kMaxCachedBytes = 0;
#else
constexpr size_t kMaxCachedBytes = size_t(2) << 30;  // 2 GiB
#endif

struct Pool {
    std::mutex mu;
    std::unordered_map<size_t, std::vector<void*>> free_lists;  // bytes -> cached buffers
    MemoryStats stats;

    void* take(size_t bytes) {
        std::lock_guard<std::mutex> lock(mu);
        stats.live_bytes += bytes;
        if (stats.live_bytes > stats.peak_live_bytes) stats.peak_live_bytes = stats.live_bytes;
        auto it = free_lists.find(bytes);
        if (it != free_lists.end() && !it->second.empty()) {
            void* p = it->second.back();
            it->second.pop_back();
            stats.cached_bytes -= bytes;
            return p;
        }
        ++stats.system_allocations;
        void* p = std::aligned_alloc(kAlign, bytes);
        if (!p) throw std::bad_alloc();
        return p;
    }

    void give_back(void* p, size_t bytes) {
        std::lock_guard<std::mutex> lock(mu);
        stats.live_bytes -= bytes;
        if (stats.cached_bytes + bytes > kMaxCachedBytes) {
            std::free(p);
            return;
        }
        free_lists[bytes].push_back(p);
        stats.cached_bytes += bytes;
    }
};

Pool& pool() {
    static Pool* p = new Pool;  // never destroyed: tensors in static objects may outlive main
    return *p;
}
}  // namespace

MemoryStats memory_stats() {
    std::lock_guard<std::mutex> lock(pool().mu);
    return pool().stats;
}

void reset_peak_memory() {
    std::lock_guard<std::mutex> lock(pool().mu);
    pool().stats.peak_live_bytes = pool().stats.live_bytes;
}

static size_t padded_bytes(int64_t n) {
    size_t bytes = ((size_t)n * sizeof(float) + kAlign - 1) / kAlign * kAlign;
    return bytes == 0 ? kAlign : bytes;
}

Storage::Storage(int64_t n, Device device) : n_(n), device_(device) {
    if (n < 0) fail("Storage: negative size ", n);
    if (device != Device::CPU) fail("Storage: device '", device_name(device), "' is not built in");
    data_ = static_cast<float*>(pool().take(padded_bytes(n)));
}

Storage::~Storage() { pool().give_back(data_, padded_bytes(n_)); }

}  // namespace fw
