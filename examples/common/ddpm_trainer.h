// Training the UNet-S denoiser with L_simple (Eq. 17, Algorithm 1), as a class the programs and
// the tests share. One step():
//
//   x_0   = the next batch of real digits in [-1, 1]          (data order: see epoch_order)
//   loss  = L_simple(x_0): t ~ U{1..T}, eps ~ N(0, I),
//           x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps   (Eq. 6),
//           mean (eps - eps_theta(x_t, t))^2                    (Eq. 17)
//           (or, with loss = "vlb", the bound's terms: diffusion::l_vlb)
//   backward; the global gradient norm must be finite, then clip it; Adam (linear warm-up, then
//   cosine decay or constant); EMA of the weights.
//
// Everything a step depends on is in the checkpoint or derived from the step number: the model,
// the EMA, Adam's moments and step count, the noise generator's (seed, offset), and the data
// order (epoch e's permutation comes from a generator seeded by (seed, e)). So a run stopped and
// resumed from a checkpoint performs exactly the same arithmetic as one that was not stopped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/rng.h"
#include "diffusion/diffusion.h"
#include "examples/common/mnist_data.h"
#include "nn/checkpoint.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/unet.h"

namespace fw::train {

// The "wsd" schedule decays over the last 20% of the steps, as in Hägele et al. 2024.
constexpr double kWsdDecayFraction = 0.2;

struct TrainConfig {
    int64_t steps = 3000;        // optimizer steps in the whole run (with minutes: the plan so far; 0 = none yet)
    int64_t batch = 64;
    double lr = 1e-3;            // peak learning rate (after warm-up)
    int64_t warmup = 200;        // linear warm-up steps
    // after warm-up: "cosine" decay to 5% at `steps`; "wsd": flat, then a cosine decay to 5% over
    // the last kWsdDecayFraction of `steps` (nn::warmup_stable_decay_lr); or "constant"
    std::string lr_schedule = "cosine";
    // A wall-clock budget for the training steps (train_mnist --minutes; 0 = off): `steps` is then
    // planned as the run measures its speed (step_planner.h), with the "wsd" or "constant" schedule.
    double minutes = 0;
    double ema_decay = 0.999;    // the EMA's decay; with warm-up, min(decay, (1+t)/(10+t))
    bool ema_warmup = true;
    double grad_clip = 1.0;      // max global gradient norm (0 = off)
    int64_t seed = 0;
    int64_t base = 32, mid = 64; // UNet widths (UNet-S: 32 / 64)
    int64_t groups = 8;
    std::string schedule = "linear";  // "linear" (Eq. 1) or "cosine" (Eq. 21)
    // "simple": L_simple (Eq. 17); "vlb": the bound's terms (diffusion::l_vlb: Eq. 16's weights for
    // sigma_t^2 = beta_t, and L_0 of Eq. 19), which the DDPM paper finds gives a better NLL and worse samples
    std::string loss = "simple";
    // Class conditioning (train_mnist --cond): the UNet gets a label embedding of 10 classes + "no
    // label", and each sample's label is replaced by "no label" with probability p_uncond, so one
    // network learns eps(x_t, t, y) and eps(x_t, t, no label) for classifier-free guidance.
    bool cond = false;
    double p_uncond = 0.1;
    Device device = Device::CPU;  // where the model, the optimizer state and each step live
};

// Thrown by step() when the loss or a gradient is NaN or Inf, before anything is updated. The
// weights are then still those of the last good step, but the noise generator has moved on: the
// trainer is not to be saved or stepped again (a finite loss with a NaN gradient must not reach
// Adam, or the next checkpoint would hold NaN weights).
struct NonFiniteStep : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One setting that defines a run: its checkpoint key, the train_mnist flag that sets it, and its
// value as text (numbers written so that they read back exactly). A checkpoint stores them all;
// a resumed run must have the same values, or it would not be the same run.
struct RunSetting {
    std::string key, flag, value;
};
std::vector<RunSetting> run_settings(const TrainConfig& c);

// `c` with every run setting taken from checkpoint `ck` (errors name the checkpoint and the key).
TrainConfig config_from_checkpoint(const Checkpoint& ck, TrainConfig c);

class DdpmTrainer {
public:
    DdpmTrainer(const TrainConfig& cfg, const data::Split& train);

