#include "tests/gradcheck.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/rng.h"

namespace fw::test {

// Names of all Nodes reachable from y (iterative walk).
static std::set<std::string> graph_ops(const Tensor& y) {
    std::set<std::string> names;
    std::vector<TensorImpl*> stack = {y.impl()};
    std::set<TensorImpl*> seen;
    while (!stack.empty()) {
        TensorImpl* t = stack.back();
        stack.pop_back();
        if (!t->grad_fn || !seen.insert(t).second) continue;
        names.insert(t->grad_fn->name);
        for (const Tensor& in : t->grad_fn->inputs) stack.push_back(in.impl());
    }
    return names;
}

static double projected(const OpFn& f, const std::vector<Tensor>& inputs, const Tensor& g) {
    NoGradGuard no_grad;
    Tensor y = f(inputs);
    double L = 0;
    for (int64_t i = 0; i < y.numel(); ++i) L += (double)g.data()[i] * y.data()[i];
    return L;
}

GradCheckResult gradcheck(const OpFn& f, std::vector<Tensor> inputs, uint64_t seed, float h, double atol, double rtol) {
    GradCheckResult r;
    for (Tensor& x : inputs) x.zero_grad();
    Tensor y = f(inputs);
    r.ops_seen = graph_ops(y);
    Generator gen(seed);
    Tensor g = randn(y.shape(), gen);
    y.backward(g);

    for (size_t k = 0; k < inputs.size(); ++k) {
        Tensor& x = inputs[k];
        if (!x.requires_grad()) continue;
        Tensor analytic = x.grad();
        for (int64_t j = 0; j < x.numel(); ++j) {
            float saved = x.data()[j];
            x.data()[j] = saved + h;
            double up = projected(f, inputs, g);
            x.data()[j] = saved - h;
            double down = projected(f, inputs, g);
            x.data()[j] = saved;
            double numeric = (up - down) / (2.0 * h);
            double a = analytic.defined() ? analytic.data()[j] : 0.0;
            double v = std::fabs(a - numeric) / (atol + rtol * std::fabs(numeric));
            ++r.checked;
            if (v > r.max_violation || std::isnan(v)) {
                r.max_violation = std::isnan(v) ? INFINITY : v;
                std::ostringstream os;
                os << "input " << k << " index " << j << ": analytic " << a << " numeric " << numeric;
                r.worst = os.str();
            }
        }
    }
    return r;
}

}  // namespace fw::test
