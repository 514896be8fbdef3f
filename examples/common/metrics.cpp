// Classifier-based sample metrics and the Frechet distance (formulas in metrics.h).
#include "examples/common/metrics.h"

// Eigen's own OpenMP threads off: its products here are 128 x 128 (x n), too small to gain, and on a
// busy machine each parallel product waits for descheduled threads (a fit of 1000 x 128 features took
// 45 ms with them against 5 ms without). A bootstrap of the FD makes hundreds of such products.
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

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

std::vector<int> predicted_classes(const float* probs, int64_t n, int c) {
    std::vector<int> k((size_t)n);
    for (int64_t i = 0; i < n; ++i) k[(size_t)i] = argmax_row(probs + i * c, c);
    return k;
}

std::vector<double> confidences(const float* probs, int64_t n, int c) {
    std::vector<double> m((size_t)n);
    for (int64_t i = 0; i < n; ++i) m[(size_t)i] = probs[i * c + argmax_row(probs + i * c, c)];
    return m;
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
    // S = C^T C / (n - 1), the unbiased covariance: the lower half by a rank-n update (half the
    // flops of the full product), then mirrored
    Eigen::MatrixXd S = Eigen::MatrixXd::Zero(d, d);
    S.selfadjointView<Eigen::Lower>().rankUpdate(C.transpose(), 1.0 / (double)(n - 1));
    S.triangularView<Eigen::StrictlyUpper>() = S.transpose();
    Gaussian g;
    g.d = d;
    g.mean.assign(mu.data(), mu.data() + d);
    g.cov.resize((size_t)d * d);
    for (int r = 0; r < d; ++r)
        for (int c = 0; c < d; ++c) g.cov[(size_t)r * d + c] = S(r, c);
    return g;
}

namespace {
using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A^{1/2} of a symmetric positive semi-definite A: V diag(sqrt(max(lambda, 0))) V^T.
Eigen::MatrixXd sqrt_psd(const Eigen::MatrixXd& A) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(A);
    const Eigen::VectorXd s = es.eigenvalues().cwiseMax(0.0).cwiseSqrt();
    return es.eigenvectors() * s.asDiagonal() * es.eigenvectors().transpose();
}
}  // namespace

FrechetReference frechet_reference(const Gaussian& a) {
    const int d = a.d;
    FrechetReference r;
    r.g = a;
    r.sqrt_cov.resize((size_t)d * d);
    Eigen::Map<RowMajor>(r.sqrt_cov.data(), d, d) = sqrt_psd(Eigen::Map<const RowMajor>(a.cov.data(), d, d));
    return r;
}

double frechet_distance(const FrechetReference& ref, const Gaussian& b) {
    const Gaussian& a = ref.g;
    if (a.d != b.d) fail("frechet_distance: feature sizes differ: ", a.d, " vs ", b.d);
    const int d = a.d;
    const Eigen::Map<const Eigen::VectorXd> mu1(a.mean.data(), d), mu2(b.mean.data(), d);
    const Eigen::Map<const RowMajor> S1(a.cov.data(), d, d), S2(b.cov.data(), d, d), r1(ref.sqrt_cov.data(), d, d);
    Eigen::MatrixXd M = r1 * S2 * r1;  // S1^{1/2} S2 S1^{1/2}: symmetric PSD, similar to S1 S2
    M = 0.5 * (M + M.transpose());     // exact symmetry against round-off
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(M, Eigen::EigenvaluesOnly);
    const double tr_sqrt = es.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();  // Tr (S1 S2)^{1/2}
    // FD = ||mu1 - mu2||^2 + Tr S1 + Tr S2 - 2 Tr (S1 S2)^{1/2}
    const double fd = (mu1 - mu2).squaredNorm() + S1.trace() + S2.trace() - 2.0 * tr_sqrt;
    return fd < 0 ? 0.0 : fd;  // round-off can give -1e-12 for identical sets
}

double frechet_distance(const Gaussian& a, const Gaussian& b) {
    if (a.d != b.d) fail("frechet_distance: feature sizes differ: ", a.d, " vs ", b.d);
    return frechet_distance(frechet_reference(a), b);
}

LabelAccuracy label_accuracy(const float* probs, const uint8_t* labels, int64_t n, int c) {
    if (n <= 0) fail("label_accuracy: no samples");
    LabelAccuracy r;
    r.asked.assign((size_t)c, 0);
    std::vector<int64_t> hit((size_t)c, 0);
    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) {
        const int y = labels[i];
        if (y >= c) fail("label_accuracy: label ", y, " of sample ", i, " is outside 0-", c - 1);
        const bool ok = argmax_row(probs + i * c, c) == y;  // argmax_c p_ic = y_i
        ++r.asked[(size_t)y];
        hit[(size_t)y] += ok;
        correct += ok;
    }
    r.accuracy = (double)correct / (double)n;
    r.per_class.resize((size_t)c);
    for (int k = 0; k < c; ++k)
        r.per_class[(size_t)k] = r.asked[(size_t)k] > 0 ? (double)hit[(size_t)k] / (double)r.asked[(size_t)k]
                                                        : std::numeric_limits<double>::quiet_NaN();
    return r;
}

double quantile(std::vector<double> values, double p) {
    if (values.empty()) fail("quantile: no values");
    if (!(p >= 0.0 && p <= 1.0)) fail("quantile: p = ", p, " is outside [0, 1]");
    std::sort(values.begin(), values.end());
    // h = p (B - 1); q_p = v_(floor h) + (h - floor h) (v_(floor h + 1) - v_(floor h))
    const double h = p * (double)(values.size() - 1);
    const size_t k = (size_t)std::floor(h);
    if (k + 1 >= values.size()) return values.back();
    return values[k] + (h - (double)k) * (values[k + 1] - values[k]);
}

Interval bootstrap_interval(int64_t n, int B, Generator& gen,
                            const std::function<double(const std::vector<int64_t>& idx)>& stat, double level) {
    if (n < 1) fail("bootstrap_interval: no samples (n = ", n, ")");
    if (n > std::numeric_limits<int32_t>::max())
        fail("bootstrap_interval: n = ", n, " samples; at most 2^31 - 1 (indices are drawn as int32)");
    if (B < 1) fail("bootstrap_interval: B = ", B, " resamples; need B >= 1 (with the bootstrap off, do not call it)");
    if (!(level > 0.0 && level < 1.0)) fail("bootstrap_interval: level = ", level, " is outside (0, 1)");
    std::vector<int64_t> idx((size_t)n);
    std::iota(idx.begin(), idx.end(), int64_t{0});
    Interval r;
    r.value = stat(idx);  // theta on the samples themselves
    std::vector<int32_t> draw((size_t)n);
    std::vector<double> theta((size_t)B);
    for (int b = 0; b < B; ++b) {
        gen.integers(draw.data(), n, 0, (int32_t)n);  // i_k ~ U{0..n-1}, with replacement
        std::copy(draw.begin(), draw.end(), idx.begin());
        theta[(size_t)b] = stat(idx);  // theta*_b
    }
    // [q_{a/2}, q_{1-a/2}], a = 1 - level
    const double a = 1.0 - level;
    r.lo = quantile(theta, a / 2);
    r.hi = quantile(theta, 1.0 - a / 2);
    r.boot_mean = std::accumulate(theta.begin(), theta.end(), 0.0) / (double)B;
    return r;
}

Interval bias_shifted(const Interval& r) {
    const double b = r.boot_mean - r.value;  // the bootstrap's estimate of the statistic's bias
    Interval s = r;
    s.lo = r.lo - b;
    s.hi = r.hi - b;
    return s;
}

}  // namespace fw::metrics
