// The CUDA runtime seam: every CUDA call and every kernel launch in core/cuda/ goes through the
// checks below, and every kernel runs on the one stream `fw::cuda::stream()`.
//
// This header is included only by CUDA sources (core/cuda/*.cu), which the Makefile builds when
// nvcc is found (or USE_CUDA=1). The rest of the library asks core/cuda/backend.h whether a GPU
// is there; it never includes cuda_runtime.h.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

namespace fw::cuda {

// Throws std::runtime_error("CUDA error in <what> at <file>:<line>: <cudaGetErrorString>").
void check(cudaError_t status, const char* what, const char* file, int line);

// After a launch: throws if the launch failed (a bad configuration); with FW_CUDA_SYNC=1 it also
// waits for the kernel and throws if the kernel failed.
void check_launch(const char* what, const char* file, int line);

// The stream every kernel and copy of the backend is ordered on.
cudaStream_t stream();

// Grow-only scratch in device memory for kernels that need a temporary (e.g. im2col columns).
// Valid until the next workspace() call; stream-ordered, so no synchronisation is needed.
void* workspace(size_t bytes);

}  // namespace fw::cuda

// FW_CUDA_CHECK(cudaMemcpyAsync(...)): a failing call throws with the call's text and place.
#define FW_CUDA_CHECK(call) ::fw::cuda::check((call), #call, __FILE__, __LINE__)
// After every <<<...>>>: catches bad launch configurations at the launch that made them (and,
// with FW_CUDA_SYNC=1, faults inside the kernel).
#define FW_CUDA_CHECK_LAUNCH(kernel_name) ::fw::cuda::check_launch("launch of " kernel_name, __FILE__, __LINE__)

// Launch geometry helper: blocks of `threads` covering n elements.
inline unsigned fw_cuda_blocks(long long n, int threads) { return (unsigned)((n + threads - 1) / threads); }
