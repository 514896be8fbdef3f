// IDX reader and writer (layout in core/idx.h), through zlib's gz* functions for both plain and
// gzip-compressed files.
#include "core/idx.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace fw {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string hex_bytes(const uint8_t* b, int n) {
    std::string s;
    char buf[4];
    for (int i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "%s%02x", i ? " " : "", b[i]);
        s += buf;
    }
    return s;
}

// An open gz stream that knows how many (uncompressed) bytes it has read, closed by RAII.
class GzReader {
public:
    explicit GzReader(const std::string& path) : path_(path) {
        file_ = gzopen(path.c_str(), "rb");
        if (!file_) fail(path, ": cannot open IDX file: ", std::strerror(errno ? errno : ENOENT));
    }
    ~GzReader() { gzclose(file_); }
    GzReader(const GzReader&) = delete;
    GzReader& operator=(const GzReader&) = delete;

    // Reads up to n bytes; returns how many were read (fewer only at the end of the stream).
    int64_t read(uint8_t* out, int64_t n) {
        int64_t got = 0;
        while (got < n) {
            const unsigned chunk = (unsigned)std::min<int64_t>(n - got, 1 << 30);
            const int r = gzread(file_, out + got, chunk);
            if (r < 0) {
                int err = 0;
                const char* msg = gzerror(file_, &err);
                fail(path_, ": read error at byte offset ", offset_ + got, " (", msg ? msg : "?",
                     "); a corrupt or truncated .gz file?");
            }
            if (r == 0) break;
            got += r;
        }
        offset_ += got;
        return got;
    }
    int64_t offset() const { return offset_; }

    // Reads exactly n bytes or fails saying where the file ended and what size was expected.
    void read_exact(uint8_t* out, int64_t n, const char* what, int64_t expected_size) {
        const int64_t start = offset_;
        const int64_t got = read(out, n);
        if (got < n)
            fail(path_, ": truncated IDX file: the ", what, " needs bytes ", start, "..", start + n,
                 " but the file ends at byte offset ", start + got, " (expected size ", expected_size,
                 " bytes", ends_with(path_, ".gz") ? ", uncompressed" : "", ")");
    }

private:
    std::string path_;
    gzFile file_ = nullptr;
    int64_t offset_ = 0;
};

uint32_t be32(const uint8_t* b) {
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}
void put_be32(uint8_t* b, uint32_t v) {
    b[0] = (uint8_t)(v >> 24); b[1] = (uint8_t)(v >> 16); b[2] = (uint8_t)(v >> 8); b[3] = (uint8_t)v;
}

// Reads the magic number and the `ndims` dimensions; returns the dimensions.
std::vector<uint32_t> read_header(GzReader& r, const std::string& path, uint32_t magic, int ndims,
                                  const char* kind) {
    const int64_t header_size = 4 + 4 * (int64_t)ndims;
    uint8_t b[16];
    r.read_exact(b, 4, "magic number", header_size);
    if (be32(b) != magic) {
        uint8_t want[4];
        put_be32(want, magic);
        fail(path, ": not an IDX ", kind, " file: magic number at byte offset 0 is ", hex_bytes(b, 4),
             ", expected ", hex_bytes(want, 4), " (", kind == std::string("images") ? "idx3-ubyte" : "idx1-ubyte",
             ")");
    }
    r.read_exact(b, 4 * ndims, "header (dimensions)", header_size);
    std::vector<uint32_t> dims((size_t)ndims);
    for (int i = 0; i < ndims; ++i) dims[(size_t)i] = be32(b + 4 * i);
    return dims;
}

// After the data: the stream must end here.
void check_no_trailing(GzReader& r, const std::string& path, int64_t expected_size) {
    uint8_t extra[4096];
    const int64_t n = r.read(extra, sizeof extra);
    if (n > 0)
        fail(path, ": IDX file has trailing bytes: the header implies ", expected_size,
             " bytes but there is more data at byte offset ", expected_size);
}

