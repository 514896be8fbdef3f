// step_through: ONE whole DDPM training step of the tiny UNet, stage by stage, on two images: the
// shapes and a few values at every stage, and beside each a check that recomputes it by hand.
//
//   make step-through                               build and run it (two real digits if data/mnist exists)
//   build/release/examples/step_through [--data DIR] [--seed N]
//   gdb --args build/release/examples/step_through  then the breakpoints below, and `run`
//   (make DEBUG=1 step-through builds build/debug at -O0, where no local is "optimized out")
//   FW_TRACE=1 build/release/examples/step_through  every op as it runs (FW_TRACE=2: and the
//   statistics of each output and gradient; FW_GRAPH=g.dot: the step's graph; make graph draws it)
//
// The step is the one examples/common/ddpm_trainer.cpp takes (the same generators from the seed,
// diffusion::l_simple, zero_grad + backward, clip_grad_norm at 1, Adam at train_mnist's first
// learning rate, EMA 0.999 with warm-up), made small enough to read: UNetConfig::tiny() (base 8,
// mid 16, 4 groups), a batch of 2, the SCALAR reference kernels (core/kernels/ref/, one plain loop
// per formula) and one thread, so that every kernel a debugger stops in is readable and runs once.
//
//   1. the batch x_0 (2, 1, 28, 28) in [-1, 1]: the first two training digits of --data DIR's IDX
//      files, or without --data two drawn digits (a "7" and a "0"), so that it runs anywhere
//   2. t ~ U{1..T} and eps ~ N(0, I), drawn as diffusion::l_simple draws them (Algorithm 1)
//   3. x_t = q_sample(x_0, t, eps)                                    Eq. 6; one pixel by hand
//   4. eps_theta(x_t, t): the UNet forward layer by layer, each block's output shape, mean, std
//      (UNet has no per-layer hook: forward_layer_by_layer below calls its sub-modules in the
//      order UNet::forward does, and stage 5 checks that it gave bitwise the same eps_theta)
//   5. L_simple by diffusion::l_simple, the trainer's call           Eq. 17; mean of squares by hand
//   6. backward(): the gradient norm of every parameter, by name
//   7. three weights (first conv, a GroupNorm, last conv): the analytic gradient beside central
//      finite differences at h = 1e-2 and 5e-3, checked through their Richardson combination
//   8. clip_grad_norm: the global gradient norm before and after
//   9. Adam: one weight's g, m, v, bias corrections, step and new value, by hand vs the optimizer
//  10. EMA: that weight's shadow before and after, by hand vs nn::EMA
//
// In gdb, in the order the program reaches them (`break NAME`; `finish` shows what a function
// returns, `p *x.impl()` a tensor, `p x.to_string(8)` its first values):
//   fw::diffusion::q_sample                  stage 3 (and again inside l_simple, stage 5)
//   forward_layer_by_layer                   stage 4, this file: the UNet's sub-modules in order
//   fw::nn::ResBlock::forward                one residual block
//   fw::conv2d, fw::ref::conv2d_forward      a convolution: the op, then its scalar kernel
//   fw::group_norm_silu, fw::ref::group_norm_silu_forward
//   fw::diffusion::l_simple                  stage 5: the training step proper. From here on the
//   fw::diffusion::simple_loss               forward is recorded for autograd (the forward ops
//   fw::nn::UNet::forward                    above also run in stage 4 and in stage 7's finite
//   fw::mse_loss, fw::ref::mse_loss_forward  differences: set them once l_simple is reached)
//   fw::run_backward                         stage 6: the tape, walked in reverse
//   fw::Conv2dBackward::backward, fw::ref::conv2d_backward, fw::ref::group_norm_silu_backward,
//   fw::ref::mse_loss_backward, fw::ref::gemm (a Linear's backward is two GEMMs)
//   fw::nn::clip_grad_norm, fw::ref::sum_squares    stage 8
//   fw::nn::Adam::step, fw::ref::adam_update         stage 9
//   fw::nn::EMA::update, fw::ref::ema_update         stage 10
//
// Exit status: 0 if every check passes; 1 if one fails (the last line names each failed check);
// 2 for bad input (a bad flag, a --data folder without train-images/train-labels IDX files).
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "diffusion/diffusion.h"
#include "examples/common/flags.h"
#include "examples/common/mnist_data.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/time_embedding.h"
#include "nn/unet.h"

using namespace fw;

