#include "examples/common/ddpm_trainer.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <zlib.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "examples/common/interrupt.h"
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
    u.num_classes = c.cond ? 10 : 0;
    return u;
}

DdpmTrainer::DdpmTrainer(const TrainConfig& cfg, const data::Split& train)
    : cfg_(cfg), train_(train), sch_(make_schedule(cfg.schedule)), noise_gen_((uint64_t)cfg.seed * 2 + 1) {
    if (cfg.lr_schedule != "cosine" && cfg.lr_schedule != "wsd" && cfg.lr_schedule != "constant")
        fail("lr schedule '", cfg.lr_schedule, "': allowed: cosine, wsd, constant");
    if (cfg.minutes > 0 && cfg.lr_schedule == "cosine")
        fail("a time budget re-plans the step count as the run goes, and the cosine schedule's rate at every step "
             "depends on that count: use the wsd or constant schedule");
    if (cfg.steps < (cfg.minutes > 0 ? 0 : 1)) fail("steps ", cfg.steps, ": a run needs at least one step");
    if (cfg.cond && !(cfg.p_uncond >= 0.0 && cfg.p_uncond <= 1.0))
        fail("p_uncond ", cfg.p_uncond, " is not a probability in [0, 1]");
    if (train.n < cfg.batch)
        fail("training set has ", train.n, " images, fewer than one batch of ", cfg.batch);
    if (train.rows % 4 != 0 || train.cols % 4 != 0)
        fail("training images are ", train.rows, " x ", train.cols, "; the UNet needs sides that are multiples of 4 "
             "(two 2x downsamplings)");
    Generator init((uint64_t)cfg.seed * 2);
    model_ = std::make_unique<nn::UNet>(unet_config(cfg), init);  // initialised on the CPU (same weights on any device)
    model_->to(cfg.device);  // before Adam and the EMA, which keep their state beside the parameters
    nn::AdamOptions opt;
    opt.lr = (float)cfg.lr;
    adam_ = std::make_unique<nn::Adam>(model_->parameters(), opt);
    ema_ = std::make_unique<nn::EMA>(*model_, (float)cfg.ema_decay, cfg.ema_warmup);
    batch_host_ = Tensor::empty({cfg.batch, 1, train.rows, train.cols});
    if (cfg.cond) batch_labels_.assign((size_t)cfg.batch, 0);
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
        if (cfg_.cond) batch_labels_[(size_t)b] = train_.labels[(size_t)idx];
    }
    if (cfg_.device != Device::CPU) copy_into(batch_, batch_host_);  // one host -> device copy per step
}

float DdpmTrainer::step() {
    const float loss = compute_gradients();
    apply_update();
    return loss;
}

float DdpmTrainer::compute_gradients() {
    fill_batch(step_);
    std::vector<int> labels;
    if (cfg_.cond) {
        // classifier-free guidance's training: each label dropped to "no label" with probability p_uncond
        std::vector<float> u((size_t)cfg_.batch);
        noise_gen_.uniform(u.data(), (int64_t)u.size());
        labels = batch_labels_;
        for (size_t b = 0; b < labels.size(); ++b)
            if (u[b] < cfg_.p_uncond) labels[b] = model_->null_label();
    }
    diffusion::EpsModel eps_theta = [&](const Tensor& xt, const std::vector<int>& t) { return model_->forward(xt, t, labels); };
    Tensor loss = cfg_.loss == "vlb" ? diffusion::l_vlb(sch_, eps_theta, batch_, noise_gen_, diffusion::Sigma::Beta)
                                     : diffusion::l_simple(sch_, eps_theta, batch_, noise_gen_);  // Eq. 17
    const float value = loss.item();
    if (!std::isfinite(value))
        throw NonFiniteStep("loss is " + std::to_string(value) + " at step " + std::to_string(step_ + 1));
    model_->zero_grad();
    loss.backward();
    return value;
}

