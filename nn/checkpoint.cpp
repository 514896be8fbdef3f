// Training checkpoints: layout in nn/checkpoint.h.
#include "nn/checkpoint.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <unordered_map>

#include <zlib.h>

#include "core/error.h"

namespace fw {

using Kind = SafeTensorsError::Kind;

static const char* kFormat = "fw-train-state";
static const char* kReservedKeys[] = {"format", "format_version", "step", "rng_seed", "rng_offset"};
static const std::string kCrcPrefix = "crc32.";  // "crc32.<tensor name>": see checkpoint.h

static bool is_reserved(const std::string& key) {
    for (const char* k : kReservedKeys)
        if (key == k) return true;
    return key.compare(0, kCrcPrefix.size(), kCrcPrefix) == 0;
}

// ---------------------------------------------------------------------------------------------
// what we check on every tensor: finite values and a CRC-32 of the bytes

// The CRC-32 of a host tensor's bytes, as 8 lowercase hex digits.
static std::string crc32_hex(const Tensor& host) {
    uLong crc = crc32_z(0L, Z_NULL, 0);
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(host.data()), (size_t)host.numel() * sizeof(float));
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08lx", (unsigned long)crc);
    return buf;
}

// The first NaN or Inf of a host tensor, described: "NaN at index 17 ([0, 0, 1, 2])"; "" if none.
static std::string first_non_finite(const Tensor& host) {
    const float* x = host.data();
    for (int64_t i = 0; i < host.numel(); ++i) {
        if (std::isfinite(x[i])) continue;
        std::string what = std::isnan(x[i]) ? "NaN" : x[i] > 0 ? "Inf" : "-Inf";
        what += " at index " + std::to_string(i);
        if (host.dim() > 1) {  // the multi-index, row-major: the last axis varies fastest
            Shape index(host.dim());
            int64_t rest = i;
            for (int a = host.dim() - 1; a >= 0; --a) {
                index[a] = rest % host.size(a);
                rest /= host.size(a);
            }
            what += " (" + to_string(index) + ")";
        }
        return what;
    }
    return "";
}

// ---------------------------------------------------------------------------------------------
// save

void save_checkpoint(const std::string& path, const TrainState& s) {
    const std::string where = "save_checkpoint " + path;
    if (s.step < 0) fail(where, ": step ", s.step, " is negative");
    std::map<std::string, std::string> meta;
    for (const auto& [k, v] : s.meta) {
        if (is_reserved(k)) fail(where, ": meta key '", k, "' is reserved for the checkpoint itself");
        meta[k] = v;
    }
    meta["format"] = kFormat;
    meta["format_version"] = std::to_string(kCheckpointFormatVersion);
    meta["step"] = std::to_string(s.step);
    meta["rng_seed"] = std::to_string(s.rng_seed);
    meta["rng_offset"] = std::to_string(s.rng_offset);

    // Host copies (a CUDA tensor is copied once, here; save_safetensors then takes them as they
    // are), checked and checksummed before anything is written.
    NamedTensors all;
    auto add = [&](const NamedTensors& group, const std::string& prefix) {
        for (const auto& [name, t] : group) {
            const std::string full = prefix + name;
            if (!t.defined()) fail(where, ": tensor '", full, "' is undefined");
            Tensor host = t.to(Device::CPU);
            std::string bad = first_non_finite(host);
            if (!bad.empty())
                refuse(Kind::NonFinite, where, ": tensor '", full, "' holds ", bad,
                       "; refusing to write a checkpoint with non-finite values");
            meta[kCrcPrefix + full] = crc32_hex(host);
            all.emplace_back(full, host);
        }
    };
    add(s.model, "model.");
    add(s.ema, "ema.");
    add(s.optim, "optim.");
    save_safetensors(path, all, meta);
}

// ---------------------------------------------------------------------------------------------
// read

// A decimal string -> u64: digits only, no sign, no spaces, no overflow.
static uint64_t parse_u64(const Checkpoint& ck, const std::map<std::string, std::string>& meta, const char* key) {
    auto it = meta.find(key);
    if (it == meta.end()) refuse(Kind::Metadata, "checkpoint ", ck.path, ": __metadata__ has no '", key, "'");
    const std::string& s = it->second;
    uint64_t v = 0;
    bool ok = !s.empty() && s.size() <= 20;
    for (char c : s) {
        if (!ok) break;
        uint64_t d = (uint64_t)(c - '0');
        ok = c >= '0' && c <= '9' && v <= (UINT64_MAX - d) / 10;
        v = v * 10 + d;
    }
    if (!ok)
        refuse(Kind::Metadata, "checkpoint ", ck.path, ": __metadata__ '", key, "' = '", s,
               "' is not a decimal integer in [0, 2^64)");
    return v;
}

