#include "diffusion/guidance.h"

#include <cmath>

#include "core/error.h"
#include "core/ops.h"

namespace fw::diffusion {

EpsModel classifier_free_guidance(LabelledEpsModel model, std::vector<int> labels, int null_label, double w) {
    if (!model) fail("classifier_free_guidance: the model is an empty function");
    if (!(w >= 0.0) || !std::isfinite(w)) fail("classifier_free_guidance: guidance weight w = ", w, " must be finite and >= 0");
    return [model, labels, null_label, w](const Tensor& xt, const std::vector<int>& t) -> Tensor {
        const int64_t n = xt.size(0);
        if ((int64_t)labels.size() != n || (int64_t)t.size() != n)
            fail("classifier_free_guidance: ", labels.size(), " labels and ", t.size(), " timesteps for a batch of ", n,
                 " (x_t ", to_string(xt.shape()), ")");
        if (w == 0.0) return model(xt, t, labels);  // eps(x_t, t, y): the conditional model
        // one forward pass on [x_t; x_t] with [y; no label]
        std::vector<int> t2 = t, y2 = labels;
        t2.insert(t2.end(), t.begin(), t.end());
        y2.insert(y2.end(), (size_t)n, null_label);
        Tensor both = model(concat({xt, xt}, 0), t2, y2);  // (2N, ...)
        Tensor cond = slice(both, 0, 0, n), uncond = slice(both, 0, n, 2 * n);
        // eps_w = (1 + w) eps(x_t, t, y) - w eps(x_t, t, no label)
        return cond * (float)(1.0 + w) - uncond * (float)w;
    };
}

}  // namespace fw::diffusion
