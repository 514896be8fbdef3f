// Claims about nn/checkpoint: a TrainState comes back exactly (tensors, step, RNG state beyond
// 2^53), loading writes into the caller's existing tensors, and any mismatch of names or shapes
// is refused before anything is copied, with a message that says exactly what differs.
#include <doctest/doctest.h>

#include <cstdint>

#include "core/error.h"
#include "core/rng.h"
#include "nn/checkpoint.h"
#include "tests/file_util.h"
#include "tests/tempdir.h"

using namespace fw;
using fw::test::TempDir;
using fw::test::error_of;

namespace {

// A small "model": two parameters, their EMA copies and Adam's two moments, all random.
TrainState make_state(uint64_t seed) {
    Generator gen(seed);
    TrainState s;
    s.model = {{"enc0.conv1.weight", randn({16, 4, 3, 3}, gen)}, {"enc0.conv1.bias", randn({16}, gen)}};
    for (const auto& [name, t] : s.model) {
        s.ema.emplace_back(name, randn(t.shape(), gen));
        s.optim.emplace_back("m." + name, randn(t.shape(), gen));
        s.optim.emplace_back("v." + name, randn(t.shape(), gen));
    }
    s.optim.emplace_back("t", Tensor::scalar(7));
    return s;
}

// The same names and shapes, all zeros: what a fresh trainer holds before resuming.
TrainState zeros_like(const TrainState& s) {
    TrainState z;
    for (const auto& [n, t] : s.model) z.model.emplace_back(n, Tensor::zeros(t.shape()));
    for (const auto& [n, t] : s.ema) z.ema.emplace_back(n, Tensor::zeros(t.shape()));
    for (const auto& [n, t] : s.optim) z.optim.emplace_back(n, Tensor::zeros(t.shape()));
    return z;
}

void check_same_values(const NamedTensors& a, const NamedTensors& b) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        INFO("tensor '" << a[i].first << "'");
        CHECK(a[i].first == b[i].first);
        CHECK(a[i].second.to_vector() == b[i].second.to_vector());
    }
}

}  // namespace

TEST_CASE("a saved TrainState loads back exactly: tensors, step, RNG state above 2^53, meta") {
    TempDir dir;
    TrainState s = make_state(1);
    s.step = 123456789012345;
    s.rng_seed = UINT64_MAX;                 // not representable as a JSON double
    s.rng_offset = (1ull << 53) + 1;
    s.meta = {{"config", "{\"lr\": 2e-4}"}};
    save_checkpoint(dir.file("ck.safetensors"), s);

    TrainState r = zeros_like(s);
    load_checkpoint(dir.file("ck.safetensors"), r);
    check_same_values(r.model, s.model);
    check_same_values(r.ema, s.ema);
    check_same_values(r.optim, s.optim);
    CHECK(r.step == s.step);
    CHECK(r.rng_seed == s.rng_seed);
    CHECK(r.rng_offset == s.rng_offset);
    CHECK(r.meta == s.meta);
}

TEST_CASE("the checkpoint is a plain safetensors file with prefixed names and decimal metadata") {
    TempDir dir;
    TrainState s = make_state(2);
    s.step = 42;
    s.rng_seed = 7;
    s.rng_offset = 99;
    save_checkpoint(dir.file("ck.safetensors"), s);
    SafeTensors f = load_safetensors(dir.file("ck.safetensors"));
    std::vector<std::string> names;
    for (const auto& nt : f.tensors) names.push_back(nt.first);
    CHECK(names == std::vector<std::string>{"model.enc0.conv1.weight", "model.enc0.conv1.bias", "ema.enc0.conv1.weight",
                                            "ema.enc0.conv1.bias", "optim.m.enc0.conv1.weight", "optim.v.enc0.conv1.weight",
                                            "optim.m.enc0.conv1.bias", "optim.v.enc0.conv1.bias", "optim.t"});
    CHECK(f.metadata == std::map<std::string, std::string>{{"format", "fw-train-state"}, {"format_version", "1"},
                                                           {"step", "42"}, {"rng_seed", "7"}, {"rng_offset", "99"}});
}

TEST_CASE("loading copies into the existing tensors, so handles held elsewhere see the values") {
    TempDir dir;
    TrainState s = make_state(3);
    save_checkpoint(dir.file("ck.safetensors"), s);
    TrainState r = zeros_like(s);
    Tensor held = r.model[0].second;             // e.g. what an optimizer holds
    const float* storage_before = held.data();
    load_checkpoint(dir.file("ck.safetensors"), r);
    CHECK(held.data() == storage_before);
    CHECK(held.to_vector() == s.model[0].second.to_vector());
}

