// The CUDA backend API (core/cuda/backend.h) EMULATED on the host, for testing without a GPU
// (make USE_CUDA=emulate test; the Makefile compiles this file instead of core/cuda/*.cu or
// core/cuda_off.cpp). What it tests is everything above the kernels: that tensors land on the
// device they should, that host code never reads or writes device memory except through the
// backend's copies, and that training, checkpoints, resuming and sampling on Device::CUDA work.
// It does NOT test the CUDA kernels (they need a GPU): its kernel table is the scalar reference.
//
// "Device memory" is one big host mapping kept PROT_NONE: any host access to it faults
// (SIGSEGV) at the line that made it. A kernel-table call or a backend copy opens it
// (PROT_READ | PROT_WRITE) for its duration, then closes it again. Allocation is a bump pointer
// over the mapping (16 GiB of address space, no memory reserved); freed buffers are not reused
// here (the caching allocator in core/storage.cpp reuses them), so a long run's footprint is the
// peak of its buffers of each size.
#include <sys/mman.h>

#include <cstring>
#include <mutex>

#include "core/cuda/backend.h"
#include "core/error.h"
#include "core/kernels/kernels.h"

namespace fw {
namespace {

constexpr size_t kSpace = size_t(16) << 30;  // address space for "device memory"
constexpr size_t kPage = 4096;

std::recursive_mutex g_mu;  // one kernel or copy at a time (nested opens allowed)
char* g_base = nullptr;     // the mapping
size_t g_used = 0;          // bytes handed out (whole pages)
int g_open = 0;             // how many opens are in progress

char* space() {
    if (!g_base) {
        void* p = mmap(nullptr, kSpace, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) fail("emulated CUDA: cannot map ", kSpace >> 30, " GiB of address space");
        g_base = static_cast<char*>(p);
    }
    return g_base;
}

void protect(int prot) {
    if (g_used && mprotect(space(), g_used, prot) != 0) fail("emulated CUDA: mprotect failed");
}

// While alive, device memory may be touched (by this thread's kernel or copy).
struct Open {
    Open() {
        g_mu.lock();
        if (g_open++ == 0) protect(PROT_READ | PROT_WRITE);
    }
    ~Open() {
        if (--g_open == 0) protect(PROT_NONE);
        g_mu.unlock();
    }
    Open(const Open&) = delete;
    Open& operator=(const Open&) = delete;
};

}  // namespace

bool cuda_built() { return true; }
bool cuda_available() { return true; }
std::string cuda_unavailable_reason() { return std::string(); }

// Every entry of the reference table, wrapped so that it runs with device memory open.
#define FW_EMULATE(entry) t.entry = [](auto... args) -> decltype(auto) { Open open; return reference_kernels().entry(args...); }
const Kernels& cuda_kernel_table() {
    static const Kernels table = [] {
        Kernels t{};
        t.name = "cuda";  // (as the real table: code that checks the name sees a CUDA device)
        FW_EMULATE(exp_forward); FW_EMULATE(exp_backward); FW_EMULATE(log_forward); FW_EMULATE(log_backward);
        FW_EMULATE(sqrt_forward); FW_EMULATE(sqrt_backward); FW_EMULATE(square_forward); FW_EMULATE(square_backward);
        FW_EMULATE(sigmoid_forward); FW_EMULATE(sigmoid_backward); FW_EMULATE(tanh_forward); FW_EMULATE(tanh_backward);
        FW_EMULATE(relu_forward); FW_EMULATE(relu_backward); FW_EMULATE(silu_forward); FW_EMULATE(silu_backward);
        FW_EMULATE(sin_forward); FW_EMULATE(cos_forward); FW_EMULATE(pow_forward); FW_EMULATE(pow_backward);
        FW_EMULATE(scale); FW_EMULATE(add_scalar); FW_EMULATE(axpy); FW_EMULATE(clamp);
        FW_EMULATE(add_forward); FW_EMULATE(sub_forward); FW_EMULATE(mul_forward); FW_EMULATE(div_forward);
        FW_EMULATE(add_backward); FW_EMULATE(sub_backward); FW_EMULATE(mul_backward); FW_EMULATE(div_backward);
        FW_EMULATE(gather); FW_EMULATE(scatter_add); FW_EMULATE(gemm);
        FW_EMULATE(conv2d_forward); FW_EMULATE(conv2d_forward_add); FW_EMULATE(conv2d_backward);
        FW_EMULATE(group_norm_forward); FW_EMULATE(group_norm_backward);
        FW_EMULATE(group_norm_silu_forward); FW_EMULATE(group_norm_silu_backward);
        FW_EMULATE(copy_axis_range); FW_EMULATE(upsample2x_forward); FW_EMULATE(upsample2x_backward);
        FW_EMULATE(avg_pool2d_forward); FW_EMULATE(avg_pool2d_backward);
        FW_EMULATE(log_softmax_forward); FW_EMULATE(log_softmax_backward);
        FW_EMULATE(nll_loss_forward); FW_EMULATE(nll_loss_backward);
        FW_EMULATE(mse_loss_forward); FW_EMULATE(mse_loss_backward);
        FW_EMULATE(adam_update); FW_EMULATE(ema_update); FW_EMULATE(sum_squares);
        FW_EMULATE(philox_uniform); FW_EMULATE(philox_normal);
        return t;
    }();
    return table;
}
#undef FW_EMULATE
const Kernels& cuda_kernels() { return cuda_kernel_table(); }

namespace cuda {

void* device_malloc(size_t bytes) {
    std::lock_guard<std::recursive_mutex> lock(g_mu);
    space();
    const size_t take = (bytes + kPage - 1) / kPage * kPage;
    if (take > kSpace - g_used)
        fail("cuda: cannot allocate ", bytes, " bytes on the GPU (emulated: ", (kSpace - g_used) >> 20, " MiB free of ",
             kSpace >> 20, " MiB): out of memory");
    char* p = g_base + g_used;
    g_used += take;
    protect(g_open ? PROT_READ | PROT_WRITE : PROT_NONE);
    return p;
}

void device_free(void*) noexcept {}  // (not reused: see the top of the file)

void copy_host_to_device(void* dev, const void* host, size_t bytes) {
    Open open;
    std::memcpy(dev, host, bytes);
}
void copy_device_to_host(void* host, const void* dev, size_t bytes) {
    Open open;
    std::memcpy(host, dev, bytes);
}
void copy_device_to_device(void* dst_dev, const void* src_dev, size_t bytes) {
    Open open;
    std::memmove(dst_dev, src_dev, bytes);
}
void fill(float* dev, float value, int64_t n) {
    Open open;
    for (int64_t i = 0; i < n; ++i) dev[i] = value;
}
void synchronize() {}

}  // namespace cuda
}  // namespace fw
