// Classifier-based sample metrics and the Frechet distance (formulas in metrics.h).
#include "examples/common/metrics.h"

#include <Eigen/Dense>
#include <cmath>

#include "core/error.h"

namespace fw::metrics {

namespace {
int argmax_row(const float* p, int c) {
    int best = 0;
    for (int k = 1; k < c; ++k)
        if (p[k] > p[best]) best = k;
    return best;
}
}  // namespace

double mean_confidence(const float* probs, int64_t n, int c) {
    if (n <= 0) fail("mean_confidence: no samples");
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += probs[i * c + argmax_row(probs + i * c, c)];
    return s / (double)n;
}

double confident_share(const float* probs, int64_t n, int c, double threshold) {
    if (n <= 0) fail("confident_share: no samples");
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i) k += probs[i * c + argmax_row(probs + i * c, c)] > threshold;
    return (double)k / (double)n;
}

std::vector<int64_t> predicted_histogram(const float* probs, int64_t n, int c) {
    std::vector<int64_t> h((size_t)c, 0);
    for (int64_t i = 0; i < n; ++i) ++h[(size_t)argmax_row(probs + i * c, c)];
    return h;
}

double histogram_entropy(const std::vector<int64_t>& counts) {
    int64_t total = 0;
    for (int64_t k : counts) total += k;
    if (total <= 0) fail("histogram_entropy: empty histogram");
    double H = 0;
    for (int64_t k : counts)
        if (k > 0) {
            const double h = (double)k / (double)total;
            H -= h * std::log(h);  // H = -sum_c h_c ln h_c, with 0 ln 0 = 0
        }
    return H;
}

Gaussian fit_gaussian(const float* features, int64_t n, int d) {
    if (n < 2 || d < 1) fail("fit_gaussian: need n >= 2 samples and d >= 1 features, got n = ", n, ", d = ", d);
    Eigen::MatrixXd X(n, d);
    for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < d; ++j) X(i, j) = features[i * d + j];
    const Eigen::RowVectorXd mu = X.colwise().mean();
    const Eigen::MatrixXd C = X.rowwise() - mu;
    const Eigen::MatrixXd S = (C.transpose() * C) / (double)(n - 1);  // unbiased covariance
    Gaussian g;
    g.d = d;
    g.mean.assign(mu.data(), mu.data() + d);
    g.cov.resize((size_t)d * d);
    for (int r = 0; r < d; ++r)
        for (int c = 0; c < d; ++c) g.cov[(size_t)r * d + c] = S(r, c);
    return g;
}

namespace {
// A^{1/2} of a symmetric positive semi-definite A: V diag(sqrt(max(lambda, 0))) V^T.
Eigen::MatrixXd sqrt_psd(const Eigen::MatrixXd& A) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(A);
    const Eigen::VectorXd s = es.eigenvalues().cwiseMax(0.0).cwiseSqrt();
    return es.eigenvectors() * s.asDiagonal() * es.eigenvectors().transpose();
}
}  // namespace

double frechet_distance(const Gaussian& a, const Gaussian& b) {
    if (a.d != b.d) fail("frechet_distance: feature sizes differ: ", a.d, " vs ", b.d);
    const int d = a.d;
    const Eigen::Map<const Eigen::VectorXd> mu1(a.mean.data(), d), mu2(b.mean.data(), d);
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> S1(a.cov.data(), d, d),
        S2(b.cov.data(), d, d);
    const Eigen::MatrixXd r1 = sqrt_psd(S1);
    Eigen::MatrixXd M = r1 * S2 * r1;  // S1^{1/2} S2 S1^{1/2}: symmetric PSD, similar to S1 S2
    M = 0.5 * (M + M.transpose());     // exact symmetry against round-off
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(M, Eigen::EigenvaluesOnly);
    const double tr_sqrt = es.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();  // Tr (S1 S2)^{1/2}
    // FD = ||mu1 - mu2||^2 + Tr S1 + Tr S2 - 2 Tr (S1 S2)^{1/2}
    const double fd = (mu1 - mu2).squaredNorm() + S1.trace() + S2.trace() - 2.0 * tr_sqrt;
    return fd < 0 ? 0.0 : fd;  // round-off can give -1e-12 for identical sets
}

}  // namespace fw::metrics