void DdpmTrainer::apply_update() {
    const NamedTensors params = model_->parameters();
    // A finite loss can still have a NaN or Inf gradient (an overflow inside backward). Its norm
    // is then NaN or Inf, which clipping cannot fix (coef < 1 is false for NaN): stop here, before
    // Adam would write it into every weight and the next checkpoint.
    last_grad_norm_ = cfg_.grad_clip > 0 ? nn::clip_grad_norm(params, (float)cfg_.grad_clip) : nn::grad_norm(params);
    if (!std::isfinite(last_grad_norm_))
        throw NonFiniteStep("gradient norm is " + std::to_string(last_grad_norm_) + " at step " +
                            std::to_string(step_ + 1) + ": " + nn::find_non_finite_grad(params));
    if (cfg_.lr_schedule == "cosine")
        last_lr_ = nn::warmup_cosine_lr((float)cfg_.lr, step_ + 1, cfg_.warmup, cfg_.steps, 0.05f);
    else if (cfg_.lr_schedule == "wsd")
        last_lr_ = nn::warmup_stable_decay_lr((float)cfg_.lr, step_ + 1, cfg_.warmup, cfg_.steps, kWsdDecayFraction, 0.05f);
    else
        last_lr_ = nn::linear_warmup_lr((float)cfg_.lr, step_ + 1, cfg_.warmup);
    adam_->set_lr(last_lr_);
    adam_->step();
    ema_->update(*model_);
    ++step_;
}

