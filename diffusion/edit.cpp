#include "diffusion/edit.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "diffusion/forward_process.h"

namespace fw::diffusion {

static void check_steps(const Schedule& sch, int steps, const char* who) {
    if (steps < 1 || steps > sch.T) fail(who, ": steps = ", steps, " must be in 1..T (T = ", sch.T, ")");
}

static void check_jumps(int T, int jumps, int jump_length, const char* who) {
    if (T < 1) fail(who, ": T = ", T, " must be >= 1");
    if (jumps < 0) fail(who, ": jumps = ", jumps, " must be >= 0");
    if (jumps > 0 && (jump_length < 1 || jump_length > T - 1))
        fail(who, ": jump_length = ", jump_length, " must be in 1..T-1 (T = ", T, ") when jumps = ", jumps, " > 0");
}

// ---------------------------------------------------------------------------
// Inpainting

std::vector<int> repaint_schedule(int T, int jumps, int jump_length) {
    check_jumps(T, jumps, jump_length, "repaint_schedule");
    // jumps_left[l]: how many more times level l goes back up; jump points l = 1 + k L with l + L <= T
    std::vector<int> jumps_left((size_t)T + 1, 0);
    if (jumps > 0)
        for (int l = 1; l + jump_length <= T; l += jump_length) jumps_left[(size_t)l] = jumps;
    std::vector<int> levels{T};
    int level = T;
    while (level >= 1) {
        levels.push_back(--level);  // down: a reverse step with the model at t = level + 1
        if (level >= 1 && jumps_left[(size_t)level] > 0) {
            --jumps_left[(size_t)level];
            for (int k = 0; k < jump_length; ++k) levels.push_back(++level);  // up: q_step at t = level
        }
    }
    return levels;
}

// x_known (N, C, H, W) in [-1, 1]; mask (N, C, H, W) or (1, C, H, W), values exactly 0 or 1.
static void check_inpaint_inputs(const Tensor& x_known, const Tensor& mask) {
    check_defined(x_known, "inpaint_sample", "x_known");
    check_defined(mask, "inpaint_sample", "mask");
    const Shape& xs = x_known.shape();
    const Shape& ms = mask.shape();
    if (xs.size() != 4) fail("inpaint_sample: x_known must be (N, C, H, W), got ", to_string(xs));
    const bool ok = ms.size() == 4 && (ms[0] == xs[0] || ms[0] == 1) && ms[1] == xs[1] && ms[2] == xs[2] &&
                    ms[3] == xs[3];
    if (!ok)
        fail("inpaint_sample: mask has shape ", to_string(ms), " but x_known has ", to_string(xs),
             ": the mask must be ", to_string(xs), " or ", to_string(Shape{1, xs[1], xs[2], xs[3]}));
    check_same_device(x_known, mask, "inpaint_sample");
    const std::vector<float> m = mask.to_vector();  // on the host, from any device
    for (size_t i = 0; i < m.size(); ++i)
        if (m[i] != 0.0f && m[i] != 1.0f)
            fail("inpaint_sample: mask ", to_string(ms), " holds ", m[i], " at flat index ", i,
                 ": every value must be exactly 0 (fill) or 1 (known); masks are not thresholded");
    const std::vector<float> x = x_known.to_vector();
    for (size_t i = 0; i < x.size(); ++i)
        if (!(x[i] >= -1.0f && x[i] <= 1.0f))
            fail("inpaint_sample: x_known ", to_string(xs), " holds ", x[i], " at flat index ", i,
                 ": images must lie in [-1, 1]");
}

Tensor inpaint_sample(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x_known, const Tensor& mask,
                      Generator& gen, const InpaintOptions& opts) {
    if (!eps_theta) fail("inpaint_sample: eps_theta is an empty function");
    check_inpaint_inputs(x_known, mask);
    check_jumps(sch.T, opts.jumps, opts.jump_length, "inpaint_sample");
    const std::vector<int> levels = repaint_schedule(sch.T, opts.jumps, opts.jump_length);
    NoGradGuard no_grad;
    const Shape& shape = x_known.shape();
    const Device device = x_known.device();
    const Tensor& m = mask;
    const Tensor one_minus_m = neg(mask) + 1.0f;  // 1 - m: 1 where the pixel is to be filled
    SampleOptions step_opts;
    step_opts.sigma = opts.sigma;
    step_opts.clip_x0 = opts.clip_x0;

    Tensor x = randn(shape, gen, device);  // x_T ~ N(0, I)
    for (size_t k = 0; k + 1 < levels.size(); ++k) {
        const int t = levels[k];
        if (levels[k + 1] == t - 1) {  // down: t -> t - 1
            Tensor eps = randn(shape, gen, device);
            // Eq. 6: x_t^known = sqrt(alpha_bar_t) x_known + sqrt(1 - alpha_bar_t) eps
            Tensor x_t_known = q_sample(sch, x_known, same_t(x_known, t), eps);
            // replacement: x_t = m x_t^known + (1 - m) x_t
            x = m * x_t_known + one_minus_m * x;
            Tensor eps_pred = call_eps_model(eps_theta, x, t, "inpaint_sample");
            Tensor z = t > 1 ? randn(shape, gen, device) : Tensor();  // z ~ N(0, I) if t > 1, else z = 0
            Tensor x0_hat;
            // Eq. 18: x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_t) + sigma_t z
            Tensor x_prev = ddpm_step(sch, x, t, eps_pred, z, step_opts, &x0_hat);
            if (opts.on_step) opts.on_step(t, x, x0_hat);
            x = x_prev;
        } else {  // up (RePaint's jump): t -> t + 1
            const int t_up = levels[k + 1];
            // Eq. 2: x_{t+1} = sqrt(1 - beta_{t+1}) x_t + sqrt(beta_{t+1}) eps
            x = q_step(sch, x, t_up, randn(shape, gen, device));
        }
    }
    // t = 0: the known region is x_known itself: x_0 = m x_known + (1 - m) x_0
    return m * x_known + one_minus_m * x;
}

// ---------------------------------------------------------------------------
// DDIM inversion and interpolation

Tensor ddim_invert(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0, int steps,
                   const StepCallback& on_step) {
    if (!eps_theta) fail("ddim_invert: eps_theta is an empty function");
    check_defined(x0, "ddim_invert", "x0");
    check_steps(sch, steps, "ddim_invert");
    NoGradGuard no_grad;
    const std::vector<int> tau = ddim_timesteps(sch.T, steps);
    Tensor x = x0;
    for (size_t i = tau.size(); i-- > 0;) {  // tau reversed: 0 -> tau_{steps-1} -> ... -> tau_0 = T
        const int t = tau[i];
        const int t_prev = ddim_prev_t(tau, i);  // t' < t: the level x is at now (0 at the start)
        // the approximation: eps_theta(x_t, t) ~ eps_theta(x_{t'}, t)
        Tensor eps = call_eps_model(eps_theta, x, t, "ddim_invert");
        // Eq. 12 at t': x0_hat' = (x_{t'} - sqrt(1 - alpha_bar_{t'}) eps) / sqrt(alpha_bar_{t'})   (= x_0 at t' = 0)
        Tensor x0_hat = coef(sch.sqrt_recip_alpha_bar, t_prev) * (x - coef(sch.sqrt_one_minus_alpha_bar, t_prev) * eps);
        // Eq. 20 at eta = 0, solved for x_t: x_t = sqrt(alpha_bar_t) x0_hat' + sqrt(1 - alpha_bar_t) eps
        Tensor x_next = coef(sch.sqrt_alpha_bar, t) * x0_hat + coef(sch.sqrt_one_minus_alpha_bar, t) * eps;
        if (on_step) on_step(t, x, x0_hat);
        x = x_next;
    }
    return x;  // x_T
}

Tensor slerp(const Tensor& a, const Tensor& b, double alpha) {
    check_defined(a, "slerp", "a");
    check_defined(b, "slerp", "b");
    if (a.shape() != b.shape())
        fail("slerp: a has shape ", to_string(a.shape()), " but b has ", to_string(b.shape()));
    if (a.dim() < 2) fail("slerp: a and b must be (N, ...) with at least one axis per sample, got ", to_string(a.shape()));
    check_same_device(a, b, "slerp");
    if (!(alpha >= 0.0 && alpha <= 1.0)) fail("slerp: alpha = ", alpha, " must be in [0, 1]");
    NoGradGuard no_grad;
    std::vector<int> axes;  // every axis but the batch axis
    for (int d = 1; d < a.dim(); ++d) axes.push_back(d);
    const std::vector<float> ab = sum(a * b, axes).to_vector();  // <a_n, b_n>
    const std::vector<float> aa = sum(a * a, axes).to_vector();  // |a_n|^2
    const std::vector<float> bb = sum(b * b, axes).to_vector();  // |b_n|^2
    const size_t N = ab.size();
    std::vector<float> wa(N), wb(N);
    for (size_t n = 0; n < N; ++n) {
        const double norms = std::sqrt((double)aa[n] * (double)bb[n]);
        // theta_n = arccos(<a_n, b_n> / (|a_n| |b_n|))   (the cosine clamped to [-1, 1] against rounding)
        const double c = norms > 0.0 ? std::fmax(-1.0, std::fmin(1.0, (double)ab[n] / norms)) : 1.0;
        const double theta = std::acos(c);
        const double s = std::sin(theta);
        if (s < 1e-4) {  // parallel (or a zero vector): the straight line, slerp's limit as theta -> 0
            if (c < 0.0)
                fail("slerp: sample ", n, " of ", to_string(a.shape()), ": a and b point in opposite directions (cos = ", c,
                     "): no unique great circle between them");
            wa[n] = (float)(1.0 - alpha);  // (1 - alpha) a_n + alpha b_n
            wb[n] = (float)alpha;
        } else {
            // slerp = sin((1 - alpha) theta) / sin(theta) a_n + sin(alpha theta) / sin(theta) b_n
            wa[n] = (float)(std::sin((1.0 - alpha) * theta) / s);
            wb[n] = (float)(std::sin(alpha * theta) / s);
        }
    }
    Shape coef_shape((size_t)a.dim(), 1);  // (N, 1, ..., 1): broadcasts over each sample
    coef_shape[0] = (int64_t)N;
    const Tensor wa_t = Tensor::from_vector(coef_shape, wa, a.device());
    const Tensor wb_t = Tensor::from_vector(coef_shape, wb, a.device());
    return wa_t * a + wb_t * b;
}

std::vector<Tensor> ddim_interpolate(const Schedule& sch, const EpsModel& eps_theta, const Tensor& x0_a,
                                     const Tensor& x0_b, const std::vector<double>& alphas, int steps, bool clip_x0) {
    if (!eps_theta) fail("ddim_interpolate: eps_theta is an empty function");
    check_defined(x0_a, "ddim_interpolate", "x0_a");
    check_defined(x0_b, "ddim_interpolate", "x0_b");
    if (x0_a.shape() != x0_b.shape())
        fail("ddim_interpolate: x0_a has shape ", to_string(x0_a.shape()), " but x0_b has ", to_string(x0_b.shape()));
    check_same_device(x0_a, x0_b, "ddim_interpolate");
    check_steps(sch, steps, "ddim_interpolate");
    for (size_t i = 0; i < alphas.size(); ++i)
        if (!(alphas[i] >= 0.0 && alphas[i] <= 1.0))
            fail("ddim_interpolate: alphas[", i, "] = ", alphas[i], " must be in [0, 1]");
    const Tensor xT_a = ddim_invert(sch, eps_theta, x0_a, steps);
    const Tensor xT_b = ddim_invert(sch, eps_theta, x0_b, steps);
    SampleOptions opts;
    opts.clip_x0 = clip_x0;
    Generator unused(0);  // eta = 0: ddim_sample_from draws nothing
    std::vector<Tensor> out;
    out.reserve(alphas.size());
    for (double alpha : alphas)
        out.push_back(ddim_sample_from(sch, eps_theta, slerp(xT_a, xT_b, alpha), unused, steps, /*eta=*/0.0, opts));
    return out;
}

}  // namespace fw::diffusion
