// The CUDA backend as the rest of the library sees it: a plain C++ header (no cuda_runtime.h),
// so core/, nn/ and the tests compile the same with or without the CUDA toolkit.
//
// Two builds implement it (the Makefile picks one, no #ifdef):
//   USE_CUDA on:  core/cuda/runtime.cu (+ the kernels in core/cuda/*.cu)
//   USE_CUDA off: core/cuda_off.cpp, where every function says "built without CUDA"
//
// Pointers named `dev` are device memory; `host` pointers are ordinary memory. Every copy is
// ordered on the backend's one stream; copies to the host wait for it (they are synchronous).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fw {

struct Kernels;

bool cuda_built();                     // was this library built with the CUDA backend?
bool cuda_available();                 // built, and at least one device answers; cached, never throws
std::string cuda_unavailable_reason(); // why not, e.g. "no CUDA device: cudaGetDeviceCount says '...'"
const Kernels& cuda_kernels();         // the CUDA table; throws fw::Error(reason) when unavailable
const Kernels& cuda_kernel_table();    // the same table without the device check (tests inspect it)

namespace cuda {

// Raw device memory. device_free ignores errors (it runs in destructors, maybe at exit).
void* device_malloc(size_t bytes);
void device_free(void* dev) noexcept;

void copy_host_to_device(void* dev, const void* host, size_t bytes);
void copy_device_to_host(void* host, const void* dev, size_t bytes);  // waits for the stream
void copy_device_to_device(void* dst_dev, const void* src_dev, size_t bytes);
void fill(float* dev, float value, int64_t n);  // dev[i] = value, i < n

void synchronize();  // waits until every kernel and copy queued so far has finished

}  // namespace cuda
}  // namespace fw
