// Scalar reference kernels: elementwise binary ops with numpy broadcasting, and the two
// strided-map primitives (gather, scatter_add) that reductions and permutes are made of.
//
// Broadcasting, concretely: y has shape S (m.n elements); a has a shape that broadcasts to S.
// ma maps y's flat index i to the flat index of the a-element it reads (see core/shape.h).
// In the backward, an a-element that was read by many y-elements receives the SUM of their
// gradients: da[ma(i)] += ... for every i. That sum is "sum over the broadcast axes".
#include "core/kernels/ref/ref.h"

namespace fw::ref {

// m(i): split i into per-axis indices of the output shape (row-major), dot with the strides.
int64_t broadcast_offset(const BroadcastMap& m, int64_t i) {
    if (m.identity) return i;
    int64_t off = 0;
    for (int d = m.ndim - 1; d >= 0; --d) {
        int64_t idx = i % m.size[d];
        i /= m.size[d];
        off += idx * m.stride[d];
    }
    return off;
}

// y = a + b;  da += g, db += g (summed over broadcast axes through the maps)
void add_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb) {
    for (int64_t i = 0; i < ma.n; ++i) y[i] = a[broadcast_offset(ma, i)] + b[broadcast_offset(mb, i)];
}
void add_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float*, const float*) {
    for (int64_t i = 0; i < ma.n; ++i) {
        if (da) da[broadcast_offset(ma, i)] += dy[i];
        if (db) db[broadcast_offset(mb, i)] += dy[i];
    }
}

// y = a - b;  da += g, db -= g
void sub_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb) {
    for (int64_t i = 0; i < ma.n; ++i) y[i] = a[broadcast_offset(ma, i)] - b[broadcast_offset(mb, i)];
}
void sub_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float*, const float*) {
    for (int64_t i = 0; i < ma.n; ++i) {
        if (da) da[broadcast_offset(ma, i)] += dy[i];
        if (db) db[broadcast_offset(mb, i)] -= dy[i];
    }
}

// y = a * b;  da += g b, db += g a
void mul_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb) {
    for (int64_t i = 0; i < ma.n; ++i) y[i] = a[broadcast_offset(ma, i)] * b[broadcast_offset(mb, i)];
}
void mul_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b) {
    for (int64_t i = 0; i < ma.n; ++i) {
        int64_t ia = broadcast_offset(ma, i), ib = broadcast_offset(mb, i);
        if (da) da[ia] += dy[i] * b[ib];
        if (db) db[ib] += dy[i] * a[ia];
    }
}

// y = a / b;  da += g / b,  db += -g a / b^2
void div_forward(float* y, const float* a, const BroadcastMap& ma, const float* b, const BroadcastMap& mb) {
    for (int64_t i = 0; i < ma.n; ++i) y[i] = a[broadcast_offset(ma, i)] / b[broadcast_offset(mb, i)];
}
void div_backward(float* da, const BroadcastMap& ma, float* db, const BroadcastMap& mb, const float* dy,
                  const float* a, const float* b) {
    for (int64_t i = 0; i < ma.n; ++i) {
        int64_t ia = broadcast_offset(ma, i), ib = broadcast_offset(mb, i);
        if (da) da[ia] += dy[i] / b[ib];
        if (db) db[ib] -= dy[i] * a[ia] / (b[ib] * b[ib]);
    }
}

// y[i] += x[m(i)] for i < m.n: read through the map (broadcast a small tensor up; permute).
void gather(float* y, const float* x, const BroadcastMap& m) {
    for (int64_t i = 0; i < m.n; ++i) y[i] += x[broadcast_offset(m, i)];
}

// y[m(i)] += x[i] for i < m.n: write through the map (sum a big tensor down; un-permute).
void scatter_add(float* y, const float* x, const BroadcastMap& m) {
    for (int64_t i = 0; i < m.n; ++i) y[broadcast_offset(m, i)] += x[i];
}

}  // namespace fw::ref
