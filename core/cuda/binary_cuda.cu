// CUDA twins of core/kernels/ref/binary_ref.cpp: broadcasting binary ops and the strided-map
// primitives gather / scatter_add. One thread per element i of the big (output) shape; the
// BroadcastMaps travel by value in the kernel's parameters (~150 bytes each).
//
// Backward and scatter_add write through a map: when the map broadcasts, many i hit the same
// element, so the addition is an atomicAdd (its order varies run to run: sums over broadcast
// axes match the CPU to rounding, not bitwise). An identity map is a plain +=, and a scatter_add
// of everything into one element (sum() of a whole tensor) a two-pass reduction (deterministic).
#include <algorithm>

#include "core/cuda/kernels_cuda.h"

namespace fw::cuda {

// m(i): split i into per-axis indices of the output shape (row-major), dot with the strides.
__device__ inline int64_t broadcast_offset(const BroadcastMap& m, int64_t i) {
    if (m.identity) return i;
    int64_t off = 0;
    for (int d = m.ndim - 1; d >= 0; --d) {
        int64_t idx = i % m.size[d];
        i /= m.size[d];
        off += idx * m.stride[d];
    }
    return off;
}

enum class BinaryOp { Add, Sub, Mul, Div };

// y = a op b, read through the maps
__global__ void binary_fwd_kernel(BinaryOp op, float* y, const float* a, BroadcastMap ma, const float* b,
                                  BroadcastMap mb) {
    int64_t i = global_index();
    if (i >= ma.n) return;
    float av = a[broadcast_offset(ma, i)], bv = b[broadcast_offset(mb, i)];
    switch (op) {
        case BinaryOp::Add: y[i] = av + bv; break;
        case BinaryOp::Sub: y[i] = av - bv; break;
        case BinaryOp::Mul: y[i] = av * bv; break;
        case BinaryOp::Div: y[i] = av / bv; break;
    }
}

// add: da += g, db += g;  sub: da += g, db -= g;  mul: da += g b, db += g a;
// div: da += g / b, db += -g a / b^2
__global__ void binary_bwd_kernel(BinaryOp op, float* da, BroadcastMap ma, float* db, BroadcastMap mb,
                                  const float* dy, const float* a, const float* b) {
    int64_t i = global_index();
    if (i >= ma.n) return;
    const int64_t ia = broadcast_offset(ma, i), ib = broadcast_offset(mb, i);
    const float g = dy[i];
    float ga = 0.0f, gb = 0.0f;
    switch (op) {
        case BinaryOp::Add: ga = g; gb = g; break;
        case BinaryOp::Sub: ga = g; gb = -g; break;
        case BinaryOp::Mul: ga = g * b[ib]; gb = g * a[ia]; break;
        case BinaryOp::Div: ga = g / b[ib]; gb = -(g * a[ia] / (b[ib] * b[ib])); break;
    }
    if (da) add_to(&da[ia], ga, ma.identity);
    if (db) add_to(&db[ib], gb, mb.identity);
}

static void binary_forward(BinaryOp op, float* y, const float* a, const BroadcastMap& ma, const float* b,
                           const BroadcastMap& mb) {
    FW_LAUNCH_1D(binary_fwd_kernel, ma.n, op, y, a, ma, b, mb);
}
static void binary_backward(BinaryOp op, float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb,
                            const float* dy, const float* a, const float* b) {
    if (!da && !db) return;
    FW_LAUNCH_1D(binary_bwd_kernel, ma.n, op, da, ma, db, mb, dy, a, b);
}

void add_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb) {
    binary_forward(BinaryOp::Add, y, a, ma, b, mb);
}
void sub_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb) {
    binary_forward(BinaryOp::Sub, y, a, ma, b, mb);
}
void mul_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb) {
    binary_forward(BinaryOp::Mul, y, a, ma, b, mb);
}
void div_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb) {
    binary_forward(BinaryOp::Div, y, a, ma, b, mb);
}
void add_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b) {
    binary_backward(BinaryOp::Add, da, ma, db, mb, dy, a, b);
}
void sub_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b) {
    binary_backward(BinaryOp::Sub, da, ma, db, mb, dy, a, b);
}
void mul_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b) {
    binary_backward(BinaryOp::Mul, da, ma, db, mb, dy, a, b);
}
void div_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b) {
    binary_backward(BinaryOp::Div, da, ma, db, mb, dy, a, b);
}

// y[i] += x[m(i)]: every i is its own output, no atomics.
__global__ void gather_kernel(float* y, const float* x, BroadcastMap m) {
    int64_t i = global_index();
    if (i < m.n) y[i] += x[broadcast_offset(m, i)];
}
// y[m(i)] += x[i]: many i may share m(i) (a sum), hence atomics unless m is the identity.
__global__ void scatter_add_kernel(float* y, const float* x, BroadcastMap m) {
    int64_t i = global_index();
    if (i < m.n) add_to(&y[broadcast_offset(m, i)], x[i], m.identity);
}

// y[0] += the sum of every x[i], for a map that sends every i to one element (all strides 0: the
// sum() of a whole tensor). Atomics would pile n additions onto one address in a varying order;
// instead a two-pass sum in doubles (as the losses): one partial per block, then one block adds
// the partials in order. The same bits every run.
__global__ void sum_all_partials_kernel(double* partials, const float* x, int64_t n) {
    double part = 0.0;
    for (int64_t i = global_index(); i < n; i += (int64_t)gridDim.x * blockDim.x) part += x[i];
    const double total = block_sum(part);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}
__global__ void add_total_kernel(float* y, const double* partials, int count) {
    double part = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) part += partials[i];
    const double total = block_sum(part);
    if (threadIdx.x == 0) y[0] += (float)total;
}

static bool sends_all_to_one(const BroadcastMap& m) {
    if (m.identity) return false;
    for (int d = 0; d < m.ndim; ++d)
        if (m.stride[d] != 0) return false;
    return true;
}

void gather(float* y, const float* x, const BroadcastMap& m) { FW_LAUNCH_1D(gather_kernel, m.n, y, x, m); }
void scatter_add(float* y, const float* x, const BroadcastMap& m) {
    if (m.n > 1 && sends_all_to_one(m)) {
        double* partials = reduce_partials_buffer();
        const int blocks = (int)std::min<int64_t>(kReduceBlocks, fw_cuda_blocks(m.n, kThreads));
        sum_all_partials_kernel<<<blocks, kThreads, 0, stream()>>>(partials, x, m.n);
        FW_CUDA_CHECK_LAUNCH("sum_all_partials_kernel");
        add_total_kernel<<<1, kThreads, 0, stream()>>>(y, partials, blocks);
        FW_CUDA_CHECK_LAUNCH("add_total_kernel");
        return;
    }
    FW_LAUNCH_1D(scatter_add_kernel, m.n, y, x, m);
}

}  // namespace fw::cuda