// Version 2: every tensor has a crc32 key that matches its bytes, and every crc32 key a tensor.
static void verify_checksums(const Checkpoint& ck, const std::map<std::string, std::string>& meta) {
    const std::string where = "checkpoint " + ck.path + ": ";
    std::map<std::string, std::string> stored;  // tensor name -> hex
    for (const auto& [k, v] : meta)
        if (k.compare(0, kCrcPrefix.size(), kCrcPrefix) == 0) stored[k.substr(kCrcPrefix.size())] = v;
    for (const auto& [name, t] : ck.tensors) {
        auto it = stored.find(name);
        if (it == stored.end())
            refuse(Kind::Checksum, where, "tensor '", name, "' has no CRC-32 ('", kCrcPrefix, name,
                   "' in __metadata__), which a version 2 checkpoint holds for every tensor");
        std::string computed = crc32_hex(t);
        if (it->second != computed)
            refuse(Kind::Checksum, where, "tensor '", name, "' fails its CRC-32 check (stored ", it->second,
                   ", computed ", computed, "): the file is corrupt");
        stored.erase(it);
    }
    if (!stored.empty())
        refuse(Kind::Metadata, where, "__metadata__ holds a CRC-32 for tensor '", stored.begin()->first,
               "', which the file does not hold");
}

Checkpoint read_checkpoint(const std::string& path) {
    SafeTensors file = load_safetensors(path);
    Checkpoint ck;
    ck.path = path;
    auto format = file.metadata.find("format");
    if (format == file.metadata.end() || format->second != kFormat)
        refuse(Kind::Metadata, "checkpoint ", path, ": not a training checkpoint (its __metadata__ has no \"format\": \"",
               kFormat, "\")");
    uint64_t version = parse_u64(ck, file.metadata, "format_version");
    if (version < 1 || version > (uint64_t)kCheckpointFormatVersion)
        refuse(Kind::Metadata, "checkpoint ", path, ": format_version ", version, "; this build reads versions 1 to ",
               kCheckpointFormatVersion);
    uint64_t step = parse_u64(ck, file.metadata, "step");
    if (step > (uint64_t)INT64_MAX) refuse(Kind::Metadata, "checkpoint ", path, ": step ", step, " does not fit in int64");
    ck.step = (int64_t)step;
    ck.rng_seed = parse_u64(ck, file.metadata, "rng_seed");
    ck.rng_offset = parse_u64(ck, file.metadata, "rng_offset");
    for (const auto& [k, v] : file.metadata)
        if (!is_reserved(k)) ck.meta[k] = v;
    ck.tensors = std::move(file.tensors);

    // The checksum first: a flipped bit that made an Inf is corruption, not a diverged run.
    if (version >= 2) verify_checksums(ck, file.metadata);
    for (const auto& [name, t] : ck.tensors) {
        std::string bad = first_non_finite(t);
        if (!bad.empty())
            refuse(Kind::NonFinite, "checkpoint ", path, ": tensor '", name, "' holds ", bad,
                   "; refusing to load a checkpoint with non-finite values");
    }
    return ck;
}

// ---------------------------------------------------------------------------------------------
// typed settings

bool Checkpoint::has(const std::string& key) const { return meta.count(key) != 0; }

const std::string& Checkpoint::setting(const std::string& key) const {
    auto it = meta.find(key);
    if (it == meta.end()) refuse(Kind::Metadata, "checkpoint ", path, ": has no setting '", key, "'");
    return it->second;
}

// Strict decimal: -?(0|[1-9][0-9]*), what std::to_string writes; no '+', spaces or leading zeros.
int64_t Checkpoint::setting_int(const std::string& key, int64_t min, int64_t max) const {
    const std::string& s = setting(key);
    size_t digits = !s.empty() && s[0] == '-' ? 1 : 0;
    bool ok = s.size() > digits && (s[digits] != '0' || s.size() == digits + 1);
    for (size_t i = digits; ok && i < s.size(); ++i) ok = s[i] >= '0' && s[i] <= '9';
    int64_t v = 0;
    if (ok) {
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);  // fails on overflow
        ok = ec == std::errc() && end == s.data() + s.size() && v >= min && v <= max;
    }
    if (!ok)
        refuse(Kind::Metadata, "checkpoint ", path, ": setting '", key, "' = '", s, "' is not an integer in [", min,
               ", ", max, "]");
    return v;
}