namespace {

// train_mnist's defaults, for the first step of a run: learning rate, warm-up, steps, clip, EMA.
const double kLr = 1e-3, kClip = 1.0, kEmaDecay = 0.999;
const int64_t kWarmup = 400, kSteps = 4000;
const int kSide = 28;
const double kU = std::ldexp(1.0, -24);  // float's unit roundoff: one rounding errs by <= 2^-24 relative

std::vector<std::string> g_failed;
int g_checks = 0;

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char buf[512];
    va_list args;
    va_start(args, f);
    std::vsnprintf(buf, sizeof buf, f, args);
    va_end(args);
    return buf;
}

// One check, printed as "  [PASS] what: detail"; a failure is remembered for the last line.
void check(bool ok, const std::string& what, const std::string& detail) {
    std::printf("  [%s] %s: %s\n", ok ? "PASS" : "FAIL", what.c_str(), detail.c_str());
    ++g_checks;
    if (!ok) g_failed.push_back(what);
}

void stage(const char* title) { std::printf("\n== %s\n", title); }

// Mean and (population) standard deviation over all elements, in double.
struct Stats {
    double mean = 0, std = 0, min = 0, max = 0;
};
Stats stats_of(const Tensor& x) {
    const std::vector<float> v = x.to_vector();
    Stats s;
    s.min = s.max = v.empty() ? 0 : v[0];
    for (float f : v) {
        s.mean += f;
        s.min = std::fmin(s.min, f);
        s.max = std::fmax(s.max, f);
    }
    s.mean /= (double)v.size();
    for (float f : v) s.std += (f - s.mean) * (f - s.mean);
    s.std = std::sqrt(s.std / (double)v.size());
    return s;
}

// "  conv_in (Conv2d 1->8 k3 s1 p1)   [2, 8, 28, 28]   mean +0.0234  std 0.6267"
void show(const std::string& name, const Tensor& x) {
    const Stats s = stats_of(x);
    std::printf("  %-46s %-16s mean %+.4f  std %.4f\n", name.c_str(), to_string(x.shape()).c_str(), s.mean, s.std);
}

// The first n values of x, "+0.1234 -0.5678 ..."
std::string first_values(const Tensor& x, int n) {
    const std::vector<float> v = x.to_vector();
    std::string s;
    for (int i = 0; i < n && i < (int)v.size(); ++i) s += fmt("%s%+.4f", i ? " " : "", v[(size_t)i]);
    return s;
}

bool same_bits(const Tensor& a, const Tensor& b) {
    if (!a.defined() || !b.defined() || a.shape() != b.shape()) return false;
    const std::vector<float> va = a.to_vector(), vb = b.to_vector();
    return std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0;
}

// --- stage 1: the images ------------------------------------------------------------------------

double seg_dist(double px, double py, double ax, double ay, double bx, double by) {
    const double vx = bx - ax, vy = by - ay;
    double u = ((px - ax) * vx + (py - ay) * vy) / (vx * vx + vy * vy);
    u = std::fmax(0.0, std::fmin(1.0, u));
    const double dx = px - (ax + u * vx), dy = py - (ay + u * vy);
    return std::sqrt(dx * dx + dy * dy);
}

// Two drawn digits in [-1, 1] (background -1, ink +1, a 1-pixel soft edge): a "7" (a bar and a
// diagonal, as examples/walkthrough.cpp draws it) and a "0" (an ellipse, radii 6 x 9).
Tensor synthetic_digits() {
    Tensor x = Tensor::empty({2, 1, kSide, kSide});
    for (int r = 0; r < kSide; ++r)
        for (int c = 0; c < kSide; ++c) {
            const double d7 = std::fmin(seg_dist(c, r, 6, 6, 21, 6), seg_dist(c, r, 21, 6, 11, 23));
            const double rho = std::hypot((c - 13.5) / 6.0, (r - 13.5) / 9.0);
            const double d0 = std::fabs(rho - 1.0) * 7.5;  // ~ the distance to the ellipse, in pixels
            x.data()[r * kSide + c] = (float)(2.0 * std::fmax(0.0, std::fmin(1.0, 2.1 - d7)) - 1.0);
            x.data()[kSide * kSide + r * kSide + c] = (float)(2.0 * std::fmax(0.0, std::fmin(1.0, 2.1 - d0)) - 1.0);
        }
    return x;
}

// The first two training digits of dir's IDX files, x = byte / 127.5 - 1 (examples/common/mnist_data.h).
Tensor real_digits(const std::string& dir, std::vector<int>& labels) {
    const data::Split train = data::load_split(dir, "train");
    if (train.n < 2 || train.rows != kSide || train.cols != kSide)
        fail("--data ", dir, ": needs at least 2 training images of 28 x 28, found ", train.n, " of ", train.rows,
             " x ", train.cols);
    Tensor x = Tensor::empty({2, 1, kSide, kSide});
    data::bytes_to_unit_range(train.pixels.data(), 2 * train.image_size(), x.data());
    labels = {train.labels[0], train.labels[1]};
    return x;
}