void DdpmTrainer::set_planned_steps(int64_t steps) {
    if (cfg_.minutes <= 0) fail("set_planned_steps: only a run with a time budget plans its steps");
    // The rates of steps 1..step_ must stay what they were: under wsd, those up to the decay's start.
    const auto unchanged_until = [&](int64_t total) {
        return cfg_.lr_schedule == "wsd" && total > 0 ? nn::wsd_decay_start(total, kWsdDecayFraction) : total;
    };
    const bool old_plan_open = cfg_.steps == 0 || unchanged_until(cfg_.steps) >= step_;  // 0: no plan, no decay yet
    if (steps < step_ || (steps != cfg_.steps && (unchanged_until(steps) < step_ || !old_plan_open)))
        fail("a plan of ", steps, " steps at step ", step_, " (planned: ", cfg_.steps,
             ") would change the learning rate of steps already taken");
    cfg_.steps = steps;
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

// A double as the shortest decimal text that reads back to the same bits (0.001, not 0.001000).
static std::string exact_text(double v) {
    char buf[40];
    for (int precision = 15; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

std::vector<RunSetting> run_settings(const TrainConfig& c) {
    return {{"steps", "--steps", std::to_string(c.steps)},
            {"batch", "--batch", std::to_string(c.batch)},
            {"lr", "--lr", exact_text(c.lr)},
            {"warmup", "--warmup", std::to_string(c.warmup)},
            {"lr_schedule", "--lr-schedule", c.lr_schedule},
            {"ema_decay", "--ema", exact_text(c.ema_decay)},
            {"ema_warmup", "--no-ema-warmup", c.ema_warmup ? "on" : "off"},
            {"grad_clip", "--clip", exact_text(c.grad_clip)},
            {"seed", "--seed", std::to_string(c.seed)},
            {"base", "--base", std::to_string(c.base)},
            {"mid", "--mid", std::to_string(c.mid)},
            {"groups", "(UNet groups)", std::to_string(c.groups)},
            {"schedule", "--schedule", c.schedule},
            {"loss", "--loss", c.loss},
            {"cond", "--cond", c.cond ? "on" : "off"},
            {"p_uncond", "--p-uncond", c.cond ? exact_text(c.p_uncond) : "-"},
            {"minutes", "--minutes", exact_text(c.minutes)}};
}

TrainConfig config_from_checkpoint(const Checkpoint& ck, TrainConfig c) {
    const int64_t big = 1'000'000'000'000;
    c.minutes = ck.has("minutes") ? ck.setting_double("minutes") : 0.0;  // from before --minutes: none
    c.steps = ck.setting_int("steps", c.minutes > 0 ? 0 : 1, big);     // a budgeted run saved before its first plan: 0
    c.batch = ck.setting_int("batch", 1, big);
    c.lr = ck.setting_double("lr");
    c.warmup = ck.setting_int("warmup", 0, big);
    c.lr_schedule = ck.setting("lr_schedule");
    c.ema_decay = ck.setting_double("ema_decay");
    const std::string ema_warmup = ck.setting("ema_warmup");
    if (ema_warmup != "on" && ema_warmup != "off")
        fail("checkpoint ", ck.path, ": setting 'ema_warmup' = '", ema_warmup, "' is not on or off");
    c.ema_warmup = ema_warmup == "on";
    c.grad_clip = ck.setting_double("grad_clip");
    c.seed = ck.setting_int("seed", 0, big);
    c.base = ck.setting_int("base", 1, 1 << 16);
    c.mid = ck.setting_int("mid", 1, 1 << 16);
    c.groups = ck.setting_int("groups", 1, 1 << 16);
    c.schedule = ck.setting("schedule");
    c.loss = ck.has("loss") ? ck.setting("loss") : "simple";  // checkpoints from before --loss trained L_simple
    const std::string cond = ck.has("cond") ? ck.setting("cond") : "off";  // from before --cond: unconditional
    if (cond != "on" && cond != "off") fail("checkpoint ", ck.path, ": setting 'cond' = '", cond, "' is not on or off");
    c.cond = cond == "on";
    if (c.cond) c.p_uncond = ck.setting_double("p_uncond");
    if (c.loss != "simple" && c.loss != "vlb")
        fail("checkpoint ", ck.path, ": setting 'loss' = '", c.loss, "' is not simple or vlb");
    return c;
}

// The training set, as the checkpoint records it: a resumed run must read the same images.
static std::vector<RunSetting> data_settings(const data::Split& d) {
    const uint32_t crc = (uint32_t)crc32_z(0, d.pixels.data(), d.pixels.size());
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", crc);
    return {{"train_images", "--data", std::to_string(d.n)},
            {"image_rows", "--data", std::to_string(d.rows)},
            {"image_cols", "--data", std::to_string(d.cols)},
            {"train_crc32", "--data", hex}};
}

void DdpmTrainer::save(const std::string& path) const {
    TrainState s;
    s.model = model_->parameters();
    s.ema = ema_->shadow();
    s.optim = adam_->state();
    s.step = step_;
    s.rng_seed = noise_gen_.seed();
    s.rng_offset = noise_gen_.offset();
    for (const RunSetting& r : run_settings(cfg_)) s.meta[r.key] = r.value;
    for (const RunSetting& r : data_settings(train_)) s.meta[r.key] = r.value;
    if (cfg_.minutes > 0) s.meta["budget_spent_s"] = exact_text(budget_spent_s_);
    save_checkpoint(path, s);
}

void DdpmTrainer::load(const std::string& path) {
    Checkpoint ck = read_checkpoint(path);
    std::vector<RunSetting> settings = run_settings(cfg_);
    for (const RunSetting& r : data_settings(train_)) settings.push_back(r);
    std::string missing, differ;
    for (const RunSetting& r : settings) {
        if (!ck.has(r.key)) {
            if (r.key == "loss" && r.value == "simple") continue;  // from before --loss: it trained L_simple
            if (r.key == "cond" && r.value == "off") continue;     // from before --cond: unconditional
            if (r.key == "p_uncond" && r.value == "-") continue;
            if (r.key == "minutes" && r.value == "0") continue;    // from before --minutes: no budget
            missing += (missing.empty() ? "'" : ", '") + r.key + "'";
            continue;
        }
        const std::string& saved = ck.setting(r.key);
        if (saved != r.value)
            differ += "\n  " + r.key + " = " + saved + " but this run has " + r.key + " = " + r.value + " (" + r.flag + ")";
    }
    if (!missing.empty())
        fail("checkpoint ", path, ": has no ", missing, " setting (written by an older version?); cannot check that it "
             "continues this run: start a new run in another --out");
    if (!differ.empty())
        fail("checkpoint ", path, ": was trained with different settings; resuming would not continue the same run:", differ,
             "\nuse the checkpoint's settings (leave those flags out), or another --out to start a new run");
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
    budget_spent_s_ = cfg_.minutes > 0 ? ck.setting_double("budget_spent_s") : 0.0;
}

// The samplers' loop over chunks of 64 images; model_for(start, m) is the noise model of images
// start .. start + m - 1.
static Tensor sample_in_chunks(const nn::UNet& net, const diffusion::Schedule& sch, int64_t n, int64_t H, int64_t W,
                               const std::string& sampler, int64_t steps, Generator& gen, bool clip_x0,
                               diffusion::Sigma sigma, const diffusion::StepCallback& on_step,
                               const std::function<diffusion::EpsModel(int64_t, int64_t)>& model_for) {
    if (sampler != "ddpm" && sampler != "ddim") fail("sampler '", sampler, "': allowed: ddpm, ddim");
    NoGradGuard no_grad;
    const NamedTensors params = net.parameters();
    const Device device = params.empty() ? Device::CPU : params.front().second.device();
    Tensor out = Tensor::empty({n, 1, H, W});
    const int64_t chunk = 64;
    for (int64_t start = 0; start < n; start += chunk) {
        const int64_t m = std::min(chunk, n - start);
        const diffusion::EpsModel eps_theta = model_for(start, m);
        diffusion::SampleOptions opts;
        opts.clip_x0 = clip_x0;
        opts.sigma = sigma;
        opts.device = device;
        opts.on_step = [&](int t, const Tensor& xt, const Tensor& x0_hat) {
            interrupt::throw_if_received();  // Ctrl-C stops the sampler after this step
            if (start == 0 && on_step) on_step(t, xt, x0_hat);
        };
        Tensor x = sampler == "ddpm" ? diffusion::ddpm_sample(sch, eps_theta, {m, 1, H, W}, gen, opts)
                                     : diffusion::ddim_sample(sch, eps_theta, {m, 1, H, W}, gen, (int)steps, 0.0, opts);
        const std::vector<float> values = x.to_vector();  // from the sampling device
        // A model with overflowing weights draws NaN, which a PNG would show as black: say so.
        for (size_t i = 0; i < values.size(); ++i)
            if (!std::isfinite(values[i]))
                fail("sampling produced ", values[i], " (image ", start + (int64_t)(i / (H * W)), ", pixel ",
                     (int64_t)(i % (H * W)), "): the model's weights do not give finite predictions");
        std::memcpy(out.data() + start * H * W, values.data(), sizeof(float) * m * H * W);
    }
    return out;
}

Tensor sample_images(const nn::UNet& net, const diffusion::Schedule& sch, int64_t n, int64_t H, int64_t W,
                     const std::string& sampler, int64_t steps, Generator& gen, bool clip_x0,
                     diffusion::Sigma sigma, const diffusion::StepCallback& on_step) {
    if (net.conditional())
        fail("sample_images: the model is conditional (trained with --cond): give labels (sample_images_conditional)");
    return sample_in_chunks(net, sch, n, H, W, sampler, steps, gen, clip_x0, sigma, on_step, [&](int64_t, int64_t) {
        return diffusion::EpsModel([&](const Tensor& xt, const std::vector<int>& t) { return net.forward(xt, t); });
    });
}

diffusion::EpsModel guided_model(const nn::UNet& net, const std::vector<int>& labels, double w) {
    if (!net.conditional()) fail("guided_model: the model is unconditional (trained without --cond)");
    diffusion::LabelledEpsModel model = [&net](const Tensor& xt, const std::vector<int>& t, const std::vector<int>& y) {
        return net.forward(xt, t, y);
    };
    return diffusion::classifier_free_guidance(model, labels, net.null_label(), w);
}

Tensor sample_images_conditional(const nn::UNet& net, const diffusion::Schedule& sch, const std::vector<int>& labels,
                                 double w, int64_t H, int64_t W, const std::string& sampler, int64_t steps,
                                 Generator& gen, bool clip_x0, diffusion::Sigma sigma,
                                 const diffusion::StepCallback& on_step) {
    if (!net.conditional()) fail("sample_images_conditional: the model is unconditional (trained without --cond)");
    for (int y : labels)
        if (y < 0 || y > net.null_label())
            fail("label ", y, " is outside 0..", net.null_label() - 1, " (", net.null_label(), ": none)");
    return sample_in_chunks(net, sch, (int64_t)labels.size(), H, W, sampler, steps, gen, clip_x0, sigma, on_step,
                            [&](int64_t start, int64_t m) {
                                return guided_model(net, std::vector<int>(labels.begin() + start, labels.begin() + start + m), w);
                            });
}

std::unique_ptr<nn::UNet> unet_from_checkpoint(const Checkpoint& ck, const std::string& prefix, const std::string& what) {
    nn::UNetConfig cfg = nn::UNetConfig::small();
    cfg.base = (int)ck.setting_int("base", 1, 4096);
    cfg.mid = (int)ck.setting_int("mid", 1, 4096);
    cfg.groups = (int)ck.setting_int("groups", 1, 4096);
    if (ck.has("cond") && ck.setting("cond") == "on") cfg.num_classes = 10;
    std::unique_ptr<nn::UNet> net;
    try {
        Generator unused(0);
        net = std::make_unique<nn::UNet>(cfg, unused);
    } catch (const Error& e) {
        fail("checkpoint ", ck.path, ": its settings base = ", cfg.base, ", mid = ", cfg.mid, ", groups = ", cfg.groups,
             " do not describe a UNet: ", e.what());
    }
    load_into(net->parameters(), ck, prefix, what);
    return net;
}

diffusion::Sigma sigma_from_flag(const std::string& name) {
    if (name == "beta") return diffusion::Sigma::Beta;
    if (name == "beta_tilde") return diffusion::Sigma::BetaTilde;
    fail("--sigma '", name, "': allowed: beta, beta_tilde");
}

}  // namespace fw::train
