#include "core/storage.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/cuda/backend.h"
#include "core/error.h"

namespace fw {

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// 64-byte alignment: one AVX-512 register, one cache line.
static constexpr size_t kAlign = 64;

// A simple caching allocator, one per device. A training step allocates the same sizes in the same order every
// step, so a freed buffer is kept in a list for its exact size and handed out again: the steady
// state allocates nothing from the system and touches no fresh pages (fresh pages cost a page
// fault and a zero-fill each, ~4% of a step without the cache). Cached bytes are capped; under
// AddressSanitizer the host cache is off so that a use after free is still caught. The CUDA pool
// caches always (ASan does not see device memory, and cudaMalloc/cudaFree synchronise the device,
// which would stall every op). A cached device buffer is reused by later work on the same stream,
// which runs after every earlier reader of it: no synchronisation is needed.
namespace {
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kMaxCachedBytes = 0;
#else
constexpr size_t kMaxCachedBytes = size_t(2) << 30;  // 2 GiB
#endif
constexpr size_t kMaxCachedDeviceBytes = size_t(8) << 30;  // 8 GiB

void* system_alloc(Device d, size_t bytes) {
    if (d == Device::CUDA) return cuda::device_malloc(bytes);  // 256-byte aligned by cudaMalloc
    void* p = std::aligned_alloc(kAlign, bytes);
    if (!p) throw std::bad_alloc();
    return p;
}
void system_free(Device d, void* p) {
    if (d == Device::CUDA) cuda::device_free(p);
    else std::free(p);
}

struct Pool {
    Pool(Device d, size_t max) : device(d), max_cached(max) {}
    Device device;
    size_t max_cached;
    std::mutex mu;
    std::unordered_map<size_t, std::vector<void*>> free_lists;  // bytes -> cached buffers
    MemoryStats stats;

    void* take(size_t bytes) {
        std::lock_guard<std::mutex> lock(mu);
        auto it = free_lists.find(bytes);
        if (it != free_lists.end() && !it->second.empty()) {
            void* p = it->second.back();
            it->second.pop_back();
            stats.cached_bytes -= bytes;
            count_live(bytes);
            return p;
        }
        void* p = nullptr;
        try {
            p = system_alloc(device, bytes);  // throws before the stats count it
        } catch (const std::exception&) {
            // Out of memory, maybe only because the cache holds buffers of other sizes (the batch
            // size changed, say): hand the cache back to the system and ask once more.
            if (stats.cached_bytes == 0) throw;
            release_cache();
            p = system_alloc(device, bytes);
        }
        ++stats.system_allocations;
        count_live(bytes);
        return p;
    }

    // Every cached buffer back to the system. On the GPU, work still queued may read a buffer
    // that was cached after its last use was queued: wait for it first.
    void release_cache() {
        if (device == Device::CUDA) cuda::synchronize();
        for (auto& [size, list] : free_lists)
            for (void* p : list) system_free(device, p);
        free_lists.clear();
        stats.cached_bytes = 0;
    }

    void count_live(size_t bytes) {
        stats.live_bytes += bytes;
        if (stats.live_bytes > stats.peak_live_bytes) stats.peak_live_bytes = stats.live_bytes;
    }

    void give_back(void* p, size_t bytes) {
        std::lock_guard<std::mutex> lock(mu);
        stats.live_bytes -= bytes;
        if (stats.cached_bytes + bytes > max_cached) {  // (a GPU buffer: cudaFree waits for the device)
            system_free(device, p);
            return;
        }
        free_lists[bytes].push_back(p);
        stats.cached_bytes += bytes;
    }
};

Pool& pool(Device d) {
    // never destroyed: tensors in static objects may outlive main
    static Pool* host = new Pool(Device::CPU, kMaxCachedBytes);
    static Pool* device = new Pool(Device::CUDA, kMaxCachedDeviceBytes);
    return d == Device::CUDA ? *device : *host;
}
}  // namespace

MemoryStats memory_stats(Device d) {
    std::lock_guard<std::mutex> lock(pool(d).mu);
    return pool(d).stats;
}

void reset_peak_memory(Device d) {
    std::lock_guard<std::mutex> lock(pool(d).mu);
    pool(d).stats.peak_live_bytes = pool(d).stats.live_bytes;
}

static size_t padded_bytes(int64_t n) {
    size_t bytes = ((size_t)n * sizeof(float) + kAlign - 1) / kAlign * kAlign;
    return bytes == 0 ? kAlign : bytes;
}

Storage::Storage(int64_t n, Device device) : n_(n), device_(device) {
    if (n < 0) fail("Storage: negative size ", n);
    if (device == Device::CUDA && !cuda_available())
        fail("Storage: cannot allocate ", n, " floats on cuda: ", cuda_unavailable_reason());
    data_ = static_cast<float*>(pool(device).take(padded_bytes(n)));
}

Storage::~Storage() { pool(device_).give_back(data_, padded_bytes(n_)); }

}  // namespace fw
