// safetensors: encode/decode (layout in nn/safetensors.h) and the atomic file write.
#include "nn/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include <fcntl.h>
#include <unistd.h>

#include "core/error.h"
#include "nn/safetensors_header.h"

namespace fw {

// The data section is little-endian; we copy floats as they lie in memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");
static_assert(sizeof(float) == 4, "F32 is 4 bytes");

// The reference implementation refuses headers above 100 MB; so do we (and a corrupt length
// then cannot make us parse gigabytes).
static constexpr uint64_t kMaxHeaderBytes = 100000000;

// Every dtype of the safetensors spec; all but F32 are recognised only to be refused by name.
static bool is_known_dtype(const std::string& d) {
    static const std::set<std::string> known = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                                "BF16", "I32", "U32", "F32",     "F64",     "I64", "U64"};
    return known.count(d) != 0;
}

using Kind = SafeTensorsError::Kind;

const char* to_string(Kind kind) {
    switch (kind) {
        case Kind::Io: return "Io";
        case Kind::Truncated: return "Truncated";
        case Kind::HeaderSize: return "HeaderSize";
        case Kind::Json: return "Json";
        case Kind::Schema: return "Schema";
        case Kind::Dtype: return "Dtype";
        case Kind::Shape: return "Shape";
        case Kind::Offsets: return "Offsets";
        case Kind::Overlap: return "Overlap";
        case Kind::Gap: return "Gap";
        case Kind::Metadata: return "Metadata";
        case Kind::Checksum: return "Checksum";
        case Kind::NonFinite: return "NonFinite";
    }
    return "?";
}

// ---------------------------------------------------------------------------------------------
// encode

// UTF-8 is checked by format_safetensors_header.
static void check_writable(const NamedTensors& tensors) {
    std::set<std::string> names;
    for (const auto& [name, t] : tensors) {
        if (name.empty()) fail("save_safetensors: a tensor has an empty name");
        if (name == "__metadata__") fail("save_safetensors: '__metadata__' is reserved and cannot name a tensor");
        if (!names.insert(name).second) fail("save_safetensors: two tensors are named '", name, "'");
        if (!t.defined()) fail("save_safetensors: tensor '", name, "' is undefined");
    }
}

