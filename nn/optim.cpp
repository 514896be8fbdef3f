// Adam / AdamW, gradient clipping and warm-up; the equations are in nn/optim.h and are repeated
// next to the lines that compute them.
#include "nn/optim.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/watch.h"

namespace fw::nn {

Adam::Adam(NamedTensors params, AdamOptions opt) : Adam(std::move(params), opt, false) {}

Adam::Adam(NamedTensors params, AdamOptions opt, bool decoupled)
    : params_(std::move(params)), opt_(opt), decoupled_(decoupled) {
    const char* who = decoupled ? "AdamW" : "Adam";
    if (!(opt.lr >= 0.0f)) fail(who, ": lr must be >= 0, got ", opt.lr);
    if (!(opt.beta1 >= 0.0f && opt.beta1 < 1.0f) || !(opt.beta2 >= 0.0f && opt.beta2 < 1.0f))
        fail(who, ": betas must be in [0, 1), got ", opt.beta1, ", ", opt.beta2);
    if (!(opt.eps > 0.0f)) fail(who, ": eps must be > 0, got ", opt.eps);
    if (!(opt.weight_decay >= 0.0f)) fail(who, ": weight_decay must be >= 0, got ", opt.weight_decay);
    for (const auto& p : params_) {
        if (!p.second.defined() || !p.second.is_leaf() || !p.second.requires_grad())
            fail(who, ": '", p.first, "' is not a leaf tensor that requires grad");
        m_.push_back(Tensor::zeros(p.second.shape(), p.second.device()));  // m_0 = 0, beside p
        v_.push_back(Tensor::zeros(p.second.shape(), p.second.device()));  // v_0 = 0
    }
}

void Adam::step() {
    NoGradGuard no_grad;
    t_ += 1;
    const double b1 = opt_.beta1, b2 = opt_.beta2;
    // bias corrections 1 - b1^t and 1 - b2^t, in double
    const double bc1 = 1.0 - std::pow(b1, (double)t_);
    const double bc2 = 1.0 - std::pow(b2, (double)t_);
    // PyTorch's arrangement of p -= lr * mhat / (sqrt(vhat) + eps):
    //   step_size = lr / bc1,  denom = sqrt(v) / sqrt(bc2) + eps,  p -= step_size * m / denom
    const float step_size = (float)(opt_.lr / bc1);
    const float sqrt_bc2 = (float)std::sqrt(bc2);
    AdamStep s{};
    s.lr = opt_.lr;
    s.weight_decay = opt_.weight_decay;
    s.eps = opt_.eps;
    s.beta1 = opt_.beta1;
    s.beta2 = opt_.beta2;
    s.step_size = step_size;
    s.sqrt_bc2 = sqrt_bc2;
    s.decoupled = decoupled_;
    // per element (core/kernels/ref/optim_ref.cpp): weight decay, m and v updates, p update; every
    // parameter of a device in one call
    for (Device d : {Device::CPU, Device::CUDA}) {
        std::vector<float*> p, m, v;
        std::vector<const float*> g;
        std::vector<int64_t> n;
        for (size_t k = 0; k < params_.size(); ++k) {
            Tensor& pk = params_[k].second;
            Tensor gk = pk.grad();
            if (!gk.defined() || pk.device() != d) continue;  // no gradient reached it: untouched, like PyTorch
            FW_ASSERT(gk.numel() == pk.numel(), params_[k].first);
            check_same_device(pk, m_[k], "Adam::step");  // (a model moved after its optimizer was made)
            p.push_back(pk.data());
            g.push_back(gk.data());
            m.push_back(m_[k].data());
            v.push_back(v_[k].data());
            n.push_back(pk.numel());
        }
        if (p.empty()) continue;
        int64_t values = 0;
        for (int64_t x : n) values += x;
        // reads p, g, m, v and writes p, m, v: 7 floats per value
        run_update("adam", d, (int64_t)p.size(), values, 28.0 * (double)values, [&] {
            kernels_for(d).adam_update(p.data(), g.data(), m.data(), v.data(), n.data(), (int64_t)p.size(), s);
        });
    }
}

void Adam::zero_grad() {
    for (auto& p : params_) p.second.zero_grad();
}

void Adam::set_step_count(int64_t t) {
    if (t < 0) fail(decoupled_ ? "AdamW" : "Adam", ": step count must be >= 0, got ", t);
    t_ = t;
}

NamedTensors Adam::state() const {
    NamedTensors out;
    for (size_t k = 0; k < params_.size(); ++k) out.emplace_back("adam.m." + params_[k].first, m_[k]);
    for (size_t k = 0; k < params_.size(); ++k) out.emplace_back("adam.v." + params_[k].first, v_[k]);
    return out;
}

void Adam::load_state(const NamedTensors& saved) {
    const char* who = decoupled_ ? "AdamW" : "Adam";
    for (const auto& mine : state()) {
        const Tensor* found = nullptr;
        for (const auto& s : saved)
            if (s.first == mine.first) found = &s.second;
        if (!found) fail(who, "::load_state: '", mine.first, "' is missing");
        if (found->shape() != mine.second.shape())
            fail(who, "::load_state: '", mine.first, "' has shape ", to_string(found->shape()), ", expected ",
                 to_string(mine.second.shape()));
        Tensor dst = mine.second;
        copy_into(dst, *found);  // from a checkpoint on the host into moments on any device
    }
}

float grad_norm(const NamedTensors& params) {
    NoGradGuard no_grad;
    // total = sqrt(sum_p sum_i g_i^2): one sum_squares call per device over all its gradients
    double sq = 0.0;
    for (Device d : {Device::CPU, Device::CUDA}) {
        std::vector<const float*> xs;
        std::vector<int64_t> ns;
        for (const auto& p : params) {
            Tensor g = p.second.grad();
            if (!g.defined() || g.device() != d) continue;
            xs.push_back(g.data());
            ns.push_back(g.numel());
        }
        if (xs.empty()) continue;
        int64_t values = 0;
        for (int64_t x : ns) values += x;
        run_update("grad_norm", d, (int64_t)xs.size(), values, 4.0 * (double)values, [&] {
            sq += kernels_for(d).sum_squares(xs.data(), ns.data(), (int64_t)xs.size());
        });
    }
    return (float)std::sqrt(sq);
}

float clip_grad_norm(const NamedTensors& params, float max_norm) {
    if (!(max_norm > 0.0f)) fail("clip_grad_norm: max_norm must be > 0, got ", max_norm);
    const double total = grad_norm(params);
    // coef = max_norm / (total + 1e-6), applied only when it shrinks
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1.0) {
        const float c = (float)coef;
        int64_t tensors = 0, values = 0;
        for (const auto& p : params)
            if (p.second.grad().defined()) ++tensors, values += p.second.numel();
        run_update("clip_scale", params.empty() ? Device::CPU : params[0].second.device(), tensors, values,
                   8.0 * (double)values, [&] {
            for (const auto& p : params) {
                Tensor g = p.second.grad();
                if (!g.defined()) continue;
                kernels_for(g.device()).scale(g.data(), g.data(), c, g.numel());  // g = c g, in place
            }
        });
    }
    return (float)total;
}