TEST_CASE("a shape mismatch names the tensor, the file's shape and the expected shape") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    TrainState s = make_state(4);
    s.model[0].second = Tensor::zeros({8, 4, 3, 3});
    s.ema[0].second = Tensor::zeros({8, 4, 3, 3});
    save_checkpoint(path, s);
    Checkpoint ck = read_checkpoint(path);
    TrainState want = zeros_like(make_state(4));  // [16, 4, 3, 3]
    CHECK(error_of([&] { load_into(want.model, ck, "model."); }) ==
          "checkpoint " + path + ": tensor 'model.enc0.conv1.weight' has shape [8, 4, 3, 3] but the model expects [16, 4, 3, 3]");
    CHECK(error_of([&] { load_into(want.ema, ck, "ema.", "the EMA model"); }) ==
          "checkpoint " + path + ": tensor 'ema.enc0.conv1.weight' has shape [8, 4, 3, 3] but the EMA model expects [16, 4, 3, 3]");
}

TEST_CASE("missing and unexpected tensors are each listed by name") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    TrainState s;
    s.model = {{"a", Tensor::ones({2})}, {"b", Tensor::ones({3})}, {"old1", Tensor::ones({1})}, {"old2", Tensor::ones({1})}};
    save_checkpoint(path, s);
    Checkpoint ck = read_checkpoint(path);
    NamedTensors want = {{"a", Tensor::zeros({2})}, {"new1", Tensor::zeros({1})}, {"b", Tensor::zeros({3})}};
    CHECK(error_of([&] { load_into(want, ck, "model."); }) ==
          "checkpoint " + path + ": 1 tensor that the model expects is missing: 'model.new1'\n"
          "checkpoint " + path + ": 2 unexpected tensors that the model does not have: 'model.old1', 'model.old2'");
}

TEST_CASE("nothing is copied when any tensor does not match") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    TrainState s;
    s.model = {{"a", Tensor::ones({2})}, {"b", Tensor::ones({3})}};
    save_checkpoint(path, s);
    NamedTensors want = {{"a", Tensor::zeros({2})}, {"b", Tensor::zeros({4})}};  // 'a' matches, 'b' does not
    CHECK_THROWS_AS(load_into(want, read_checkpoint(path), "model."), Error);
    CHECK(want[0].second.to_vector() == std::vector<float>{0, 0});
}

TEST_CASE("load_into with one prefix ignores the rest: a sampler can load only the EMA weights") {
    TempDir dir;
    TrainState s = make_state(5);
    save_checkpoint(dir.file("ck.safetensors"), s);
    NamedTensors ema = zeros_like(s).ema;
    load_into(ema, read_checkpoint(dir.file("ck.safetensors")), "ema.", "the EMA model");
    check_same_values(ema, s.ema);
}

TEST_CASE("load_checkpoint refuses a file with a group of tensors the trainer does not have") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    TrainState s = make_state(6);
    save_checkpoint(path, s);
    TrainState r = zeros_like(s);
    r.ema.clear();  // a run without EMA resuming from one with EMA
    std::string msg = error_of([&] { load_checkpoint(path, r); });
    CHECK(msg == "checkpoint " + path + ": 2 unexpected tensors that the EMA model does not have: "
                 "'ema.enc0.conv1.weight', 'ema.enc0.conv1.bias'");
}

TEST_CASE("read_checkpoint refuses a safetensors file that is not a training checkpoint, or a newer one") {
    TempDir dir;
    const std::string plain = dir.file("plain.safetensors");
    save_safetensors(plain, {{"w", Tensor::ones({1})}}, {{"format", "pt"}});
    CHECK(error_of([&] { read_checkpoint(plain); }) ==
          "checkpoint " + plain + ": not a training checkpoint (its __metadata__ has no \"format\": \"fw-train-state\")");

    const std::string newer = dir.file("newer.safetensors");
    save_safetensors(newer, {}, {{"format", "fw-train-state"}, {"format_version", "2"}, {"step", "0"}, {"rng_seed", "0"},
                                 {"rng_offset", "0"}});
    CHECK(error_of([&] { read_checkpoint(newer); }) == "checkpoint " + newer + ": format_version 2; this build reads version 1");

    const std::string bad = dir.file("bad.safetensors");
    save_safetensors(bad, {}, {{"format", "fw-train-state"}, {"format_version", "1"}, {"step", "12x"}, {"rng_seed", "0"},
                               {"rng_offset", "0"}});
    CHECK(error_of([&] { read_checkpoint(bad); }) ==
          "checkpoint " + bad + ": __metadata__ 'step' = '12x' is not a decimal integer in [0, 2^64)");
}

TEST_CASE("save_checkpoint refuses meta keys that the checkpoint itself uses") {
    TempDir dir;
    TrainState s;
    s.meta = {{"step", "5"}};
    CHECK(error_of([&] { save_checkpoint(dir.file("ck.safetensors"), s); }).find("meta key 'step' is reserved") !=
          std::string::npos);
    CHECK(dir.list().empty());
}
