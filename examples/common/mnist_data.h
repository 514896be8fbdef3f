// MNIST-style datasets for the example programs: the four IDX files of a folder, pixels scaled to
// [-1, 1], and seeded, shuffled mini-batches written into a preallocated Tensor.
//
//   DIR/train-images-idx3-ubyte   DIR/train-labels-idx1-ubyte      (each may also be "<name>.gz")
//   DIR/t10k-images-idx3-ubyte    DIR/t10k-labels-idx1-ubyte
//
// Pixels: x = byte / 127.5 - 1, so 0 (background) -> -1 and 255 (ink) -> +1 (DDPM's convention,
// Ho et al. 2020, Sec. 3.3: "data ... scaled linearly to [-1, 1]").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace fw::data {

// One split: n images of rows x cols bytes and their n labels (0..9).
struct Split {
    int64_t n = 0;
    int rows = 0, cols = 0;
    std::vector<uint8_t> pixels;  // n * rows * cols
    std::vector<uint8_t> labels;  // n
    int64_t image_size() const { return (int64_t)rows * cols; }
};

struct Dataset {
    std::string dir;
    Split train, test;
};

// "DIR/NAME" if it exists, else "DIR/NAME.gz" if that exists, else fw::Error naming both.
std::string find_idx_file(const std::string& dir, const std::string& name);
// Reads one split ("train" or "t10k") of DIR; checks image and label counts agree (from the two
// headers, before any data is read), labels < 10.
Split load_split(const std::string& dir, const std::string& prefix);
Dataset load_dataset(const std::string& dir);
// True if the four files (plain or .gz) are all present in dir.
bool dataset_present(const std::string& dir);

// x = byte / 127.5 - 1 for n bytes.
void bytes_to_unit_range(const uint8_t* bytes, int64_t n, float* out);
// The inverse, rounded and clamped to [0, 255]: byte = round((x + 1) * 127.5).
void unit_range_to_bytes(const float* x, int64_t n, uint8_t* out);

// A uniformly random permutation of 0..n-1 (Fisher-Yates, one Generator::integers draw per step).
std::vector<int64_t> permutation(int64_t n, Generator& gen);

// Mini-batches over a Split. Each epoch visits every example once: in a fresh permutation drawn
// from `gen` if shuffle, else in file order. The batch tensor (B, 1, rows, cols) is allocated once;
// next() overwrites it. The last, smaller batch of an epoch (n % B examples) is returned in a second
// tensor allocated once, unless drop_last.
class Batcher {
public:
    Batcher(const Split& split, int batch_size, bool shuffle, bool drop_last, uint64_t seed);

    // Fills the next batch; returns false (and starts a new epoch) when the epoch is over.
    // `x` refers to the batch tensor (valid until the next call), `labels` to its labels.
    bool next(Tensor& x, std::vector<int>& labels);
    int64_t batches_per_epoch() const;
    int64_t epoch() const { return epoch_; }  // epochs started so far (the first is 1)
    const std::vector<int64_t>& order() const { return order_; }  // this epoch's order

private:
    void start_epoch();
    const Split& split_;
    int batch_size_;
    bool shuffle_, drop_last_;
    Generator gen_;
    std::vector<int64_t> order_;
    int64_t pos_ = 0, epoch_ = 0;
    Tensor full_, tail_;
    std::vector<int> labels_full_, labels_tail_;
};

}  // namespace fw::data
