// Claims about nn/checkpoint: a TrainState comes back exactly (tensors, step, RNG state beyond
// 2^53), loading writes into the caller's existing tensors, and any mismatch of names or shapes
// is refused before anything is copied, with a message that says exactly what differs. Nothing
// poisoned passes silently: a NaN or Inf is refused at save and at read, a flipped bit fails the
// CRC-32, and the typed settings refuse what they cannot parse.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include <zlib.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/checkpoint.h"
#include "tests/cuda_test_util.h"
#include "tests/file_util.h"
#include "tests/tempdir.h"

using namespace fw;
using fw::test::TempDir;
using fw::test::error_of;
using fw::test::Outcome;
using fw::test::outcome_of;
using fw::test::read_bytes;
using fw::test::write_bytes;
using K = SafeTensorsError::Kind;

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

// Where tensor `name`'s bytes start in a safetensors file: 8 + header length + its begin offset.
size_t data_offset_of(const std::string& file, const std::string& name) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | (unsigned char)file[i];
    SafeTensors st = decode_safetensors(file, "<memory>");
    uint64_t begin = 0;
    for (const auto& [nm, t] : st.tensors) {  // in data order, packed from 0
        if (nm == name) return 8 + n + begin;
        begin += (uint64_t)t.numel() * 4;
    }
    FAIL("no tensor '" << name << "' in the file");
    return 0;
}

// The file a version-1 build wrote: no crc32 keys, format_version "1".
void save_v1(const std::string& path, const NamedTensors& tensors, std::map<std::string, std::string> meta = {}) {
    meta.insert({{"format", "fw-train-state"}, {"format_version", "1"}, {"step", "3"}, {"rng_seed", "4"},
                 {"rng_offset", "5"}});
    save_safetensors(path, tensors, meta);
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

TEST_CASE("the checkpoint is a plain safetensors file with prefixed names, decimal metadata and a CRC-32 per tensor") {
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
    // The CRC-32 of each tensor's bytes, computed here with zlib from the values, as 8 hex digits.
    std::map<std::string, std::string> want = {{"format", "fw-train-state"}, {"format_version", "2"},
                                               {"step", "42"}, {"rng_seed", "7"}, {"rng_offset", "99"}};
    for (const auto& [name, t] : f.tensors) {
        std::vector<float> v = t.to_vector();
        uLong crc = crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(v.data()), v.size() * 4);
        char hex[9];
        std::snprintf(hex, sizeof hex, "%08lx", (unsigned long)crc);
        want["crc32." + name] = hex;
    }
    CHECK(f.metadata == want);
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
    save_safetensors(newer, {}, {{"format", "fw-train-state"}, {"format_version", "3"}, {"step", "0"}, {"rng_seed", "0"},
                                 {"rng_offset", "0"}});
    Outcome o = outcome_of([&] { read_checkpoint(newer); });
    CHECK(o.kind == K::Metadata);
    CHECK(o.message == "checkpoint " + newer + ": format_version 3; this build reads versions 1 to 2");

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
    s.meta = {{"crc32.model.w", "00000000"}};
    CHECK(error_of([&] { save_checkpoint(dir.file("ck.safetensors"), s); }).find("meta key 'crc32.model.w' is reserved") !=
          std::string::npos);
    CHECK(dir.list().empty());
}

// ---------------------------------------------------------------------------------------------
// nothing poisoned passes silently

TEST_CASE("save_checkpoint refuses a NaN in one EMA tensor, naming tensor, index and value, and keeps the old file") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    TrainState s = make_state(7);
    save_checkpoint(path, s);
    const std::string before = read_bytes(path);

    // ema.enc0.conv1.weight is [16, 4, 3, 3]: flat index 17 = 1 * 9 + 2 * 3 + 2 -> [0, 1, 2, 2]
    s.ema[0].second.data()[17] = std::numeric_limits<float>::quiet_NaN();
    Outcome o = outcome_of([&] { save_checkpoint(path, s); });
    CHECK(o.kind == K::NonFinite);
    CHECK(o.message == "save_checkpoint " + path + ": tensor 'ema.enc0.conv1.weight' holds NaN at index 17 "
                       "([0, 1, 2, 2]); refusing to write a checkpoint with non-finite values");
    CHECK(read_bytes(path) == before);                          // the old file, byte for byte
    CHECK(dir.list() == std::set<std::string>{"ck.safetensors"});  // and no temp file

    s.ema[0].second.data()[17] = 0;
    s.optim.back().second = Tensor::scalar(-std::numeric_limits<float>::infinity());  // 0-d: no multi-index
    o = outcome_of([&] { save_checkpoint(path, s); });
    CHECK(o.kind == K::NonFinite);
    CHECK(o.message == "save_checkpoint " + path + ": tensor 'optim.t' holds -Inf at index 0; refusing to write a "
                       "checkpoint with non-finite values");
    CHECK(read_bytes(path) == before);
}