// Strict: the whole string is one decimal number as std::from_chars reads it (no spaces, no '+',
// no hex), and finite ("inf", "nan" and overflows are refused).
double Checkpoint::setting_double(const std::string& key) const {
    const std::string& s = setting(key);
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
        refuse(Kind::Metadata, "checkpoint ", path, ": setting '", key, "' = '", s, "' is not a finite number");
    return v;
}

// ---------------------------------------------------------------------------------------------
// load: check everything, then copy

namespace {

struct Copy {
    Tensor dst, src;
};

// Matches dest "<name>" against src "<prefix><name>". Appends the copies to make to `copies` and
// one line per problem to `problems`.
void match(const NamedTensors& dest, const Checkpoint& src, const std::string& prefix, const std::string& dest_what,
           std::vector<Copy>& copies, std::vector<std::string>& problems) {
    const std::string where = "checkpoint " + src.path + ": ";
    std::unordered_map<std::string, const Tensor*> in_file;
    for (const auto& [name, t] : src.tensors)
        if (name.compare(0, prefix.size(), prefix) == 0) in_file[name] = &t;

    std::set<std::string> wanted;
    std::vector<std::string> missing;
    for (const auto& [name, t] : dest) {
        const std::string full = prefix + name;
        if (!wanted.insert(full).second) fail(where, dest_what, " has two tensors named '", name, "'");
        if (!t.defined()) fail(where, dest_what, " has an undefined tensor '", name, "'");
        auto it = in_file.find(full);
        if (it == in_file.end()) {
            missing.push_back(full);
            continue;
        }
        const Tensor& s = *it->second;
        if (s.shape() != t.shape()) {
            problems.push_back(where + "tensor '" + full + "' has shape " + to_string(s.shape()) + " but " + dest_what +
                               " expects " + to_string(t.shape()));
            continue;
        }
        copies.push_back({t, s});
    }
    auto list = [](const std::vector<std::string>& names) {
        std::string out;
        for (size_t i = 0; i < names.size(); ++i) out += (i ? ", '" : "'") + names[i] + "'";
        return out;
    };
    if (!missing.empty())
        problems.push_back(where + std::to_string(missing.size()) + " tensor" + (missing.size() > 1 ? "s" : "") + " that " +
                           dest_what + " expects " + (missing.size() > 1 ? "are" : "is") + " missing: " + list(missing));
    std::vector<std::string> extra;
    for (const auto& nt : src.tensors)
        if (in_file.count(nt.first) && !wanted.count(nt.first)) extra.push_back(nt.first);
    if (!extra.empty())
        problems.push_back(where + std::to_string(extra.size()) + " unexpected tensor" + (extra.size() > 1 ? "s" : "") +
                           " that " + dest_what + " does not have: " + list(extra));
}

[[noreturn]] void fail_with(const std::vector<std::string>& problems) {
    std::string msg;
    for (size_t i = 0; i < problems.size(); ++i) msg += (i ? "\n" : "") + problems[i];
    fail(msg);
}

// Into the existing storage: whoever holds `dst` (an optimizer, a module) sees the new values.
void copy_all(const std::vector<Copy>& copies) {
    for (Copy c : copies) copy_into(c.dst, c.src);  // host file -> host or device tensor
}

}  // namespace

void load_into(const NamedTensors& dest, const Checkpoint& src, const std::string& prefix, const std::string& dest_what) {
    std::vector<Copy> copies;
    std::vector<std::string> problems;
    match(dest, src, prefix, dest_what, copies, problems);
    if (!problems.empty()) fail_with(problems);
    copy_all(copies);
}

void load_checkpoint(const std::string& path, TrainState& into) {
    Checkpoint ck = read_checkpoint(path);
    std::vector<Copy> copies;
    std::vector<std::string> problems;
    match(into.model, ck, "model.", "the model", copies, problems);
    match(into.ema, ck, "ema.", "the EMA model", copies, problems);
    match(into.optim, ck, "optim.", "the optimizer", copies, problems);
    std::vector<std::string> stray;
    for (const auto& nt : ck.tensors) {
        const std::string& n = nt.first;
        bool known_prefix = n.rfind("model.", 0) == 0 || n.rfind("ema.", 0) == 0 || n.rfind("optim.", 0) == 0;
        if (!known_prefix) stray.push_back("'" + n + "'");
    }
    if (!stray.empty()) {
        std::string names;
        for (size_t i = 0; i < stray.size(); ++i) names += (i ? ", " : "") + stray[i];
        problems.push_back("checkpoint " + path + ": tensors outside model./ema./optim.: " + names);
    }
    if (!problems.empty()) fail_with(problems);
    copy_all(copies);
    into.step = ck.step;
    into.rng_seed = ck.rng_seed;
    into.rng_offset = ck.rng_offset;
    into.meta = ck.meta;
}

}  // namespace fw
