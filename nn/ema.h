// Exponential moving average (EMA) of a model's parameters, the weights DDPM samples with.
//
// After each optimizer step, for every PARAMETER p (buffers are never read nor written):
//   shadow = decay_t * shadow + (1 - decay_t) * p,     shadow_0 = p at construction
// with
//   decay_t = decay                                    (warmup = false)
//   decay_t = min(decay, (1 + t) / (10 + t))           (warmup = true)
// where t = number of update() calls made before this one (0 for the first update). The warm-up
// (as in TensorFlow's ExponentialMovingAverage with num_updates, and many diffusion codebases)
// makes the average forget the random initialisation quickly: decay_0 = 0.1, decay_10 = 0.55,
// decay_90 = 0.91, and it reaches 0.9999 only after ~90,000 updates.
//
// The shadow tensors are separate storage; copy_to() writes them into a model (for sampling),
// leaving that model's buffers alone. state() names them "ema.<param>" for checkpoints.
#pragma once

#include <cstdint>

#include "nn/module.h"

namespace fw::nn {

class EMA {
public:
    EMA(const Module& model, float decay = 0.9999f, bool warmup = false);

    float decay() const { return decay_; }
    float next_decay() const;                 // decay_t that the next update() will use
    void update(const Module& model);         // model must have the same parameter names and shapes
    void copy_to(Module& model) const;        // model parameters = shadow (no autograd, in place)

    int64_t num_updates() const { return t_; }
    void set_num_updates(int64_t t);          // when restoring a checkpoint
    const NamedTensors& shadow() const { return shadow_; }  // parameter names, no prefix
    NamedTensors state() const;               // "ema.<param>", sharing storage with shadow()

private:
    void check_matches(const NamedTensors& params, const char* where) const;

    NamedTensors shadow_;
    float decay_;
    bool warmup_;
    int64_t t_ = 0;
};

}  // namespace fw::nn
