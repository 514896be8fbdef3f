// Shapes: an N-d shape is a list of sizes, row-major (the last axis is contiguous).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace fw {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s);                   // product of sizes; 1 for a 0-d shape
std::string to_string(const Shape& s);           // "[2, 3, 4]"
Shape contiguous_strides(const Shape& s);        // row-major strides, in elements
int normalize_axis(int axis, int ndim, const char* op);  // -1 -> ndim-1; throws if out of range

// numpy broadcasting: align from the right; sizes must match or one of them be 1.
// Throws "<op>: shapes [..] and [..] cannot be broadcast" otherwise.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// An index map from a big tensor (shape `out`) onto a smaller one that broadcasts to it
// (shape `in`, right-aligned). For flat index i of `out`, offset(i) is the flat index of the
// element of `in` that i reads. Used by broadcasting binary ops (read a[offset(i)]) and by
// reductions (accumulate into y[offset(i)]): the same map, used in the two directions.
constexpr int kMaxDims = 8;
struct BroadcastMap {
    int ndim = 0;
    int64_t n = 0;                    // numel(out)
    int64_t size[kMaxDims] = {};      // out's shape
    int64_t stride[kMaxDims] = {};    // in's stride for each out axis; 0 where broadcast
    bool identity = false;            // in == out: offset(i) == i
};
BroadcastMap make_broadcast_map(const Shape& in, const Shape& out);

}  // namespace fw

std::ostream& operator<<(std::ostream& os, const fw::Shape& s);
