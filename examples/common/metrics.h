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
#pragma once

#include <cstdint>
#include <vector>

namespace fw::metrics {

double mean_confidence(const float* probs, int64_t n, int c);
double confident_share(const float* probs, int64_t n, int c, double threshold);
std::vector<int64_t> predicted_histogram(const float* probs, int64_t n, int c);
double histogram_entropy(const std::vector<int64_t>& counts);  // natural log

struct Gaussian {
    int d = 0;
    std::vector<double> mean;  // d
    std::vector<double> cov;   // d x d, row-major
};
// features (n, d) row-major, n >= 2.
Gaussian fit_gaussian(const float* features, int64_t n, int d);
double frechet_distance(const Gaussian& a, const Gaussian& b);

}  // namespace fw::metrics
