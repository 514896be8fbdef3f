// Optimizers: Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), global-norm gradient
// clipping, and a linear learning-rate warm-up. Semantics are PyTorch's (torch.optim.Adam / AdamW,
// torch.nn.utils.clip_grad_norm_), so a mirror run matches step for step.
//
// Adam, for each parameter p with gradient g, at step t = 1, 2, ... (t counts step() calls):
//   g     = g + wd * p                          (Adam only: L2 penalty folded into the gradient)
//   p     = p - lr * wd * p                     (AdamW only: decoupled weight decay)
//   m     = b1 m + (1 - b1) g                   first moment, m_0 = 0
//   v     = b2 v + (1 - b2) g^2                 second moment, v_0 = 0
//   mhat  = m / (1 - b1^t),   vhat = v / (1 - b2^t)         bias correction
//   p     = p - lr * mhat / (sqrt(vhat) + eps)
// A parameter whose .grad is undefined (no backward reached it) is skipped entirely, as in PyTorch.
// Buffers are updated in place under NoGradGuard; the bias corrections are computed in double.
//
// State, for checkpoints: state() lists the moment tensors by name, "adam.m.<param>" and
// "adam.v.<param>" (<param> = the full dotted parameter name), as handles that share storage
// with the optimizer, so a loader can write into them; plus step_count() / set_step_count().
#pragma once

#include <cstdint>

#include "nn/module.h"

namespace fw::nn {

struct AdamOptions {
    float lr = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.0f;  // Adam: L2 in the gradient; AdamW: decoupled (PyTorch's AdamW default is 1e-2)
};

class Adam {
public:
    // params: usually model.parameters(). The handles are kept; the tensors are updated in place.
    explicit Adam(NamedTensors params, AdamOptions opt = {});
    virtual ~Adam() = default;

    void step();       // one update of every parameter that has a gradient
    void zero_grad();  // drops every parameter's .grad

    float lr() const { return opt_.lr; }
    void set_lr(float lr) { opt_.lr = lr; }  // e.g. from linear_warmup_lr each step
    const AdamOptions& options() const { return opt_; }
    bool decoupled_weight_decay() const { return decoupled_; }

    int64_t step_count() const { return t_; }   // t: how many step() calls have been made
    void set_step_count(int64_t t);               // when restoring a checkpoint
    NamedTensors state() const;                   // "adam.m.<name>", "adam.v.<name>", params' order
    // Copies each entry of `saved` (names as in state()) into the matching moment; every moment
    // must be present with the same shape, or fw::Error names the missing/mismatched one.
    void load_state(const NamedTensors& saved);

protected:
    Adam(NamedTensors params, AdamOptions opt, bool decoupled);

private:
    NamedTensors params_;
    std::vector<Tensor> m_, v_;  // same shapes as params_, zero at start
    AdamOptions opt_;
    bool decoupled_ = false;
    int64_t t_ = 0;
};

// AdamW: Adam with decoupled weight decay p -= lr * wd * p (set opt.weight_decay; default 0 here).
class AdamW : public Adam {
public:
    explicit AdamW(NamedTensors params, AdamOptions opt = {}) : Adam(std::move(params), opt, true) {}
};

// Global-norm clipping (torch.nn.utils.clip_grad_norm_):
//   total = sqrt(sum over parameters and elements of g^2)       (accumulated in double)
//   coef  = max_norm / (total + 1e-6);  if coef < 1: g = g * coef for every gradient
// Returns `total`, the norm BEFORE clipping (log it: spikes show up there). Parameters without a
// gradient are ignored. A NaN or Inf total scales nothing (coef < 1 is false for NaN), as in
// PyTorch: the caller must check the returned norm (see find_non_finite_grad).
float clip_grad_norm(const NamedTensors& params, float max_norm);

// total = sqrt(sum over parameters and elements of g^2), the same reduction without the clipping.
float grad_norm(const NamedTensors& params);

// The first gradient element that is NaN or Inf, described for an error message:
//   "the gradient of 'enc0.conv.weight' [8, 1, 3, 3] holds nan at index 17"
// or "" when every gradient is finite. Copies each gradient to the host: for the error path only.
std::string find_non_finite_grad(const NamedTensors& params);

// Linear warm-up: the learning rate for update number `step` (1-indexed, the same t as Adam's):
//   lr(step) = base_lr * min(1, step / warmup_steps)      (base_lr for warmup_steps <= 0)
// so step 1 already moves (lr = base_lr / warmup_steps), and step >= warmup_steps uses base_lr.
float linear_warmup_lr(float base_lr, int64_t step, int64_t warmup_steps);

// Linear warm-up, then a cosine decay from base_lr to final_fraction * base_lr at total_steps:
//   lr(step) = base_lr (f + (1 - f) (1 + cos(pi p)) / 2),  p = (step - warmup) / (total - warmup)
// A short run ends with small steps, so its last weights (and their EMA) settle.
float warmup_cosine_lr(float base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps, float final_fraction);

// Warm-up, stable, decay ("WSD"): the linear warm-up, then base_lr until step D, then a cosine
// decay to final_fraction * base_lr over the last steps, D < step <= total:
//   D = wsd_decay_start(total, decay_fraction) = total - round(decay_fraction * total)
//   lr(step) = base_lr (f + (1 - f) (1 + cos(pi p)) / 2),  p = (step - D) / (total - D)
// The rate of every step up to D does not depend on `total`, so a run may change its total
// (train_mnist --minutes re-plans it as it measures its speed) until it reaches D, and the result
// is the same as a run given that total from the start. total = 0: not planned yet (no decay).
// At the same number of steps it matches a cosine schedule's result (Hägele et al. 2024, "Scaling
// laws and compute-optimal training beyond fixed training durations", decay over the last 20%).
float warmup_stable_decay_lr(float base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps,
                             double decay_fraction, float final_fraction);
int64_t wsd_decay_start(int64_t total_steps, double decay_fraction);

}  // namespace fw::nn