TEST_CASE("save_checkpoint checks GPU tensors on the host: a NaN is refused by index, clean ones round-trip" *
          fw::test::cuda_only()) {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    std::vector<float> w = fw::test::random_values(12, 1);
    TrainState s;
    s.model = {{"w", Tensor::from_vector({3, 4}, w, Device::CUDA)}};
    s.ema = {{"w", Tensor::from_vector({3, 4}, w, Device::CUDA)}};
    save_checkpoint(path, s);
    const Checkpoint ck = read_checkpoint(path);  // CRCs computed from the GPU tensors' bytes match
    REQUIRE(ck.tensors.size() == 2);
    CHECK(ck.tensors[1].second.to_vector() == w);

    w[7] = std::numeric_limits<float>::infinity();
    s.ema = {{"w", Tensor::from_vector({3, 4}, w, Device::CUDA)}};
    Outcome o = outcome_of([&] { save_checkpoint(path, s); });
    CHECK(o.kind == K::NonFinite);
    CHECK(o.message == "save_checkpoint " + path + ": tensor 'ema.w' holds Inf at index 7 ([1, 3]); refusing to "
                       "write a checkpoint with non-finite values");
}

TEST_CASE("a flipped exponent bit in the data section (0.287 -> 9.8e37) fails the CRC-32 check, naming the tensor") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    TrainState s = make_state(8);
    s.ema[1].second.data()[3] = 0.287f;  // ema.enc0.conv1.bias[3]
    save_checkpoint(path, s);

    std::string bytes = read_bytes(path);
    const size_t at = data_offset_of(bytes, "ema.enc0.conv1.bias") + 3 * 4;
    float before, after;
    std::memcpy(&before, bytes.data() + at, 4);
    bytes[at + 3] = (char)(bytes[at + 3] ^ 0x40);  // bit 30: the top bit of the exponent (little-endian)
    std::memcpy(&after, bytes.data() + at, 4);
    REQUIRE(before == 0.287f);
    REQUIRE(after > 9e37f);  // still finite: only the checksum can tell
    REQUIRE(after < 1e38f);
    write_bytes(path, bytes);

    Outcome o = outcome_of([&] { read_checkpoint(path); });
    INFO(o.message);
    REQUIRE(o.refused);
    CHECK(o.kind == K::Checksum);
    CHECK(o.message.rfind("checkpoint " + path + ": tensor 'ema.enc0.conv1.bias' fails its CRC-32 check (stored ", 0) == 0);
    CHECK(fw::test::contains(o.message, "): the file is corrupt"));
    TrainState r = zeros_like(s);
    CHECK(outcome_of([&] { load_checkpoint(path, r); }).kind == K::Checksum);
}

TEST_CASE("a version-2 checkpoint with a tensor lacking its CRC-32, or a CRC-32 lacking its tensor, is refused") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    std::map<std::string, std::string> meta = {{"format", "fw-train-state"}, {"format_version", "2"}, {"step", "0"},
                                               {"rng_seed", "0"}, {"rng_offset", "0"}};
    save_safetensors(path, {{"model.w", Tensor::ones({2})}}, meta);
    Outcome o = outcome_of([&] { read_checkpoint(path); });
    CHECK(o.kind == K::Checksum);
    CHECK(o.message == "checkpoint " + path + ": tensor 'model.w' has no CRC-32 ('crc32.model.w' in __metadata__), "
                       "which a version 2 checkpoint holds for every tensor");

    meta["crc32.model.gone"] = "00000000";
    save_safetensors(path, {}, meta);
    o = outcome_of([&] { read_checkpoint(path); });
    CHECK(o.kind == K::Metadata);
    CHECK(o.message == "checkpoint " + path + ": __metadata__ holds a CRC-32 for tensor 'model.gone', which the file "
                       "does not hold");
}