// Atomic write of an already encoded IDX byte string, gzip-compressed if the path ends in .gz.
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
    const std::string tmp = path + ".tmp." + std::to_string((long)::getpid());
    const bool gz = ends_with(path, ".gz");
    gzFile f = gzopen(tmp.c_str(), gz ? "wb" : "wbT");  // "T": transparent (no compression)
    if (!f) fail(path, ": cannot write IDX file (creating '", tmp, "'): ", std::strerror(errno ? errno : EIO));
    int64_t done = 0;
    bool ok = true;
    while (ok && done < (int64_t)bytes.size()) {
        const unsigned chunk = (unsigned)std::min<int64_t>((int64_t)bytes.size() - done, 1 << 30);
        const int w = gzwrite(f, bytes.data() + done, chunk);
        ok = w > 0;
        done += w > 0 ? w : 0;
    }
    ok = (gzclose(f) == Z_OK) && ok;
    if (ok) {  // make the bytes durable before the rename makes them visible
        const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
        ok = fd >= 0 && ::fsync(fd) == 0;
        if (fd >= 0) ::close(fd);
    }
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail(path, ": cannot write IDX file (via '", tmp, "'): ", std::strerror(err ? err : EIO));
    }
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
    GzReader r(path);
    const std::vector<uint32_t> d = read_header(r, path, kIdxImagesMagic, 3, "images");
    IdxImages im;
    im.n = d[0];
    if (d[1] == 0 || d[2] == 0 || d[1] > 65535 || d[2] > 65535)
        fail(path, ": IDX images header has an implausible image size ", d[1], " x ", d[2]);
    im.rows = (int)d[1];
    im.cols = (int)d[2];
    const int64_t data = im.n * im.rows * im.cols, expected = 16 + data;
    if (data > (int64_t)1 << 34) fail(path, ": IDX images header implies ", data, " pixel bytes; refusing (> 16 GiB)");
    im.pixels.resize((size_t)data);
    r.read_exact(im.pixels.data(), data, "pixel data", expected);
    check_no_trailing(r, path, expected);
    return im;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
    GzReader r(path);
    const std::vector<uint32_t> d = read_header(r, path, kIdxLabelsMagic, 1, "labels");
    const int64_t n = d[0], expected = 8 + n;
    std::vector<uint8_t> labels((size_t)n);
    r.read_exact(labels.data(), n, "label data", expected);
    check_no_trailing(r, path, expected);
    return labels;
}

void check_idx_counts(const std::string& images_path, int64_t n_images, const std::string& labels_path,
                      int64_t n_labels) {
    if (n_images != n_labels)
        fail("IDX count mismatch: ", images_path, " has ", n_images, " images but ", labels_path, " has ", n_labels,
             " labels");
}

void write_idx_images(const std::string& path, int64_t n, int rows, int cols, const uint8_t* pixels) {
    if (n < 0 || n > 0xffffffffLL || rows <= 0 || cols <= 0)
        fail(path, ": write_idx_images: bad size n = ", n, ", rows = ", rows, ", cols = ", cols);
    const int64_t data = n * rows * cols;
    std::vector<uint8_t> bytes((size_t)(16 + data));
    put_be32(&bytes[0], kIdxImagesMagic);
    put_be32(&bytes[4], (uint32_t)n);
    put_be32(&bytes[8], (uint32_t)rows);
    put_be32(&bytes[12], (uint32_t)cols);
    if (data) std::memcpy(&bytes[16], pixels, (size_t)data);
    write_file_atomic(path, bytes);
}

void write_idx_labels(const std::string& path, int64_t n, const uint8_t* labels) {
    if (n < 0 || n > 0xffffffffLL) fail(path, ": write_idx_labels: bad count n = ", n);
    std::vector<uint8_t> bytes((size_t)(8 + n));
    put_be32(&bytes[0], kIdxLabelsMagic);
    put_be32(&bytes[4], (uint32_t)n);
    if (n) std::memcpy(&bytes[8], labels, (size_t)n);
    write_file_atomic(path, bytes);
}

}  // namespace fw