    float step();                          // one optimizer step: compute_gradients() + apply_update()
    // The two halves of a step, public so that a test can reach in between (poison a gradient):
    float compute_gradients();             // next batch, L_simple (Eq. 17), backward; returns the loss
    void apply_update();                   // finite-norm check, clip, Adam, EMA; then step_count() + 1
    int64_t step_count() const { return step_; }
    float last_lr() const { return last_lr_; }
    // --minutes: the planned step count (StepPlanner) and the budget used so far, in seconds; both
    // go into the checkpoint. A new plan must leave the rate of every step taken unchanged.
    void set_planned_steps(int64_t steps);
    void set_budget_spent(double seconds) { budget_spent_s_ = seconds; }
    double budget_spent() const { return budget_spent_s_; }
    float last_grad_norm() const { return last_grad_norm_; }

    // Checkpoint (safetensors, written atomically): model, EMA, Adam state, step, noise RNG, the
    // run settings (run_settings) and the training set's size and CRC-32. load() refuses a file
    // whose settings or data differ from this trainer's, naming every difference: the result would
    // not be the run that was stopped.
    void save(const std::string& path) const;
    void load(const std::string& path);

    const TrainConfig& config() const { return cfg_; }
    const diffusion::Schedule& schedule() const { return sch_; }
    nn::UNet& model() { return *model_; }
    // A UNet holding the EMA weights (refreshed on each call), for sampling.
    nn::UNet& ema_model();
    // The epoch's data order: a permutation of the training set seeded by (seed, epoch).
    std::vector<int64_t> epoch_order(int64_t epoch) const;

private:
    void fill_batch(int64_t step);

    TrainConfig cfg_;
    const data::Split& train_;
    diffusion::Schedule sch_;
    std::unique_ptr<nn::UNet> model_, ema_model_;
    std::unique_ptr<nn::Adam> adam_;
    std::unique_ptr<nn::EMA> ema_;
    Generator noise_gen_;
    Tensor batch_host_;                // (B, 1, H, W) on the CPU, filled in place each step
    std::vector<int> batch_labels_;    // the batch's labels (conditional runs)
    Tensor batch_;                     // the same on cfg.device (batch_host_ itself on the CPU)
    int64_t step_ = 0;
    int64_t cached_epoch_ = -1;
    std::vector<int64_t> order_;
    float last_lr_ = 0, last_grad_norm_ = 0;
    double budget_spent_s_ = 0;
};

// Samples n images of shape (1, H, W) from `net` with DDPM (Algorithm 2, 1000 steps) or DDIM
// (Eq. 20, `steps` steps, eta 0), in chunks of at most 64 images. on_step sees the first chunk.
// Each step polls interrupt::received() (throws interrupt::Interrupted after a Ctrl-C), and a
// sample that is not finite is an error naming the image and pixel, not a black square.
// Sampling runs on the device of net's parameters; the images come back on the CPU.
// clip_x0 clips each step's predicted x_0 to the data range [-1, 1], as the original DDPM code
// does when sampling: it keeps an imperfect eps_theta from driving pixels far outside the range.
// sigma is DDPM's sigma_t^2 (Eq. 14: beta_t or beta_tilde_t); DDIM (eta = 0) has no noise term.
Tensor sample_images(const nn::UNet& net, const diffusion::Schedule& sch, int64_t n, int64_t H, int64_t W,
                     const std::string& sampler, int64_t steps, Generator& gen, bool clip_x0 = true,
                     diffusion::Sigma sigma = diffusion::Sigma::Beta, const diffusion::StepCallback& on_step = nullptr);
// The guided noise model of a conditional UNet for the given labels (one per sample of every
// batch the sampler passes; 10 = no label) and guidance weight w (diffusion/guidance.h).
diffusion::EpsModel guided_model(const nn::UNet& net, const std::vector<int>& labels, double w);
// sample_images for a conditional UNet: labels (n values in 0..9, or 10 for none), guidance w.
Tensor sample_images_conditional(const nn::UNet& net, const diffusion::Schedule& sch, const std::vector<int>& labels,
                                 double w, int64_t H, int64_t W, const std::string& sampler, int64_t steps,
                                 Generator& gen, bool clip_x0 = true, diffusion::Sigma sigma = diffusion::Sigma::Beta,
                                 const diffusion::StepCallback& on_step = nullptr);
// "beta" / "beta_tilde" (a --sigma flag's value) as a Sigma.
diffusion::Sigma sigma_from_flag(const std::string& name);

diffusion::Schedule make_schedule(const std::string& name);

// The UNet a train_mnist checkpoint's settings (base, mid, groups) describe, with the checkpoint's
// "<prefix>" weights loaded ("ema." or "model."); `what` names them in errors ("the EMA model").
std::unique_ptr<nn::UNet> unet_from_checkpoint(const Checkpoint& ck, const std::string& prefix, const std::string& what);

}  // namespace fw::train