std::string encode_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
    check_writable(tensors);

    // header: {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...}
    SafeTensorsHeader header;
    header.metadata = metadata;
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        uint64_t bytes = (uint64_t)t.numel() * 4;
        header.entries.push_back({name, "F32", std::vector<uint64_t>(t.shape().begin(), t.shape().end()), offset,
                                  offset + bytes});
        offset += bytes;
    }
    std::string h = format_safetensors_header(header);
    h.append((8 - h.size() % 8) % 8, ' ');  // the data section starts at a multiple of 8

    std::string out;
    out.reserve(8 + h.size() + offset);
    for (int i = 0; i < 8; ++i) out += (char)(((uint64_t)h.size() >> (8 * i)) & 0xFF);  // u64 LE
    out += h;
    for (const auto& nt : tensors) {
        const Tensor host = nt.second.to(Device::CPU);  // a CUDA tensor is copied to the host first
        out.append(reinterpret_cast<const char*>(host.data()), (size_t)host.numel() * 4);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// decode: every check before any allocation sized by the file

// numel * 4 of a shape read from a file, or false if it overflows 64 bits / an int64 dimension.
static bool shape_bytes(const std::vector<uint64_t>& shape, uint64_t& bytes) {
    uint64_t n = 1;
    for (uint64_t d : shape) {
        if (d > (uint64_t)INT64_MAX) return false;
        if (__builtin_mul_overflow(n, d, &n)) return false;
    }
    return !__builtin_mul_overflow(n, (uint64_t)4, &bytes) && n <= (uint64_t)INT64_MAX;
}

static std::string shape_string(const std::vector<uint64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

static std::string offsets_string(const SafeTensorsEntry& e) {
    return "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
}

SafeTensors decode_safetensors(const std::string& bytes, const std::string& source) {
    const uint64_t size = bytes.size();
    if (size < 8)
        refuse(Kind::Truncated, source, ": file is ", size,
               " bytes, too short for safetensors: expected at least 8 bytes (the u64 header length)");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | (unsigned char)bytes[i];
    if (n > size - 8)
        refuse(Kind::Truncated, source, ": header length ", n, " is larger than the ", size - 8,
               " bytes that follow it (file size ", size, ")");
    if (n > kMaxHeaderBytes)
        refuse(Kind::HeaderSize, source, ": header length ", n, " is above the limit of ", kMaxHeaderBytes, " bytes");

    SafeTensorsHeader h = parse_safetensors_header(bytes.substr(8, n), source);
    const uint64_t data_start = 8 + n, data_size = size - data_start;

    for (const SafeTensorsEntry& e : h.entries) {
        const std::string what = source + ": tensor '" + e.name + "'";
        if (e.dtype != "F32") {
            if (is_known_dtype(e.dtype)) refuse(Kind::Dtype, what, " has dtype ", e.dtype, "; only F32 is supported");
            refuse(Kind::Dtype, what, " has unknown dtype ", json_quote(e.dtype));
        }
        if (e.begin > e.end) refuse(Kind::Offsets, what, ": data_offsets ", offsets_string(e), " end before they begin");
        if (e.end > data_size)  // the file ends before this tensor does
            refuse(Kind::Truncated, what, ": data_offsets ", offsets_string(e), " reach past the data section (",
                   data_size, " bytes)");
        uint64_t want = 0;
        if (!shape_bytes(e.shape, want)) refuse(Kind::Shape, what, " has shape ", shape_string(e.shape), ", too large");
        if (want != e.end - e.begin)
            refuse(Kind::Shape, what, " has shape ", shape_string(e.shape), " (", want / 4, " elements, ", want,
                   " bytes as F32) but data_offsets ", offsets_string(e), " span ", e.end - e.begin, " bytes");
    }

    // The tensors must tile [0, data_size): sorted by (begin, end), each starts where the last ended.
    std::vector<const SafeTensorsEntry*> order;
    for (const SafeTensorsEntry& e : h.entries) order.push_back(&e);
    std::stable_sort(order.begin(), order.end(), [](const SafeTensorsEntry* a, const SafeTensorsEntry* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t covered = 0;
    const SafeTensorsEntry* prev = nullptr;
    for (const SafeTensorsEntry* e : order) {
        if (e->begin < covered)
            refuse(Kind::Overlap, source, ": tensors '", prev->name, "' ", offsets_string(*prev), " and '", e->name,
                   "' ", offsets_string(*e), " overlap");
        if (e->begin > covered)
            refuse(Kind::Gap, source, ": bytes [", covered, ", ", e->begin, ") of the data section before tensor '",
                   e->name, "' belong to no tensor");
        covered = e->end;
        prev = e;
    }
    if (covered != data_size)
        refuse(Kind::Gap, source, ": the data section holds ", data_size, " bytes but the tensors cover only ", covered);

    SafeTensors out;
    out.metadata = std::move(h.metadata);
    for (const SafeTensorsEntry* e : order) {
        Shape shape(e->shape.begin(), e->shape.end());
        Tensor t = Tensor::empty(shape);
        if (e->end > e->begin) std::memcpy(t.data(), bytes.data() + data_start + e->begin, e->end - e->begin);
        out.tensors.emplace_back(e->name, t);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// files

SafeTensors load_safetensors(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) refuse(Kind::Io, path, ": cannot open for reading: ", std::strerror(errno));
    std::string bytes;
    char buf[1 << 16];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, got);
    bool failed = std::ferror(f);
    int err = errno;
    std::fclose(f);
    if (failed) refuse(Kind::Io, path, ": read error: ", std::strerror(err));
    return decode_safetensors(bytes, path);
}

// Removes the temp file unless told the rename has happened.
namespace {
struct TempFile {
    std::string path;
    bool renamed = false;
    ~TempFile() {
        if (!renamed) ::unlink(path.c_str());
    }
};
}  // namespace

// Atomic replace: temp file in the same folder (rename is atomic only within one file system),
// written with plain write(2) (no stdio buffer, so nothing to fflush), fsync'ed so its bytes are
// on disk BEFORE the rename makes it visible under `path`. Two threads of one process saving the
// same path at once would share the temp name; the trainer saves from one thread.
static void write_file_atomic(const std::string& path, const std::string& bytes) {
    TempFile tmp{path + ".tmp." + std::to_string((long)::getpid())};
    auto io_fail = [&](const char* step, int err) {
        refuse(Kind::Io, path, ": cannot write checkpoint (", step, " '", tmp.path, "'): ", std::strerror(err));
    };
    int fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        tmp.renamed = true;  // nothing was created; do not unlink a file that may be someone else's
        io_fail("creating", err);
    }
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int err = errno;
            ::close(fd);
            io_fail("writing", err);
        }
        done += (size_t)w;
    }
    if (::fsync(fd) != 0) {
        int err = errno;
        ::close(fd);
        io_fail("fsync of", err);
    }
    if (::close(fd) != 0) io_fail("closing", errno);
    if (::rename(tmp.path.c_str(), path.c_str()) != 0) io_fail("renaming over it", errno);
    tmp.renamed = true;

    // Make the rename itself durable: fsync the folder. Best effort: the new file is already in
    // place and complete, so a failure here does not make the checkpoint torn.
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
    std::string bytes;
    try {
        bytes = encode_safetensors(tensors, metadata);
    } catch (const Error& e) {
        fail(path, ": ", e.what());
    }
    write_file_atomic(path, bytes);
}

}  // namespace fw
