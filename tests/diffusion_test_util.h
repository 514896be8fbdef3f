// Helpers for the diffusion tests: sample statistics with their standard errors, and the
// "oracle" eps model for a single known data point.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "diffusion/eps_model.h"
#include "diffusion/schedule.h"

namespace fw::test {

// Mean and (unbiased) variance of all elements, in double.
struct SampleStats {
    double mean = 0, var = 0;
    int64_t n = 0;
    double se_mean() const { return std::sqrt(var / (double)n); }
    // Standard error of a Gaussian sample's variance: var * sqrt(2 / (n - 1)).
    double se_var() const { return var * std::sqrt(2.0 / (double)(n - 1)); }
};

inline SampleStats sample_stats(const Tensor& x) {
    SampleStats s;
    s.n = x.numel();
    const float* p = x.data();
    for (int64_t i = 0; i < s.n; ++i) s.mean += p[i];
    s.mean /= (double)s.n;
    for (int64_t i = 0; i < s.n; ++i) s.var += (p[i] - s.mean) * (p[i] - s.mean);
    s.var /= (double)(s.n - 1);
    return s;
}

// The claim "these draws come from N(mean, var)", tested at k standard errors in mean and in
// variance. k = 5: a fixed-seed test that a correct implementation fails with probability ~1e-6.
inline bool matches_gaussian(const SampleStats& s, double mean, double var, double k = 5.0) {
    return std::fabs(s.mean - mean) <= k * std::sqrt(var / (double)s.n) &&
           std::fabs(s.var - var) <= k * var * std::sqrt(2.0 / (double)(s.n - 1));
}

// The perfect denoiser for data that is one point x0_star (batch of 1 broadcast over N):
//   eps_theta(x_t, t) = (x_t - sqrt(alpha_bar_t) x0*) / sqrt(1 - alpha_bar_t)   (Eq. 6 solved for eps)
// computed in double per element.
inline diffusion::EpsModel oracle_for(const diffusion::Schedule& sch, const Tensor& x0_star) {
    return [&sch, x0_star](const Tensor& xt, const std::vector<int>& t) {
        Tensor eps = Tensor::empty(xt.shape());
        const int64_t per = xt.numel() / xt.size(0);
        for (int64_t n = 0; n < xt.size(0); ++n)
            for (int64_t i = 0; i < per; ++i) {
                const int tn = t[(size_t)n];
                const double x0 = x0_star.data()[(x0_star.size(0) == 1 ? 0 : n) * per + i];
                eps.data()[n * per + i] =
                    (float)((xt.data()[n * per + i] - sch.sqrt_alpha_bar[tn] * x0) / sch.sqrt_one_minus_alpha_bar[tn]);
            }
        return eps;
    };
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::fmax(m, std::fabs((double)a.data()[i] - (double)b.data()[i]));
    return m;
}

}  // namespace fw::test
