// Training checkpoints: layout in nn/checkpoint.h.
#include "nn/checkpoint.h"

#include <cstring>
#include <set>
#include <unordered_map>

#include "core/error.h"

namespace fw {

static const char* kFormat = "fw-train-state";
static const char* kReservedKeys[] = {"format", "format_version", "step", "rng_seed", "rng_offset"};

static bool is_reserved(const std::string& key) {
    for (const char* k : kReservedKeys)
        if (key == k) return true;
    return false;
}

static void add_prefixed(NamedTensors& out, const NamedTensors& in, const std::string& prefix) {
    for (const auto& [name, t] : in) out.emplace_back(prefix + name, t);
}

void save_checkpoint(const std::string& path, const TrainState& s) {
    if (s.step < 0) fail("save_checkpoint ", path, ": step ", s.step, " is negative");
    std::map<std::string, std::string> meta;
    for (const auto& [k, v] : s.meta) {
        if (is_reserved(k)) fail("save_checkpoint ", path, ": meta key '", k, "' is reserved for the checkpoint itself");
        meta[k] = v;
    }
    meta["format"] = kFormat;
    meta["format_version"] = std::to_string(kCheckpointFormatVersion);
    meta["step"] = std::to_string(s.step);
    meta["rng_seed"] = std::to_string(s.rng_seed);
    meta["rng_offset"] = std::to_string(s.rng_offset);

    NamedTensors all;
    add_prefixed(all, s.model, "model.");
    add_prefixed(all, s.ema, "ema.");
    add_prefixed(all, s.optim, "optim.");
    save_safetensors(path, all, meta);
}

// ---------------------------------------------------------------------------------------------
// read

// A decimal string -> u64: digits only, no sign, no spaces, no overflow.
static uint64_t parse_u64(const Checkpoint& ck, const std::map<std::string, std::string>& meta, const char* key) {
    auto it = meta.find(key);
    if (it == meta.end()) fail("checkpoint ", ck.path, ": __metadata__ has no '", key, "'");
    const std::string& s = it->second;
    uint64_t v = 0;
    bool ok = !s.empty() && s.size() <= 20;
    for (char c : s) {
        if (!ok) break;
        uint64_t d = (uint64_t)(c - '0');
        ok = c >= '0' && c <= '9' && v <= (UINT64_MAX - d) / 10;
        v = v * 10 + d;
    }
    if (!ok) fail("checkpoint ", ck.path, ": __metadata__ '", key, "' = '", s, "' is not a decimal integer in [0, 2^64)");
    return v;
}

Checkpoint read_checkpoint(const std::string& path) {
    SafeTensors file = load_safetensors(path);
    Checkpoint ck;
    ck.path = path;
    auto format = file.metadata.find("format");
    if (format == file.metadata.end() || format->second != kFormat)
        fail("checkpoint ", path, ": not a training checkpoint (its __metadata__ has no \"format\": \"", kFormat, "\")");
    uint64_t version = parse_u64(ck, file.metadata, "format_version");
    if (version != (uint64_t)kCheckpointFormatVersion)
        fail("checkpoint ", path, ": format_version ", version, "; this build reads version ", kCheckpointFormatVersion);
    uint64_t step = parse_u64(ck, file.metadata, "step");
    if (step > (uint64_t)INT64_MAX) fail("checkpoint ", path, ": step ", step, " does not fit in int64");
    ck.step = (int64_t)step;
    ck.rng_seed = parse_u64(ck, file.metadata, "rng_seed");
    ck.rng_offset = parse_u64(ck, file.metadata, "rng_offset");
    for (const auto& [k, v] : file.metadata)
        if (!is_reserved(k)) ck.meta[k] = v;
    ck.tensors = std::move(file.tensors);
    return ck;
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
