// Classifier-free guidance (Ho & Salimans, 2022): one network that predicts the noise both with a
// label y and with "no label" (trained with the label dropped at random, train_mnist --cond)
// steers sampling toward y by extrapolating from the unconditional prediction:
//
//   eps_w(x_t, t, y) = (1 + w) eps(x_t, t, y) - w eps(x_t, t, no label)
//                    = eps(x_t, t, y) + w (eps(x_t, t, y) - eps(x_t, t, no label))
//
// Convention: w = 0 is the conditional model itself, w > 0 guides more strongly (some papers write
// the same with a scale s = 1 + w). Both halves come from ONE forward pass on a batch of 2N.
// The result is an EpsModel, so both samplers (Eqs. 18 and 20) use it unchanged.
#pragma once

#include <functional>
#include <vector>

#include "core/tensor.h"
#include "diffusion/eps_model.h"

namespace fw::diffusion {

// A noise model that also takes one label per sample.
using LabelledEpsModel =
    std::function<Tensor(const Tensor& xt, const std::vector<int>& t, const std::vector<int>& labels)>;

// The guided EpsModel for `labels` (one per sample of every batch it is called with) and w >= 0.
// w = 0 calls the model once on the batch with its labels (exactly the conditional model).
EpsModel classifier_free_guidance(LabelledEpsModel model, std::vector<int> labels, int null_label, double w);

}  // namespace fw::diffusion