// Images of a (N, 1, 28, 28) batch side by side as text, darkest to brightest " .:-=+*#%@"
// over [-1, 1] (values outside are clamped).
void print_images(const std::vector<std::pair<std::string, Tensor>>& images) {
    const char* ramp = " .:-=+*#%@";
    std::string head = "  ";
    for (const auto& [title, x] : images)
        for (int64_t n = 0; n < x.size(0); ++n) {
            const std::string t = fmt("%s[%lld]", title.c_str(), (long long)n);
            head += t + std::string(kSide + 2 - t.size(), ' ');
        }
    head.erase(head.find_last_not_of(' ') + 1);
    std::printf("%s\n", head.c_str());
    for (int r = 0; r < kSide; ++r) {
        std::string line = "  ";
        for (const auto& image : images) {
            const Tensor& x = image.second;
            for (int64_t n = 0; n < x.size(0); ++n) {
                for (int c = 0; c < kSide; ++c) {
                    const double v = x.data()[n * kSide * kSide + r * kSide + c];
                    const int k = (int)std::lround((std::fmax(-1.0, std::fmin(1.0, v)) + 1.0) / 2.0 * 9.0);
                    line += ramp[k];
                }
                line += "  ";
            }
        }
        line.erase(line.find_last_not_of(' ') + 1);
        std::printf("%s\n", line.c_str());
    }
}

// --- stage 4: the UNet, one sub-module at a time ------------------------------------------------

// ResBlock::forward's lines one by one (nn/unet.cpp), then the block itself for comparison.
Tensor resblock_inside(const nn::ResBlock& b, const Tensor& x, const Tensor& e) {
    std::printf("  %s, inside:\n", b.describe().c_str());
    Tensor h = b.norm1.forward_silu(x);
    show("  h = SiLU(norm1(x))", h);
    h = b.conv1.forward(h);
    show("  h = conv1(h)", h);
    Tensor tp = b.temb_proj.forward(e);
    show("  temb_proj(e)", tp);
    // the add is inside the norm's op (group_norm_silu with a shift): h + tp is never stored
    h = b.norm2.forward_silu(h, tp);
    show("  h = SiLU(norm2(h + temb_proj(e)))", h);  // temb_proj(e) broadcast over H, W
    Tensor skip = b.skip ? b.skip->forward(x) : x;
    show(b.skip ? "  skip(x) (Conv2d 1x1: the width changes)" : "  x (identity skip)", skip);
    // the residual is added by the conv as it writes its output (conv2d_add)
    h = b.conv2.forward_add(h, skip);
    show("  out = conv2(h) + skip", h);
    check(same_bits(h, b.forward(x, e)), b.path() + ": these lines are " + b.path() + ".forward(x, e)",
          "bitwise equal");
    return h;
}

// UNet::forward (nn/unet.cpp) as a flat list of calls, printing each sub-module's output.
Tensor forward_layer_by_layer(const nn::UNet& net, const Tensor& x, const std::vector<int>& t) {
    NoGradGuard no_grad;  // only looking: the forward that is recorded for backward runs in stage 5
    // time embedding: (N) -> (N, time_dim) -> (N, temb); e = SiLU(temb) feeds every ResBlock
    Tensor temb = nn::sinusoidal_embedding(t, net.cfg.time_dim);
    show("sinusoidal_embedding(t)", temb);
    temb = net.time_mlp.fc0.forward(temb);
    show(net.time_mlp.fc0.describe(), temb);
    temb = net.time_mlp.fc2.forward(silu(temb));
    show("SiLU, then " + net.time_mlp.fc2.describe(), temb);
    const Tensor e = silu(temb);
    show("e = SiLU(temb)", e);
    // encoder
    Tensor h = net.conv_in.forward(x);
    show(net.conv_in.describe(), h);
    h = net.enc0.forward(h, e);
    show(net.enc0.describe() + " = s0", h);
    const Tensor s0 = h;
    h = net.down0.forward(h);
    show(net.down0.describe(), h);
    h = resblock_inside(net.enc1, h, e);  // the first block whose width changes: it has a skip conv
    show(net.enc1.describe() + " = s1", h);
    const Tensor s1 = h;
    h = net.down1.forward(h);
    show(net.down1.describe(), h);
    h = net.enc2.forward(h, e);
    show(net.enc2.describe() + " = s2", h);
    const Tensor s2 = h;
    // middle
    h = net.mid0.forward(h, e);
    show(net.mid0.describe(), h);
    h = net.mid1.forward(h, e);
    show(net.mid1.describe(), h);
    // decoder: concatenate the skip along channels, h first
    h = concat({h, s2}, 1);
    show("concat(h, s2)", h);
    h = net.dec0.forward(h, e);
    show(net.dec0.describe(), h);
    h = upsample_nearest2x(h);
    show("upsample_nearest2x", h);
    h = net.up0.forward(h);
    show(net.up0.describe(), h);
    h = concat({h, s1}, 1);
    show("concat(h, s1)", h);
    h = net.dec1.forward(h, e);
    show(net.dec1.describe(), h);
    h = upsample_nearest2x(h);
    show("upsample_nearest2x", h);
    h = net.up1.forward(h);
    show(net.up1.describe(), h);
    h = concat({h, s0}, 1);
    show("concat(h, s0)", h);
    h = net.dec2.forward(h, e);
    show(net.dec2.describe(), h);
    // output
    h = net.out_norm.forward_silu(h);
    show(fmt("SiLU(out_norm) (GroupNorm %d groups x %d)", net.out_norm.groups, net.out_norm.channels), h);
    h = net.out_conv.forward(h);
    show(net.out_conv.describe() + " = eps_theta", h);
    return h;
}

