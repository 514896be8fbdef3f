// The CUDA backend API (core/cuda/backend.h) in a build without CUDA (USE_CUDA=0, or no nvcc):
// nothing is available, and anything that would touch a device says how to get one.
// The Makefile compiles this file instead of core/cuda/*.cu.
#include "core/cuda/backend.h"
#include "core/error.h"
#include "core/kernels/kernels.h"

namespace fw {

static const char* kReason = "built without CUDA (rebuild with make USE_CUDA=1; needs nvcc)";

bool cuda_built() { return false; }
bool cuda_available() { return false; }
std::string cuda_unavailable_reason() { return kReason; }
const Kernels& cuda_kernels() { fail("CUDA kernels: ", kReason); }
const Kernels& cuda_kernel_table() { fail("CUDA kernels: ", kReason); }

namespace cuda {
void* device_malloc(size_t) { fail("CUDA device memory: ", kReason); }
void device_free(void*) noexcept {}
void copy_host_to_device(void*, const void*, size_t) { fail("copy to a CUDA device: ", kReason); }
void copy_device_to_host(void*, const void*, size_t) { fail("copy from a CUDA device: ", kReason); }
void copy_device_to_device(void*, const void*, size_t) { fail("copy on a CUDA device: ", kReason); }
void fill(float*, float, int64_t) { fail("fill on a CUDA device: ", kReason); }
void synchronize() { fail("CUDA synchronize: ", kReason); }
}  // namespace cuda

}  // namespace fw
