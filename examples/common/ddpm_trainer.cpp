#include "examples/common/ddpm_trainer.h"

#include <cmath>
#include <cstring>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "nn/checkpoint.h"

namespace fw::train {

diffusion::Schedule make_schedule(const std::string& name) {
    if (name == "linear") return diffusion::linear_schedule();
    if (name == "cosine") return diffusion::cosine_schedule();
    fail("schedule '", name, "': allowed: linear, cosine");
}

static nn::UNetConfig unet_config(const TrainConfig& c) {
    nn::UNetConfig u = nn::UNetConfig::small();
    u.base = (int)c.base;
    u.mid = (int)c.mid;
    u.groups = (int)c.groups;
    return u;
}

DdpmTrainer::DdpmTrainer(const TrainConfig& cfg, const data::Split& train)
    : cfg_(cfg), train_(train), sch_(make_schedule(cfg.schedule)), noise_gen_((uint64_t)cfg.seed * 2 + 1) {
    if (cfg.lr_schedule != "cosine" && cfg.lr_schedule != "constant")
        fail("lr schedule '", cfg.lr_schedule, "': allowed: cosine, constant");
    if (train.n < cfg.batch)
        fail("training set has ", train.n, " images, fewer than one batch of ", cfg.batch);
    Generator init((uint64_t)cfg.seed * 2);
    model_ = std::make_unique<nn::UNet>(unet_config(cfg), init);  // initialised on the CPU (same weights on any device)
    model_->to(cfg.device);  // before Adam and the EMA, which keep their state beside the parameters
    nn::AdamOptions opt;
    opt.lr = (float)cfg.lr;
    adam_ = std::make_unique<nn::Adam>(model_->parameters(), opt);
    ema_ = std::make_unique<nn::EMA>(*model_, (float)cfg.ema_decay, cfg.ema_warmup);
    batch_host_ = Tensor::empty({cfg.batch, 1, train.rows, train.cols});
    batch_ = cfg.device == Device::CPU ? batch_host_ : Tensor::empty(batch_host_.shape(), cfg.device);
}

std::vector<int64_t> DdpmTrainer::epoch_order(int64_t epoch) const {
    Generator g((uint64_t)cfg_.seed * 1000003u + 7919u * (uint64_t)epoch + 17u);
    return data::permutation(train_.n, g);
}

// Step s reads batch s % (n / B) of epoch s / (n / B); the incomplete last batch is dropped.
void DdpmTrainer::fill_batch(int64_t step) {
    const int64_t per_epoch = train_.n / cfg_.batch, epoch = step / per_epoch, pos = step % per_epoch;
    if (epoch != cached_epoch_) {
        order_ = epoch_order(epoch);
        cached_epoch_ = epoch;
    }
    const int64_t size = train_.image_size();
    for (int64_t b = 0; b < cfg_.batch; ++b) {
        const int64_t idx = order_[pos * cfg_.batch + b];
        data::bytes_to_unit_range(train_.pixels.data() + idx * size, size, batch_host_.data() + b * size);
    }
    if (cfg_.device != Device::CPU) copy_into(batch_, batch_host_);  // one host -> device copy per step
}

float DdpmTrainer::step() {
    fill_batch(step_);
    diffusion::EpsModel eps_theta = [&](const Tensor& xt, const std::vector<int>& t) { return model_->forward(xt, t); };
    Tensor loss = diffusion::l_simple(sch_, eps_theta, batch_, noise_gen_);  // Eq. 17
    const float value = loss.item();
    if (!std::isfinite(value))
        throw NonFiniteLoss("loss is " + std::to_string(value) + " at step " + std::to_string(step_ + 1));
    model_->zero_grad();
    loss.backward();
    last_grad_norm_ = cfg_.grad_clip > 0 ? nn::clip_grad_norm(model_->parameters(), (float)cfg_.grad_clip) : 0.0f;
    last_lr_ = cfg_.lr_schedule == "cosine" ? nn::warmup_cosine_lr((float)cfg_.lr, step_ + 1, cfg_.warmup, cfg_.steps, 0.05f)
                                            : nn::linear_warmup_lr((float)cfg_.lr, step_ + 1, cfg_.warmup);
    adam_->set_lr(last_lr_);
    adam_->step();
    ema_->update(*model_);
    ++step_;
    return value;
}

nn::UNet& DdpmTrainer::ema_model() {
    if (!ema_model_) {
        Generator unused(0);
        ema_model_ = std::make_unique<nn::UNet>(unet_config(cfg_), unused);
        ema_model_->to(cfg_.device);
    }
    ema_->copy_to(*ema_model_);
    return *ema_model_;
}

// The config keys that must match for a checkpoint to continue the same run.
static std::map<std::string, std::string> identity_meta(const TrainConfig& c) {
    return {{"batch", std::to_string(c.batch)},   {"seed", std::to_string(c.seed)},
            {"base", std::to_string(c.base)},     {"mid", std::to_string(c.mid)},
            {"groups", std::to_string(c.groups)}, {"schedule", c.schedule},
            {"ema_decay", std::to_string(c.ema_decay)}};
}

void DdpmTrainer::save(const std::string& path) const {
    TrainState s;
    s.model = model_->parameters();
    s.ema = ema_->shadow();
    s.optim = adam_->state();
    s.step = step_;
    s.rng_seed = noise_gen_.seed();
    s.rng_offset = noise_gen_.offset();
    s.meta = identity_meta(cfg_);
    s.meta["lr"] = std::to_string(cfg_.lr);
    s.meta["warmup"] = std::to_string(cfg_.warmup);
    s.meta["lr_schedule"] = cfg_.lr_schedule;
    s.meta["steps"] = std::to_string(cfg_.steps);
    save_checkpoint(path, s);
}

void DdpmTrainer::load(const std::string& path) {
    Checkpoint ck = read_checkpoint(path);
    for (const auto& [key, want] : identity_meta(cfg_)) {
        auto it = ck.meta.find(key);
        if (it == ck.meta.end()) fail("checkpoint ", path, ": has no '", key, "' setting; cannot check it continues this run");
        if (it->second != want)
            fail("checkpoint ", path, ": was trained with ", key, " = ", it->second, " but this run has ", key, " = ", want,
                 "; use the same flags to resume, or another --out to start a new run");
    }
    TrainState s;
    s.model = model_->parameters();
    s.ema = ema_->shadow();
    s.optim = adam_->state();
    load_checkpoint(path, s);
    step_ = s.step;
    adam_->set_step_count(s.step);
    ema_->set_num_updates(s.step);
    noise_gen_.set_state(s.rng_seed, s.rng_offset);
    cached_epoch_ = -1;
}

Tensor sample_images(const nn::UNet& net, const diffusion::Schedule& sch, int64_t n, int64_t H, int64_t W,
                     const std::string& sampler, int64_t steps, Generator& gen, bool clip_x0,
                     diffusion::Sigma sigma, const diffusion::StepCallback& on_step) {
    if (sampler != "ddpm" && sampler != "ddim") fail("sampler '", sampler, "': allowed: ddpm, ddim");
    NoGradGuard no_grad;
    diffusion::EpsModel eps_theta = [&](const Tensor& xt, const std::vector<int>& t) { return net.forward(xt, t); };
    const NamedTensors params = net.parameters();
    const Device device = params.empty() ? Device::CPU : params.front().second.device();
    Tensor out = Tensor::empty({n, 1, H, W});
    const int64_t chunk = 64;
    for (int64_t start = 0; start < n; start += chunk) {
        const int64_t m = std::min(chunk, n - start);
        diffusion::SampleOptions opts;
        opts.clip_x0 = clip_x0;
        opts.sigma = sigma;
        opts.device = device;
        if (start == 0) opts.on_step = on_step;
        Tensor x = sampler == "ddpm" ? diffusion::ddpm_sample(sch, eps_theta, {m, 1, H, W}, gen, opts)
                                     : diffusion::ddim_sample(sch, eps_theta, {m, 1, H, W}, gen, (int)steps, 0.0, opts);
        const std::vector<float> values = x.to_vector();  // from the sampling device
        std::memcpy(out.data() + start * H * W, values.data(), sizeof(float) * m * H * W);
    }
    return out;
}

diffusion::Sigma sigma_from_flag(const std::string& name) {
    if (name == "beta") return diffusion::Sigma::Beta;
    if (name == "beta_tilde") return diffusion::Sigma::BetaTilde;
    fail("--sigma '", name, "': allowed: beta, beta_tilde");
}

}  // namespace fw::train
