// The LeNet-like MNIST classifier (layers listed in classifier.h).
#include "examples/common/classifier.h"

#include "core/error.h"
#include "core/ops.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"

namespace fw::data {

Classifier::Classifier(Generator& gen)
    : conv1(1, 16, 5, gen, 1, 2), conv2(16, 32, 5, gen), fc1(32 * 5 * 5, kFeatures, gen), fc2(kFeatures, kClasses, gen) {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
    register_module("fc1", fc1);
    register_module("fc2", fc2);
}

Tensor Classifier::features(const Tensor& x) const {
    if (x.dim() != 4 || x.size(1) != 1 || x.size(2) != 28 || x.size(3) != 28)
        fail("Classifier: expected x of shape (N, 1, 28, 28), got ", x.to_string(0));
    Tensor h = avg_pool2d(relu(conv1.forward(x)), 2);  // (N, 16, 14, 14)
    h = avg_pool2d(relu(conv2.forward(h)), 2);         // (N, 32, 5, 5)
    h = reshape(h, {x.size(0), 32 * 5 * 5});          // (N, 800)
    return relu(fc1.forward(h));                       // (N, 128)
}

Tensor Classifier::logits(const Tensor& f) const { return fc2.forward(f); }

void save_classifier(const std::string& path, const Classifier& model, const std::map<std::string, std::string>& meta) {
    std::map<std::string, std::string> m = meta;
    m["format"] = "fw-mnist-classifier";
    save_safetensors(path, model.parameters(), m);
}

void load_classifier(const std::string& path, Classifier& model) {
    SafeTensors st = load_safetensors(path);
    auto it = st.metadata.find("format");
    if (it == st.metadata.end() || it->second != "fw-mnist-classifier")
        fail(path, ": not an MNIST classifier checkpoint (metadata format is '",
             it == st.metadata.end() ? "" : it->second, "', expected 'fw-mnist-classifier')");
    Checkpoint ck;
    ck.path = path;
    ck.tensors = std::move(st.tensors);
    load_into(model.parameters(), ck, "", "the classifier");
}

}  // namespace fw::data
