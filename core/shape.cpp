#include "core/shape.h"

#include "core/error.h"

namespace fw {

int64_t numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

std::string to_string(const Shape& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

Shape contiguous_strides(const Shape& s) {
    Shape st(s.size());
    int64_t acc = 1;
    for (int i = (int)s.size() - 1; i >= 0; --i) {
        st[i] = acc;
        acc *= s[i];
    }
    return st;
}

int normalize_axis(int axis, int ndim, const char* op) {
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) fail(op, ": axis ", axis, " is out of range for a ", ndim, "-d tensor");
    return a;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    size_t nd = std::max(a.size(), b.size());
    Shape out(nd);
    for (size_t i = 0; i < nd; ++i) {
        int64_t da = i < nd - a.size() ? 1 : a[i - (nd - a.size())];
        int64_t db = i < nd - b.size() ? 1 : b[i - (nd - b.size())];
        if (da != db && da != 1 && db != 1)
            fail(op, ": shapes ", to_string(a), " and ", to_string(b), " cannot be broadcast");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

BroadcastMap make_broadcast_map(const Shape& in, const Shape& out) {
    FW_ASSERT(in.size() <= out.size() && out.size() <= (size_t)kMaxDims, to_string(in), to_string(out));
    BroadcastMap m;
    m.ndim = (int)out.size();
    m.n = numel(out);
    m.identity = (in == out);
    Shape in_strides = contiguous_strides(in);
    size_t lead = out.size() - in.size();
    for (size_t i = 0; i < out.size(); ++i) {
        m.size[i] = out[i];
        if (i < lead) {
            m.stride[i] = 0;
        } else {
            int64_t d = in[i - lead];
            FW_ASSERT(d == out[i] || d == 1, to_string(in), " -> ", to_string(out));
            m.stride[i] = (d == 1) ? 0 : in_strides[i - lead];
        }
    }
    return m;
}

}  // namespace fw

std::ostream& operator<<(std::ostream& os, const fw::Shape& s) { return os << fw::to_string(s); }