std::string find_non_finite_grad(const NamedTensors& params) {
    for (const auto& [name, p] : params) {
        Tensor g = p.grad();
        if (!g.defined()) continue;
        const std::vector<float> v = g.to_vector();  // from any device
        for (size_t i = 0; i < v.size(); ++i)
            if (!std::isfinite(v[i]))
                return "the gradient of '" + name + "' " + to_string(g.shape()) + " holds " + std::to_string(v[i]) +
                       " at index " + std::to_string(i);
    }
    return "";
}

float linear_warmup_lr(float base_lr, int64_t step, int64_t warmup_steps) {
    if (step < 1) fail("linear_warmup_lr: step is 1-indexed (the update about to be taken), got ", step);
    if (warmup_steps <= 0 || step >= warmup_steps) return base_lr;
    // lr = base_lr * step / warmup_steps
    return (float)((double)base_lr * (double)step / (double)warmup_steps);
}

float warmup_cosine_lr(float base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps, float final_fraction) {
    if (step < 1) fail("warmup_cosine_lr: step is 1-indexed (the update about to be taken), got ", step);
    if (warmup_steps > 0 && step < warmup_steps) return linear_warmup_lr(base_lr, step, warmup_steps);
    if (total_steps <= warmup_steps) return base_lr;
    // progress p in [0, 1] after the warm-up; lr = base (f + (1 - f) (1 + cos(pi p)) / 2)
    const double p = std::min(1.0, (double)(step - std::max<int64_t>(warmup_steps, 0)) / (double)(total_steps - std::max<int64_t>(warmup_steps, 0)));
    const double pi = 3.14159265358979323846;
    return (float)(base_lr * (final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + std::cos(pi * p))));
}

int64_t wsd_decay_start(int64_t total_steps, double decay_fraction) {
    if (!(decay_fraction >= 0.0 && decay_fraction <= 1.0)) fail("wsd_decay_start: decay fraction ", decay_fraction, " is not in [0, 1]");
    return total_steps - (int64_t)std::llround(decay_fraction * (double)total_steps);
}

float warmup_stable_decay_lr(float base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps,
                             double decay_fraction, float final_fraction) {
    if (step < 1) fail("warmup_stable_decay_lr: step is 1-indexed (the update about to be taken), got ", step);
    if (warmup_steps > 0 && step < warmup_steps) return linear_warmup_lr(base_lr, step, warmup_steps);
    const int64_t D = wsd_decay_start(total_steps, decay_fraction);
    if (total_steps <= 0 || step <= D) return base_lr;  // not planned yet, or the stable part
    // p in (0, 1] over the decay; lr = base (f + (1 - f) (1 + cos(pi p)) / 2)
    const double p = std::min(1.0, (double)(step - D) / (double)(total_steps - D));
    const double pi = 3.14159265358979323846;
    return (float)(base_lr * (final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + std::cos(pi * p))));
}

}  // namespace fw::nn