// --- stage 7: finite differences ------------------------------------------------------------------

// L_simple at the current weights for fixed (x_t, t, eps): the UNet runs in float (the only
// precision the kernels have), the mean of squares is taken in double and NOT rounded to float
// (mse_loss rounds its double sum to float once; that rounding, 2^-24 L ~ 6e-8, would be the
// largest error in a difference of two losses).
double loss_in_double(const nn::UNet& net, const Tensor& xt, const std::vector<int>& t, const Tensor& eps) {
    NoGradGuard no_grad;
    const Tensor pred = net.forward(xt, t);
    const float* p = pred.data();
    const float* e = eps.data();
    double sq = 0;
    for (int64_t i = 0; i < pred.numel(); ++i) {
        const float d = p[i] - e[i];  // as the kernel: the difference in float, its square in double
        sq += (double)d * d;
    }
    return sq / (double)pred.numel();
}

// dL/dw for element i of w by central differences with step h: (L(w + h) - L(w - h)) / (w+ - w-),
// where w+ and w- are the floats actually stored (w +- h rounded), so the divisor is exact. The
// weight is restored bit for bit afterwards.
double central_difference(const nn::UNet& net, Tensor w, int64_t i, double h, const Tensor& xt,
                          const std::vector<int>& t, const Tensor& eps) {
    float* p = w.data() + i;
    const float saved = *p;
    *p = (float)(saved + h);
    const double w_plus = *p, l_plus = loss_in_double(net, xt, t, eps);
    *p = (float)(saved - h);
    const double w_minus = *p, l_minus = loss_in_double(net, xt, t, eps);
    *p = saved;
    return (l_plus - l_minus) / (w_plus - w_minus);
}

int64_t argmax_abs(const Tensor& x) {
    const std::vector<float> v = x.to_vector();
    int64_t best = 0;
    for (size_t i = 0; i < v.size(); ++i)
        if (std::fabs(v[i]) > std::fabs(v[(size_t)best])) best = (int64_t)i;
    return best;
}

const Tensor& find_named(const NamedTensors& list, const std::string& name) {
    for (const auto& [n, t] : list)
        if (n == name) return t;
    fail("step_through: no tensor named '", name, "'");
}

double norm_of(const Tensor& x) {
    double sq = 0;
    for (float f : x.to_vector()) sq += (double)f * f;
    return std::sqrt(sq);
}

}  // namespace

