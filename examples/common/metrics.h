// Sample-quality metrics computed with a trained classifier (examples/evaluate.cpp).
//
// probs (N, C): each row a softmax distribution over C classes.
//   mean confidence      (1/N) sum_i max_c p_ic
//   confident share      (1/N) #{i : max_c p_ic > threshold}
//   class entropy        H(h) = -sum_c h_c ln h_c,  h_c = (1/N) #{i : argmax p_i = c}
//                        (0 when every sample is one class; ln C when classes are balanced)
//
// Frechet distance between two sets of feature vectors, each summarised as a Gaussian
// (mean mu, covariance S with the unbiased 1/(n-1)), as in FID (Heusel et al. 2017):
//   FD = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})
// computed in double with the symmetric form Tr (S1 S2)^{1/2} = Tr (S1^{1/2} S2 S1^{1/2})^{1/2}
// (the two matrices are similar), both square roots from symmetric eigendecompositions (Eigen's
// SelfAdjointEigenSolver), tiny negative eigenvalues from round-off clamped to 0.
// For d = 1 it is (m1 - m2)^2 + (s1 - s2)^2.
//
// Accuracy on requested labels (conditional samples: sample i was asked to be digit y_i):
//   accuracy             (1/N) #{i : argmax_c p_ic = y_i}
//   per-class accuracy   #{i : y_i = k, argmax p_i = k} / #{i : y_i = k}   (undefined, NaN, for a k never asked for)
//
// Bootstrap percentile interval (Efron 1979; Efron & Tibshirani, "An Introduction to the
// Bootstrap", 1993, ch. 13). A statistic theta = stat(x_1..x_n) of n samples; its sampling noise is
// estimated by treating the n samples as the population:
//   for b = 1..B:  idx_b = (i_1, ..., i_n),  each i_k ~ U{0..n-1} independently (with replacement)
//                  theta*_b = stat(x_{idx_b})
//   interval at level 1 - a:  [q_{a/2}, q_{1-a/2}] of theta*_1..theta*_B
// q_p is the empirical quantile with linear interpolation between order statistics (R's type 7,
// numpy's default): sorted theta*_(0) <= ... <= theta*_(B-1), h = p (B - 1),
// q_p = theta*_(floor h) + (h - floor h) (theta*_(floor h + 1) - theta*_(floor h)).
// For the mean of n iid values with standard deviation s the interval is about
// mean +- 1.96 s / sqrt(n) (width 2 * 1.96 s / sqrt(n)). The interval covers only the noise of the
// n resampled values: whatever stat holds fixed (a reference set, a classifier) adds none.
// A biased statistic shifts the whole interval. A resample holds only ~63% distinct samples, so a
// statistic whose bias grows as n shrinks has theta*_b mostly on one side of theta. The Frechet
// distance (biased up) and the plug-in entropy (biased down by ~(C - 1) / 2n) are such: the FD's
// percentile interval can lie entirely above the value itself (tests/test_evaluate_metrics.cpp
// measures both). The bootstrap estimates that bias (Efron & Tibshirani, ch. 10):
//   b = mean_b theta*_b - theta
// and, by the bootstrap principle (theta* - theta behaves like theta - theta_true), theta*_b - b is
// distributed like the estimate theta itself from n fresh samples. bias_shifted() returns the
// percentile interval of theta*_b - b, [q_{a/2} - b, q_{1-a/2} - b]: where the statistic of another
// n samples from the same source would fall. For a mean b is ~0 (Monte Carlo noise only).
// Deterministic: the indices come from `gen` alone (n integers per resample, resample after
// resample), so two statistics bootstrapped with equal generators see the same B resamples.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/rng.h"

namespace fw::metrics {

double mean_confidence(const float* probs, int64_t n, int c);
double confident_share(const float* probs, int64_t n, int c, double threshold);
std::vector<int64_t> predicted_histogram(const float* probs, int64_t n, int c);
// Per sample: the predicted class argmax_c p_ic (ties: the lowest c) and its probability max_c p_ic.
std::vector<int> predicted_classes(const float* probs, int64_t n, int c);
std::vector<double> confidences(const float* probs, int64_t n, int c);
double histogram_entropy(const std::vector<int64_t>& counts);  // natural log

struct Gaussian {
    int d = 0;
    std::vector<double> mean;  // d
    std::vector<double> cov;   // d x d, row-major
};
// features (n, d) row-major, n >= 2.
Gaussian fit_gaussian(const float* features, int64_t n, int d);
double frechet_distance(const Gaussian& a, const Gaussian& b);
// The same with a's square root S1^{1/2} computed once: for many distances to one fixed reference
// (a bootstrap refits only the other side). frechet_distance(a, b) goes through it.
struct FrechetReference {
    Gaussian g;
    std::vector<double> sqrt_cov;  // S^{1/2}, d x d, row-major
};
FrechetReference frechet_reference(const Gaussian& a);
double frechet_distance(const FrechetReference& a, const Gaussian& b);

// probs (n, c), labels (n) each in 0..c-1 (checked: fw::Error naming the index and the label).
struct LabelAccuracy {
    double accuracy = 0;
    std::vector<double> per_class;  // c entries; NaN for a class no sample asked for
    std::vector<int64_t> asked;     // c entries: #{i : y_i = k}
};
LabelAccuracy label_accuracy(const float* probs, const uint8_t* labels, int64_t n, int c);

// A statistic's value on all n samples and its bootstrap percentile interval [lo, hi].
struct Interval {
    double value = 0, lo = 0, hi = 0;
    double boot_mean = 0;  // (1/B) sum_b theta*_b; boot_mean - value estimates stat's bias
};
// value = stat(0, 1, ..., n-1); lo, hi from B resamples (formulas above). stat receives the n
// indices of one resample (repeats allowed) and must depend on nothing else that changes.
// Refused (fw::Error): n < 1, n > 2^31 - 1, B < 1 (a caller with the bootstrap off should not call),
// level outside (0, 1).
Interval bootstrap_interval(int64_t n, int B, Generator& gen,
                            const std::function<double(const std::vector<int64_t>& idx)>& stat, double level = 0.95);
// [lo - b, hi - b] with b = boot_mean - value (above); value and boot_mean unchanged.
Interval bias_shifted(const Interval& r);
// The empirical quantile q_p of `values` (type 7, above); values need not be sorted; p in [0, 1].
double quantile(std::vector<double> values, double p);

}  // namespace fw::metrics
