// Finite-difference gradient checking.
//
// For an op f and inputs x, with a RANDOM upstream gradient g (not all ones, so a backward
// that sums or permutes wrongly cannot hide), the scalar L(x) = sum_i g_i f(x)_i has
//   dL/dx_j = the analytic gradient the autograd computes from y.backward(g), and
//   dL/dx_j ~ (L(x + h e_j) - L(x - h e_j)) / (2h)   (central differences).
//
// Tolerance. Our kernels are float32 only, so the check runs in float and says why its
// tolerance is what it is: L is summed in double, and unaffected outputs cancel exactly, so the
// numeric derivative's error is
//   truncation  ~ h^2/6 |f'''|                 ~ 2e-5 for h = 1e-2 and |f'''| ~ 1
//   rounding    ~ 6e-8 |y| sqrt(k) / (2h)     ~ 3e-5 for |y| ~ 1 and k ~ 100 affected outputs
// so |analytic - numeric| <= 2e-3 + 1e-2 |numeric| leaves a 10-50x margin, while any real bug
// (a missing term, a wrong factor, a wrong index) errs by O(1) relative.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fw::test {

struct GradCheckResult {
    double max_violation = 0;  // max over elements of |a - n| / (atol + rtol |n|); must be <= 1
    std::string worst;         // "input 1 index 7: analytic 0.31 numeric 0.30"
    std::set<std::string> ops_seen;  // Node names in the checked graph
    int64_t checked = 0;       // how many partial derivatives were compared
};

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Inputs that should be checked must have requires_grad set. The inputs are modified in place
// while probing and restored afterwards.
GradCheckResult gradcheck(const OpFn& f, std::vector<Tensor> inputs, uint64_t seed, float h = 1e-2f,
                          double atol = 2e-3, double rtol = 1e-2);

}  // namespace fw::test