int run(const std::string& data_dir, int64_t seed) {
    std::vector<int> labels;
    const Tensor x0 = data_dir.empty() ? synthetic_digits() : real_digits(data_dir, labels);  // first: it can fail
    set_cpu_path(CpuPath::Scalar);  // the scalar reference kernels: core/kernels/ref/*_ref.cpp
    set_num_threads(1);
    std::printf("step_through: one DDPM training step of the tiny UNet, seed %lld, kernels: %s, %d thread\n",
                (long long)seed, cpu_path_name(cpu_path()), num_threads());

    // ---------------------------------------------------------------------------------------------
    stage("1. the batch x_0 in [-1, 1]");
    if (data_dir.empty())
        std::printf("  two drawn digits, a \"7\" and a \"0\" (no --data given: runs anywhere)\n");
    else
        std::printf("  the first two training digits of %s (labels %d and %d), x = byte / 127.5 - 1\n",
                    data_dir.c_str(), labels[0], labels[1]);
    show("x_0", x0);
    const Stats s0 = stats_of(x0);
    check(s0.min >= -1.0 && s0.max <= 1.0, "x_0 lies in [-1, 1]", fmt("min %+.4f, max %+.4f", s0.min, s0.max));

    // The model, the optimizer and the EMA as DdpmTrainer makes them: weights from seed 2s, noise
    // from seed 2s + 1; the EMA's shadow starts as a copy of the initial weights.
    Generator init((uint64_t)seed * 2);
    nn::UNet model(nn::UNetConfig::tiny(), init);
    const NamedTensors params = model.parameters();
    nn::AdamOptions adam_options;
    adam_options.lr = (float)kLr;
    nn::Adam adam(params, adam_options);
    nn::EMA ema(model, (float)kEmaDecay, /*warmup=*/true);
    const diffusion::Schedule sch = diffusion::linear_schedule();  // Eq. 1: T = 1000, beta 1e-4 .. 0.02
    std::printf("  model: UNetConfig::tiny() (base %d, mid %d, %d groups), %lld parameters in %zu tensors\n",
                model.cfg.base, model.cfg.mid, model.cfg.groups, (long long)model.num_parameters(), params.size());

    // ---------------------------------------------------------------------------------------------
    stage("2. Algorithm 1: t ~ U{1..T} and eps ~ N(0, I)");
    Generator noise((uint64_t)seed * 2 + 1);
    Generator replay = noise;  // stage 5's l_simple draws from this copy: the same numbers again
    std::vector<int32_t> drawn(2);
    noise.integers(drawn.data(), 2, 1, sch.T + 1);  // as l_simple: one t per image, in [1, T + 1)
    const std::vector<int> t(drawn.begin(), drawn.end());
    const Tensor eps = randn(x0.shape(), noise);
    for (int n = 0; n < 2; ++n)
        std::printf("  image %d: t = %4d   alpha_bar_t = %.6f   sqrt(alpha_bar_t) = %.6f   sqrt(1 - alpha_bar_t) = %.6f\n",
                    n, t[n], sch.alpha_bar[t[n]], sch.sqrt_alpha_bar[t[n]], sch.sqrt_one_minus_alpha_bar[t[n]]);
    show("eps", eps);
    std::printf("    first values: %s\n", first_values(eps, 6).c_str());

    // ---------------------------------------------------------------------------------------------
    stage("3. Eq. 6: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps   (diffusion::q_sample)");
    const Tensor xt = diffusion::q_sample(sch, x0, t, eps);
    show("x_t", xt);
    {
        // one ink pixel of image 1, by hand in double
        int64_t i = 0;
        while (i + 1 < kSide * kSide && x0.data()[kSide * kSide + i] < 0.5f) ++i;
        const int64_t k = kSide * kSide + i;
        const double a = sch.sqrt_alpha_bar[t[1]], b = sch.sqrt_one_minus_alpha_bar[t[1]];
        const double by_hand = a * x0.data()[k] + b * eps.data()[k];
        // float: the two coefficients, the two products and the sum each round once (<= 2^-24
        // relative): |error| <= 3 * 2^-24 (|a x_0| + |b eps|); 4 for margin
        const double tol = 4 * kU * (std::fabs(a * x0.data()[k]) + std::fabs(b * eps.data()[k]));
        std::printf("  pixel (image 1, row %lld, col %lld): x_0 = %+.6f, eps = %+.6f\n", (long long)(i / kSide),
                    (long long)(i % kSide), x0.data()[k], eps.data()[k]);
        std::printf("  by hand: %.6f * %+.6f + %.6f * %+.6f = %+.9f;  q_sample: %+.9f\n", a, x0.data()[k], b,
                    eps.data()[k], by_hand, xt.data()[k]);
        check(std::fabs(by_hand - xt.data()[k]) <= tol, "q_sample's pixel equals Eq. 6 by hand",
              fmt("|diff| %.2e <= %.2e (float rounding of 2 coefficients, 2 products, 1 sum)",
                  std::fabs(by_hand - xt.data()[k]), tol));
    }
    print_images({{"x_0", x0}, {"x_t", xt}});

    // ---------------------------------------------------------------------------------------------
    stage("4. eps_theta(x_t, t): the UNet forward, layer by layer");
    const Tensor eps_theta_layers = forward_layer_by_layer(model, xt, t);

    // ---------------------------------------------------------------------------------------------
    stage("5. Eq. 17: L_simple = mean (eps - eps_theta(x_t, t))^2   (diffusion::l_simple, the trainer's call)");
    Tensor xt_seen, eps_theta;
    diffusion::EpsModel net = [&](const Tensor& x, const std::vector<int>& tt) {
        xt_seen = x;
        eps_theta = model.forward(x, tt);  // recorded: this graph is what backward() walks
        return eps_theta;
    };
    std::vector<int> t_lib;
    model.zero_grad();
    const Tensor loss = diffusion::l_simple(sch, net, x0, replay, &t_lib);
    check(t_lib == t && replay.offset() == noise.offset(), "l_simple drew the t of stage 2",
          fmt("t = {%d, %d}, generator offset %llu", t_lib[0], t_lib[1], (unsigned long long)replay.offset()));
    check(same_bits(xt_seen, xt), "l_simple's x_t is stage 3's", "bitwise equal (so its eps is stage 2's)");
    check(same_bits(eps_theta, eps_theta_layers), "l_simple's eps_theta is stage 4's layer-by-layer output",
          "bitwise equal");
    {
        const float* p = eps_theta.data();
        const float* e = eps.data();
        double sq = 0, per_image[2] = {0, 0};
        const int64_t n = eps.numel(), per = n / 2;
        for (int64_t i = 0; i < n; ++i) {
            const float d = p[i] - e[i];
            sq += (double)d * d;
            per_image[i / per] += (double)d * d;
        }
        const double by_hand = sq / (double)n;
        std::printf("  loss = %s\n", loss.to_string().c_str());
        std::printf("  by hand: sum of %lld squares / %lld = %.9f   (image 0, t = %d: %.6f; image 1, t = %d: %.6f)\n",
                    (long long)n, (long long)n, by_hand, t[0], per_image[0] / per, t[1], per_image[1] / per);
        // mse_loss sums the same squares in double in the same order and rounds once to float
        check(std::fabs(by_hand - loss.item()) <= kU * by_hand, "L_simple equals the mean of squares by hand",
              fmt("|diff| %.2e <= 2^-24 L = %.2e (one rounding to float)", std::fabs(by_hand - loss.item()),
                  kU * by_hand));
    }

    // ---------------------------------------------------------------------------------------------
    stage("6. backward(): dL/dw for every parameter (run_backward walks the graph in reverse)");
    loss.backward();
    double total_sq = 0;
    int with_grad = 0;
    for (const auto& [name, p] : params) {
        const Tensor g = p.grad();
        if (!g.defined()) {
            std::printf("  %-28s %-14s no gradient\n", name.c_str(), to_string(p.shape()).c_str());
            continue;
        }
        const double gn = norm_of(g);
        total_sq += gn * gn;
        with_grad += std::isfinite(gn) ? 1 : 0;
        std::printf("  %-28s %-14s |w| %8.4f   |dL/dw| %.4e\n", name.c_str(), to_string(p.shape()).c_str(),
                    norm_of(p), gn);
    }
    check(with_grad == (int)params.size(), "every parameter received a finite gradient",
          fmt("%d of %zu", with_grad, params.size()));

    // ---------------------------------------------------------------------------------------------
    stage("7. the analytic gradient beside central finite differences (in float, checked at two steps)");
    // D(h) = (L(w + h) - L(w - h)) / 2h, with L from loss_in_double (the UNet in float, the mean of
    // squares in double), at h = 1e-2 and at h/2. D(h) errs by two things:
    //   truncation  h^2/6 L''' + O(h^4): up to ~3e-5 at h = 1e-2 for these weights (|L'''| up to ~2
    //               over seeds 0..40); where it dominates, the diff falls 4x when h halves
    //   rounding    r(h) = sqrt(2) s / 2h, s = the float noise of one evaluation of L, measured
    //               ~3e-8 (the scatter of D for h <= 1e-3) and taken as 2^-23 L: r(1e-2) ~ 1e-5
    // The check is on R = (4 D(h/2) - D(h)) / 3 (Richardson), which cancels the h^2 term, so no
    // guess of L''' enters the tolerance: its rounding is at most (4 r(h/2) + r(h)) / 3 = 3 r(h),
    // and |R - analytic| <= 2 x 3 r(h) + 1e-4 |analytic| (x2 margin; the relative part for O(h^4)
    // and the backward's own float rounding). A wrong factor, term or index errs by O(1) relative.
    // The element checked in each tensor has the largest |gradient| (the most signal against the
    // same rounding).
    const double L0 = loss.item();
    const double h = 1e-2;
    int64_t chosen_index = 0;  // conv_in.weight's element: stages 9 and 10 follow it
    for (const char* name : {"conv_in.weight", "enc0.norm1.weight", "out_conv.weight"}) {
        const Tensor w = model.parameter(name);
        const int64_t i = argmax_abs(w.grad());
        if (std::string(name) == "conv_in.weight") chosen_index = i;
        const double analytic = w.grad().data()[i];
        const double d1 = central_difference(model, w, i, h, xt, t, eps);
        const double d2 = central_difference(model, w, i, h / 2, xt, t, eps);
        const double richardson = (4 * d2 - d1) / 3;
        const double r = std::sqrt(2.0) * 2 * kU * L0 / (2 * h);
        const double tol = 2 * 3 * r + 1e-4 * std::fabs(analytic);
        std::printf("  %s[%lld] = %+.6f   analytic dL/dw (backward)  %+.7e\n", name, (long long)i, w.data()[i], analytic);
        std::printf("    central difference, h = %.0e             %+.7e   (diff %+.1e)\n", h, d1, d1 - analytic);
        std::printf("    central difference, h = %.0e             %+.7e   (diff %+.1e)\n", h / 2, d2, d2 - analytic);
        std::printf("    (4 D(h/2) - D(h)) / 3                    %+.7e   (diff %+.1e)\n", richardson, richardson - analytic);
        check(std::fabs(richardson - analytic) <= tol, fmt("dL/d %s[%lld] by finite differences", name, (long long)i),
              fmt("|diff| %.1e <= %.1e", std::fabs(richardson - analytic), tol));
    }
    check(std::fabs(loss_in_double(model, xt, t, eps) - L0) <= kU * L0, "the probed weights are restored",
          "L at the restored weights equals the step's L");

    // ---------------------------------------------------------------------------------------------
    stage("8. gradient clipping: g = g * min(1, max_norm / (total + 1e-6)), max_norm = 1 (make train's --clip)");
    const double total_by_hand = std::sqrt(total_sq);
    const float before = nn::clip_grad_norm(params, (float)kClip);
    const float after = nn::grad_norm(params);
    const double coef = kClip / (total_by_hand + 1e-6);
    std::printf("  global norm before: %.7f (by hand from stage 6's norms: %.7f)\n", before, total_by_hand);
    std::printf("  coef = 1 / (%.6f + 1e-6) = %.6f: %s\n", total_by_hand, coef,
                coef < 1 ? "every gradient is scaled by it" : ">= 1, nothing is scaled (clipping only shrinks)");
    std::printf("  global norm after:  %.7f\n", after);
    // the library sums the same squares in double, in another order: ~1e-16 apart before the final
    // rounding to float (2^-24 relative)
    check(std::fabs(before - total_by_hand) <= 2 * kU * total_by_hand, "clip_grad_norm's total equals the norm by hand",
          fmt("|diff| %.1e <= 2^-23 x total", std::fabs(before - total_by_hand)));
    // each scaled element rounds once (2^-24 relative), the coefficient once: 2^-23 on the norm, x2
    const double expected_after = coef < 1 ? total_by_hand * coef : total_by_hand;
    check(std::fabs(after - expected_after) <= 4 * kU * expected_after, "the norm after clipping",
          fmt("%.7f, expected %.7f (|diff| %.1e)", after, expected_after, std::fabs(after - expected_after)));

    // ---------------------------------------------------------------------------------------------
    stage("9. Adam, step t = 1 (nn/optim.h), on conv_in.weight");
    const float lr = nn::warmup_cosine_lr((float)kLr, 1, kWarmup, kSteps, 0.05f);
    adam.set_lr(lr);
    const Tensor w = model.parameter("conv_in.weight");
    const int64_t k = chosen_index;
    const float p_before = w.data()[k], g = w.grad().data()[k];
    adam.step();
    const float p_after = w.data()[k];
    const NamedTensors adam_state = adam.state();
    const float m_opt = find_named(adam_state, "adam.m.conv_in.weight").data()[k];
    const float v_opt = find_named(adam_state, "adam.v.conv_in.weight").data()[k];
    {
        // by hand, in double, from the equations in nn/optim.h (with the optimizer's float betas)
        const double b1 = adam_options.beta1, b2 = adam_options.beta2, e = adam_options.eps;
        const double m = b1 * 0.0 + (1 - b1) * g;      // m = b1 m + (1 - b1) g,     m_0 = 0
        const double v = b2 * 0.0 + (1 - b2) * g * g;  // v = b2 v + (1 - b2) g^2,   v_0 = 0
        const double bc1 = 1 - std::pow(b1, 1), bc2 = 1 - std::pow(b2, 1);  // 1 - b1^t, 1 - b2^t
        const double mhat = m / bc1, vhat = v / bc2;
        const double step = lr * mhat / (std::sqrt(vhat) + e);
        const double p_new = p_before - step;
        std::printf("  lr = warmup_cosine_lr(%g, step 1, warm-up %lld, %lld steps) = %.4g   (make train's first step)\n",
                    kLr, (long long)kWarmup, (long long)kSteps, lr);
        std::printf("  p = conv_in.weight[%lld] = %+.9f,  g (clipped) = %+.9e\n", (long long)k, p_before, g);
        std::printf("  m = (1 - b1) g      = %+.9e   optimizer: %+.9e\n", m, m_opt);
        std::printf("  v = (1 - b2) g^2    = %.9e    optimizer: %.9e\n", v, v_opt);
        std::printf("  1 - b1^t = %.9f,  1 - b2^t = %.9f   (t = 1)\n", bc1, bc2);
        std::printf("  mhat = %+.9e,  vhat = %.9e   (at t = 1: mhat = g, vhat = g^2)\n", mhat, vhat);
        std::printf("  step = lr mhat / (sqrt(vhat) + eps) = %+.9e   (~ lr sign(g) at t = 1)\n", step);
        std::printf("  p - step = %+.9f   optimizer: %+.9f   (moved by %+.3e)\n", p_new, p_after, p_after - p_before);
        // m: one float product (2^-24); v: two (2^-23); x2 margin. p: the kernel's ~7 float operations
        // on the step (2^-24 each) and one rounding of p.
        check(std::fabs(m - m_opt) <= 2 * kU * std::fabs(m) && std::fabs(v - v_opt) <= 4 * kU * v,
              "Adam's m and v equal the equations by hand", fmt("|dm| %.1e, |dv| %.1e", std::fabs(m - m_opt),
                                                                   std::fabs(v - v_opt)));
        const double tol = 2 * kU * (std::fabs(p_new) + 8 * std::fabs(step));
        check(std::fabs(p_new - p_after) <= tol, "Adam's new weight equals p - lr mhat / (sqrt(vhat) + eps) by hand",
              fmt("|diff| %.1e <= %.1e", std::fabs(p_new - p_after), tol));
    }

    // ---------------------------------------------------------------------------------------------
    stage("10. EMA: shadow = d shadow + (1 - d) p, d = min(0.999, (1 + t) / (10 + t)) (nn/ema.h)");
    {
        const Tensor& shadow = find_named(ema.shadow(), "conv_in.weight");
        const float s_before = shadow.data()[k];
        const float d = ema.next_decay();
        ema.update(model);
        const float s_after = shadow.data()[k];
        const double by_hand = (double)d * s_before + (1 - (double)d) * p_after;
        std::printf("  decay d = min(0.999, (1 + 0) / (10 + 0)) = %.6f   (the first update: the warm-up forgets fast)\n", d);
        std::printf("  shadow before = %+.9f (the initial weight: the EMA starts as a copy)\n", s_before);
        std::printf("  by hand: %.6f * %+.9f + %.6f * %+.9f = %+.9f   EMA: %+.9f\n", d, s_before, 1 - (double)d, p_after,
                    by_hand, s_after);
        check(s_before == p_before, "the shadow started as the initial weight", "bitwise equal");
        // float: 1 - d, two products and the sum each round once
        const double tol = 4 * kU * (std::fabs(d * s_before) + std::fabs((1 - d) * p_after));
        check(std::fabs(by_hand - s_after) <= tol, "the EMA's new shadow equals the update by hand",
              fmt("|diff| %.1e <= %.1e", std::fabs(by_hand - s_after), tol));
    }

    std::printf("\n");
    if (!g_failed.empty()) {
        std::string names;
        for (const std::string& f : g_failed) names += "\n  " + f;
        std::printf("FAIL: %zu of %d checks failed:%s\n", g_failed.size(), g_checks, names.c_str());
        return 1;
    }
    std::printf("all %d checks passed\n", g_checks);
    return 0;
}

int main(int argc, char** argv) {
    std::string data_dir;
    int64_t seed = 0;
    flags::Parser p("step_through",
                    "One DDPM training step of the tiny UNet, stage by stage, each number checked by hand.");
    p.add_string("data", &data_dir, "folder of MNIST IDX files whose first two training digits are the batch (none: two drawn digits)");
    p.add_int("seed", &seed, "seed of the weights and the noise (as train_mnist --seed)", 0, 1'000'000'000);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines appear as they are printed (gdb, pipes)
    try {
        if (!p.parse(argc, argv)) return 0;
    } catch (const std::exception& e) {  // the parser's messages start with the program's name
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    try {
        return run(data_dir, seed);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "step_through: %s\n", e.what());
        return 2;
    }
}
