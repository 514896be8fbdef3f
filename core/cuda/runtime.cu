// The CUDA runtime seam (core/cuda/runtime.h) and the plain-C++ API of core/cuda/backend.h:
// error checks, the one stream, the scratch workspace, device memory and copies.
#include "core/cuda/runtime.h"

#include <cstdlib>
#include <string>

#include "core/cuda/backend.h"
#include "core/error.h"

namespace fw {
namespace cuda {

void check(cudaError_t status, const char* what, const char* file, int line) {
    if (status == cudaSuccess) return;
    cudaGetLastError();  // clear a non-sticky error so the next check does not report it again
    fail("CUDA error in ", what, " at ", file, ":", line, ": ", cudaGetErrorString(status));
}

// FW_CUDA_SYNC=1: every launch waits for its kernel, so a fault inside a kernel (an illegal
// address, say) is reported at the launch that caused it, not at the next copy. Read once.
static bool sync_launches() {
    static const bool on = [] {
        const char* v = std::getenv("FW_CUDA_SYNC");
        if (!v || std::string(v).empty() || std::string(v) == "0") return false;
        if (std::string(v) == "1") return true;
        fail("FW_CUDA_SYNC='", v, "': allowed values are 0 (launches run ahead, the default) and 1 (each waits)");
    }();
    return on;
}

void check_launch(const char* what, const char* file, int line) {
    check(cudaGetLastError(), what, file, line);
    if (sync_launches()) check(cudaStreamSynchronize(stream()), what, file, line);
}

// One non-blocking stream for everything: kernels and copies are ordered on it, so a buffer
// freed into the cache and handed out again is only written after its last reader has run.
cudaStream_t stream() {
    static cudaStream_t s = [] {
        cudaStream_t created = nullptr;
        FW_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
        return created;
    }();
    return s;
}

void* workspace(size_t bytes) {
    static void* buf = nullptr;
    static size_t capacity = 0;
    if (bytes > capacity) {
        // The kernels queued so far may still read the old buffer: wait for them before freeing
        // it (growing is rare: the first calls of the largest shape).
        if (buf) {
            FW_CUDA_CHECK(cudaStreamSynchronize(stream()));
            FW_CUDA_CHECK(cudaFree(buf));
        }
        buf = nullptr;
        capacity = 0;
        FW_CUDA_CHECK(cudaMalloc(&buf, bytes));
        capacity = bytes;
    }
    return buf;
}

void* device_malloc(size_t bytes) {
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes);
    if (status == cudaSuccess) return p;
    cudaGetLastError();  // out of memory is not sticky: clear it
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) cudaGetLastError();
    fail("cuda: cannot allocate ", bytes, " bytes on the GPU (", free_bytes >> 20, " MiB free of ", total_bytes >> 20,
         " MiB): ", cudaGetErrorString(status));
}

void device_free(void* dev) noexcept {
    // Errors here (e.g. cudaErrorCudartUnloading at exit) cannot be thrown from a destructor.
    if (dev) cudaFree(dev);
}

void copy_host_to_device(void* dev, const void* host, size_t bytes) {
    if (bytes == 0) return;
    FW_CUDA_CHECK(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, stream()));
    // The host buffer may be freed right after we return: wait until it has been read.
    FW_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_device_to_host(void* host, const void* dev, size_t bytes) {
    if (bytes == 0) return;
    FW_CUDA_CHECK(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, stream()));
    FW_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_device_to_device(void* dst_dev, const void* src_dev, size_t bytes) {
    if (bytes == 0) return;
    FW_CUDA_CHECK(cudaMemcpyAsync(dst_dev, src_dev, bytes, cudaMemcpyDeviceToDevice, stream()));
}

__global__ void fill_kernel(float* p, float value, int64_t n) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) p[i] = value;
}

void fill(float* dev, float value, int64_t n) {
    if (n <= 0) return;
    fill_kernel<<<fw_cuda_blocks(n, 256), 256, 0, stream()>>>(dev, value, n);
    FW_CUDA_CHECK_LAUNCH("fill_kernel");
}

void synchronize() { FW_CUDA_CHECK(cudaStreamSynchronize(stream())); }

}  // namespace cuda

bool cuda_built() { return true; }

// Asked once: how many devices does the driver see? Any failure is an answer, not an exception.
static const std::string& availability_reason() {
    static const std::string reason = [] {
        int count = 0;
        cudaError_t status = cudaGetDeviceCount(&count);
        if (status != cudaSuccess) {
            cudaGetLastError();
            return std::string("no CUDA device: cudaGetDeviceCount says '") + cudaGetErrorString(status) + "'";
        }
        if (count == 0) return std::string("no CUDA device: cudaGetDeviceCount found 0 devices");
        // The kernels are sm_90 machine code plus compute_90 PTX: a GPU older than 9.0 runs neither.
        int major = 0, minor = 0;
        if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) != cudaSuccess ||
            cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0) != cudaSuccess) {
            cudaGetLastError();
            return std::string("no usable CUDA device: cannot read device 0's compute capability");
        }
        if (major < 9)
            return "no usable CUDA device: device 0 has compute capability " + std::to_string(major) + "." +
                   std::to_string(minor) + ", and this build holds sm_90 code and compute_90 PTX (9.0 or newer)";
        return std::string();
    }();
    return reason;
}

bool cuda_available() { return availability_reason().empty(); }

std::string cuda_unavailable_reason() { return availability_reason(); }

}  // namespace fw
