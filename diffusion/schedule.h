// Noise schedules: beta_1..beta_T and every coefficient derived from them, precomputed once in
// double into tables with self-describing names (as in the original DDPM code).
//
// Time is 1-indexed as in the paper: t = 1..T. Every table holds T+1 entries; entry 0 is the
// "no noise yet" state (beta[0] = 0, alpha[0] = 1, alpha_bar[0] = 1), so alpha_bar[t-1] needs no
// shifted copy and Eq. 11 at t = 1 reads alpha_bar[0] = 1 directly. T means only the number of
// diffusion steps.
//
// The tables stay in double; code that applies a coefficient to a float tensor converts it to
// float at that point (see coef() below).
#pragma once

#include <vector>

#include "core/tensor.h"

namespace fw::diffusion {

struct Schedule {
    int T = 0;  // number of diffusion steps
    // Eq. 1:  beta_t, the variance of the t-th noising step        (beta[0] = 0)
    std::vector<double> beta;
    // Eq. 3:  alpha_t = 1 - beta_t                                   (alpha[0] = 1)
    std::vector<double> alpha;
    // Eq. 6:  alpha_bar_t = prod_{s=1..t} alpha_s                    (alpha_bar[0] = 1)
    std::vector<double> alpha_bar;

    // --- derived tables (index t = 0..T) ----------------------------------------------------
    std::vector<double> sqrt_alpha;                // sqrt(alpha_t)                    Eqs. 2-3
    std::vector<double> sqrt_beta;                 // sqrt(beta_t) = sqrt(1 - alpha_t) Eqs. 2-3
    std::vector<double> sqrt_alpha_bar;            // sqrt(alpha_bar_t)                Eq. 6
    std::vector<double> sqrt_one_minus_alpha_bar;  // sqrt(1 - alpha_bar_t)            Eq. 6
    std::vector<double> sqrt_recip_alpha_bar;      // 1 / sqrt(alpha_bar_t)            Eq. 12
    std::vector<double> sqrt_recip_alpha;          // 1 / sqrt(alpha_t)                Eqs. 13, 18
    std::vector<double> eps_coef;                  // beta_t / sqrt(1 - alpha_bar_t)   Eqs. 13, 18 (0 at t = 0)
    std::vector<double> beta_tilde;                // (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t   Eq. 11 (0 at t = 0)
    std::vector<double> posterior_coef_x0;         // sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t)   Eq. 11
    std::vector<double> posterior_coef_xt;         // sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)  Eq. 11
};

// From beta_1..beta_T (beta.size() == T, each in (0, 1)): fills every table of a Schedule.
Schedule schedule_from_betas(const std::vector<double>& beta_1_to_T);

// Eq. 1, DDPM's choice: beta_t linear from beta_1 to beta_T (defaults: T = 1000, 1e-4 .. 0.02).
//   beta_t = beta_1 + (t - 1) / (T - 1) * (beta_T - beta_1),  t = 1..T
Schedule linear_schedule(int T = 1000, double beta_1 = 1e-4, double beta_T = 0.02);

// Eq. 21, the cosine schedule (Nichol & Dhariwal 2021):
//   f(t) = cos^2( ((t/T + s) / (1 + s)) * pi/2 ),  alpha_bar_t = f(t) / f(0),
//   beta_t = min(1 - alpha_bar_t / alpha_bar_{t-1}, max_beta)
// The stored alpha_bar is the running product of the clipped betas' alphas, so it equals
// f(t)/f(0) wherever no beta was clipped (all t < T for T = 1000).
Schedule cosine_schedule(int T = 1000, double s = 0.008, double max_beta = 0.999);
double cosine_f(double t, int T, double s = 0.008);  // f(t) of Eq. 21

// Throws fw::Error "<who>: t = 0 out of range 1..T (T = 1000)" unless 1 <= t <= T.
void check_timestep(const Schedule& sch, int t, const char* who);

// A table entry as the float that is applied to tensors.
inline float coef(const std::vector<double>& table, int t) { return (float)table[(size_t)t]; }

// Per-sample coefficients for a batch x (N, ...) with one timestep per sample (t.size() == N,
// each in 1..T): a float tensor (N, 1, ..., 1) holding table[t[n]], which broadcasts over
// C, H, W. Throws naming `who` when t has the wrong length or a t is out of range.
Tensor table_at(const Schedule& sch, const std::vector<double>& table, const std::vector<int>& t, const Tensor& x,
                const char* who);

// The same timestep for every sample of x: {t, t, ..., t} (x.size(0) entries).
std::vector<int> same_t(const Tensor& x, int t);

}  // namespace fw::diffusion
