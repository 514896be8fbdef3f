// The table of differentiable ops: one line per op, its forward and its gradient.
// It is data, not just a comment: every autograd Node must name an op in this table (checked
// when the Node is made), and tests/test_gradcheck.cpp fails if any op here has no
// finite-difference gradient check. The full table is in core/op_table.cpp.
#pragma once

#include <vector>

namespace fw {

struct OpInfo {
    const char* name;      // the Node name, e.g. "silu"
    const char* forward;   // the math of the forward pass
    const char* gradient;  // the math of the backward pass (what is accumulated into each input)
};

const std::vector<OpInfo>& differentiable_ops();
const OpInfo* find_op(const char* name);  // nullptr if absent

}  // namespace fw
