// EMA of parameters; the update rule and the warm-up are in nn/ema.h.
#include "nn/ema.h"

#include <algorithm>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/watch.h"

namespace fw::nn {

EMA::EMA(const Module& model, float decay, bool warmup) : decay_(decay), warmup_(warmup) {
    if (!(decay >= 0.0f && decay <= 1.0f)) fail("EMA: decay must be in [0, 1], got ", decay);
    for (const auto& p : model.parameters()) shadow_.emplace_back(p.first, p.second.clone());  // shadow_0 = p
}

float EMA::next_decay() const {
    if (!warmup_) return decay_;
    // decay_t = min(decay, (1 + t) / (10 + t))
    return std::min(decay_, (float)((1.0 + (double)t_) / (10.0 + (double)t_)));
}

void EMA::check_matches(const NamedTensors& params, const char* where) const {
    if (params.size() != shadow_.size())
        fail("EMA::", where, ": model has ", params.size(), " parameters, the EMA holds ", shadow_.size());
    for (size_t k = 0; k < params.size(); ++k)
        if (params[k].first != shadow_[k].first || params[k].second.shape() != shadow_[k].second.shape())
            fail("EMA::", where, ": parameter ", k, " is '", params[k].first, "' ", to_string(params[k].second.shape()),
                 ", the EMA holds '", shadow_[k].first, "' ", to_string(shadow_[k].second.shape()));
}

void EMA::update(const Module& model) {
    NoGradGuard no_grad;
    const NamedTensors params = model.parameters();  // parameters only: buffers are never averaged
    check_matches(params, "update");
    const float d = next_decay();
    // shadow = d shadow + (1 - d) p   (core/kernels/ref/optim_ref.cpp, or its CUDA twin): every
    // parameter of a device in one call
    for (size_t k = 0; k < params.size(); ++k) check_same_device(shadow_[k].second, params[k].second, "EMA::update");
    for (Device dev : {Device::CPU, Device::CUDA}) {
        std::vector<float*> s;
        std::vector<const float*> p;
        std::vector<int64_t> n;
        for (size_t k = 0; k < params.size(); ++k) {
            if (params[k].second.device() != dev) continue;
            s.push_back(shadow_[k].second.data());
            p.push_back(params[k].second.data());
            n.push_back(params[k].second.numel());
        }
        if (s.empty()) continue;
        int64_t values = 0;
        for (int64_t x : n) values += x;
        // reads shadow and p, writes shadow: 3 floats per value
        run_update("ema", dev, (int64_t)s.size(), values, 12.0 * (double)values, [&] {
            kernels_for(dev).ema_update(s.data(), p.data(), n.data(), (int64_t)s.size(), d);
        });
    }
    t_ += 1;
}

void EMA::copy_to(Module& model) const {
    NoGradGuard no_grad;
    NamedTensors params = model.parameters();
    check_matches(params, "copy_to");
    for (size_t k = 0; k < params.size(); ++k) copy_into(params[k].second, shadow_[k].second);  // p = shadow
}

void EMA::set_num_updates(int64_t t) {
    if (t < 0) fail("EMA: num_updates must be >= 0, got ", t);
    t_ = t;
}

NamedTensors EMA::state() const {
    NamedTensors out;
    for (const auto& s : shadow_) out.emplace_back("ema." + s.first, s.second);
    return out;
}

}  // namespace fw::nn