TEST_CASE("a version-1 checkpoint (no checksums) still loads") {
    TempDir dir;
    const std::string path = dir.file("v1.safetensors");
    TrainState s = make_state(9);
    NamedTensors all;
    for (const auto& [n, t] : s.model) all.emplace_back("model." + n, t);
    for (const auto& [n, t] : s.ema) all.emplace_back("ema." + n, t);
    for (const auto& [n, t] : s.optim) all.emplace_back("optim." + n, t);
    save_v1(path, all, {{"note", "old"}});

    TrainState r = zeros_like(s);
    load_checkpoint(path, r);
    check_same_values(r.model, s.model);
    check_same_values(r.ema, s.ema);
    check_same_values(r.optim, s.optim);
    CHECK(r.step == 3);
    CHECK(r.rng_seed == 4);
    CHECK(r.rng_offset == 5);
    CHECK(r.meta == std::map<std::string, std::string>{{"note", "old"}});
}

TEST_CASE("a NaN written by hand into a valid version-1 file is refused at read, naming tensor and index") {
    TempDir dir;
    const std::string path = dir.file("v1.safetensors");
    save_v1(path, {{"model.a", Tensor::ones({4})}, {"ema.w", Tensor::ones({2, 3})}});
    REQUIRE(read_checkpoint(path).tensors.size() == 2);  // valid as written

    std::string bytes = read_bytes(path);
    const uint32_t nan_bits = 0x7fc00000u;
    std::memcpy(&bytes[data_offset_of(bytes, "ema.w") + 4 * 4], &nan_bits, 4);  // flat index 4 = [1, 1]
    write_bytes(path, bytes);
    Outcome o = outcome_of([&] { read_checkpoint(path); });
    CHECK(o.kind == K::NonFinite);
    CHECK(o.message == "checkpoint " + path + ": tensor 'ema.w' holds NaN at index 4 ([1, 1]); refusing to load a "
                       "checkpoint with non-finite values");
}

// ---------------------------------------------------------------------------------------------
// typed settings

TEST_CASE("Checkpoint settings: has, setting, setting_int and setting_double read strictly and name what is wrong") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    TrainState s;
    s.meta = {{"base", "32"}, {"neg", "-7"}, {"lr", "0.0002"}, {"sci", "2e-4"}, {"name", "unet-s"}, {"bad", "abc"},
              {"lead0", "032"}, {"plus", "+5"}, {"space", " 5"}, {"frac", "3.5"}, {"huge", "99999999999999999999"},
              {"inf", "inf"}, {"nan", "nan"}, {"over", "1e999"}, {"hex", "0x10"}, {"empty", ""}};
    save_checkpoint(path, s);
    const Checkpoint ck = read_checkpoint(path);
    const std::string where = "checkpoint " + path + ": ";

    CHECK(ck.has("base"));
    CHECK_FALSE(ck.has("step"));  // reserved keys are not settings
    CHECK_FALSE(ck.has("absent"));
    CHECK(ck.setting("name") == "unet-s");
    CHECK(ck.setting_int("base", 8, 512) == 32);
    CHECK(ck.setting_int("neg", -10, 10) == -7);
    CHECK(ck.setting_double("lr") == 0.0002);
    CHECK(ck.setting_double("sci") == 2e-4);
    CHECK(ck.setting_double("base") == 32.0);

    Outcome o = outcome_of([&] { ck.setting("absent"); });
    CHECK(o.kind == K::Metadata);
    CHECK(o.message == where + "has no setting 'absent'");
    CHECK(error_of([&] { ck.setting_int("absent", 0, 1); }) == where + "has no setting 'absent'");
    CHECK(error_of([&] { ck.setting_int("bad", 8, 512); }) == where + "setting 'bad' = 'abc' is not an integer in [8, 512]");
    CHECK(error_of([&] { ck.setting_int("base", 64, 512); }) == where + "setting 'base' = '32' is not an integer in [64, 512]");
    for (const char* key : {"lead0", "plus", "space", "frac", "huge", "empty"}) {
        INFO("setting_int('" << std::string(key) << "')");
        CHECK(error_of([&] { ck.setting_int(key, INT64_MIN, INT64_MAX); }) ==
              where + "setting '" + key + "' = '" + ck.setting(key) + "' is not an integer in [-9223372036854775808, "
              "9223372036854775807]");
    }
    for (const char* key : {"bad", "inf", "nan", "over", "hex", "plus", "space", "empty"}) {
        INFO("setting_double('" << std::string(key) << "')");
        CHECK(error_of([&] { ck.setting_double(key); }) ==
              where + "setting '" + key + "' = '" + ck.setting(key) + "' is not a finite number");
    }
}
