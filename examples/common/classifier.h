// The MNIST classifier used to score samples (examples/train_classifier.cpp, examples/evaluate.cpp):
// a LeNet-5-like CNN (LeCun et al. 1998) with ReLU and average pooling.
//
//   x (N, 1, 28, 28) in [-1, 1]
//   conv1  1 -> 16, 5x5, pad 2   (N, 16, 28, 28)   relu   avg_pool 2   (N, 16, 14, 14)
//   conv2 16 -> 32, 5x5          (N, 32, 10, 10)   relu   avg_pool 2   (N, 32,  5,  5)
//   flatten                      (N, 800)
//   fc1  800 -> 128              (N, 128)          relu              <- features() for the FD
//   fc2  128 -> 10               (N, 10)           logits
//
// Checkpoint: one safetensors file of the parameters under their module names ("conv1.weight",
// ...), metadata format = "fw-mnist-classifier", written atomically.
#pragma once

#include <map>
#include <string>

#include "core/rng.h"
#include "nn/layers.h"

namespace fw::data {

class Classifier : public nn::Module {
public:
    static constexpr int kFeatures = 128, kClasses = 10;
    explicit Classifier(Generator& gen);
    Tensor features(const Tensor& x) const;  // (N, 1, 28, 28) -> (N, 128), after the relu
    Tensor logits(const Tensor& features) const;  // (N, 128) -> (N, 10)
    Tensor forward(const Tensor& x) const { return logits(features(x)); }
    std::string type_name() const override { return "MNIST LeNet classifier"; }

    nn::Conv2d conv1, conv2;
    nn::Linear fc1, fc2;
};

void save_classifier(const std::string& path, const Classifier& model,
                     const std::map<std::string, std::string>& meta = {});
// Reads `path` into `model`; fw::Error names the file and every missing or mismatched tensor.
void load_classifier(const std::string& path, Classifier& model);

}  // namespace fw::data
