// MNIST-style datasets: IDX files -> splits -> shuffled batches in [-1, 1] (see mnist_data.h).
#include "examples/common/mnist_data.h"

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/idx.h"

namespace fw::data {

std::string find_idx_file(const std::string& dir, const std::string& name) {
    const std::string plain = dir + "/" + name, gz = plain + ".gz";
    if (std::filesystem::exists(plain)) return plain;
    if (std::filesystem::exists(gz)) return gz;
    fail("dataset: neither ", plain, " nor ", gz, " exists (make data fetches MNIST into data/mnist)");
}

bool dataset_present(const std::string& dir) {
    for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                             "t10k-labels-idx1-ubyte"}) {
        const std::string p = dir + "/" + name;
        if (!std::filesystem::exists(p) && !std::filesystem::exists(p + ".gz")) return false;
    }
    return true;
}

Split load_split(const std::string& dir, const std::string& prefix) {
    const std::string images_path = find_idx_file(dir, prefix + "-images-idx3-ubyte");
    const std::string labels_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
    // The counts from the two headers first, so that a mismatch is reported before any data is
    // read (read_idx_* then check each header's claim against its file before allocating).
    check_idx_counts(images_path, read_idx_count(images_path, kIdxImagesMagic), labels_path,
                     read_idx_count(labels_path, kIdxLabelsMagic));
    IdxImages im = read_idx_images(images_path);
    std::vector<uint8_t> labels = read_idx_labels(labels_path);
    check_idx_counts(images_path, im.n, labels_path, (int64_t)labels.size());  // the files changed meanwhile?
    for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i] > 9) fail(labels_path, ": label ", (int)labels[i], " at byte offset ", 8 + i, " is not 0..9");
    Split s;
    s.n = im.n;
    s.rows = im.rows;
    s.cols = im.cols;
    s.pixels = std::move(im.pixels);
    s.labels = std::move(labels);
    return s;
}

Dataset load_dataset(const std::string& dir) {
    Dataset d;
    d.dir = dir;
    d.train = load_split(dir, "train");
    d.test = load_split(dir, "t10k");
    if (d.train.rows != d.test.rows || d.train.cols != d.test.cols)
        fail("dataset ", dir, ": train images are ", d.train.rows, "x", d.train.cols, " but test images are ",
             d.test.rows, "x", d.test.cols);
    return d;
}

void bytes_to_unit_range(const uint8_t* bytes, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = (float)bytes[i] / 127.5f - 1.0f;
}

void unit_range_to_bytes(const float* x, int64_t n, uint8_t* out) {
    for (int64_t i = 0; i < n; ++i) {
        const float v = std::round((x[i] + 1.0f) * 127.5f);
        out[i] = std::isnan(v) ? 0 : (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

std::vector<int64_t> permutation(int64_t n, Generator& gen) {
    std::vector<int64_t> p((size_t)n);
    for (int64_t i = 0; i < n; ++i) p[(size_t)i] = i;
    for (int64_t i = n - 1; i > 0; --i) {  // swap p[i] with a uniform p[j], j in [0, i]
        int32_t j = 0;
        gen.integers(&j, 1, 0, (int32_t)(i + 1));
        std::swap(p[(size_t)i], p[(size_t)j]);
    }
    return p;
}

Batcher::Batcher(const Split& split, int batch_size, bool shuffle, bool drop_last, uint64_t seed)
    : split_(split), batch_size_(batch_size), shuffle_(shuffle), drop_last_(drop_last), gen_(seed) {
    if (batch_size <= 0) fail("Batcher: batch size must be positive, got ", batch_size);
    if (split.n == 0) fail("Batcher: the split is empty");
    const int64_t B = std::min<int64_t>(batch_size, split.n);
    full_ = Tensor::empty({B, 1, split.rows, split.cols});
    labels_full_.resize((size_t)B);
    const int64_t tail = split.n % batch_size;
    if (tail && !drop_last && split.n > batch_size) {
        tail_ = Tensor::empty({tail, 1, split.rows, split.cols});
        labels_tail_.resize((size_t)tail);
    }
    start_epoch();
}

void Batcher::start_epoch() {
    ++epoch_;
    pos_ = 0;
    if (shuffle_) {
        order_ = permutation(split_.n, gen_);
    } else {
        order_.resize((size_t)split_.n);
        for (int64_t i = 0; i < split_.n; ++i) order_[(size_t)i] = i;
    }
}

int64_t Batcher::batches_per_epoch() const {
    const int64_t full = split_.n / batch_size_, tail = split_.n % batch_size_;
    return full + (tail && (!drop_last_ || full == 0) ? 1 : 0);
}

bool Batcher::next(Tensor& x, std::vector<int>& labels) {
    const int64_t left = split_.n - pos_;
    const bool full = left >= full_.size(0);
    if (left == 0 || (!full && drop_last_ && split_.n > batch_size_)) {
        start_epoch();
        return false;
    }
    Tensor& out = full ? full_ : tail_;
    std::vector<int>& lab = full ? labels_full_ : labels_tail_;
    const int64_t B = out.size(0), D = split_.image_size();
    float* dst = out.data();
    for (int64_t b = 0; b < B; ++b) {
        const int64_t k = order_[(size_t)(pos_ + b)];
        bytes_to_unit_range(&split_.pixels[(size_t)(k * D)], D, dst + b * D);
        lab[(size_t)b] = split_.labels[(size_t)k];
    }
    pos_ += B;
    x = out;
    labels = lab;
    return true;
}

}  // namespace fw::data
