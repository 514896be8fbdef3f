// IDX reader and writer (layout in core/idx.h), through zlib's gz* functions for both plain and
// gzip-compressed files.
//
// Reading never trusts the header for an allocation: before the data buffer is allocated, the size
// the header claims (header + product of the dimensions, checked for overflow) is compared with
// what the file can hold (check_claimed_size below), so a header that claims 20 million images
// fails with a message naming the file and both sizes, not with std::bad_alloc.
#include "core/idx.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <sstream>

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

    // After a read came up short: " (zlib: unexpected end of file: ...)" if the gzip data itself
    // was cut off (zlib lets gzread return the bytes before the cut), else "".
    std::string cut_short_note() const {
        int err = 0;
        const char* msg = gzerror(file_, &err);
        if (err != Z_BUF_ERROR) return "";
        return std::string(" (zlib: ") + (msg ? msg : "?") + ": the compressed file is cut short)";
    }

    // Reads exactly n bytes or fails saying where the file ended and what size was expected.
    void read_exact(uint8_t* out, int64_t n, const char* what, int64_t expected_size) {
        const int64_t start = offset_;
        const int64_t got = read(out, n);
        if (got < n)
            fail(path_, ": truncated IDX file: the ", what, " needs bytes ", start, "..", start + n,
                 " but the file ends at byte offset ", start + got, " (expected size ", expected_size,
                 " bytes", ends_with(path_, ".gz") ? ", uncompressed" : "", ")", cut_short_note());
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

const char* kind_of(uint32_t magic) { return magic == kIdxImagesMagic ? "images" : "labels"; }
int ndims_of(uint32_t magic) { return (int)(magic & 0xff); }

// Reads the magic number and the dimensions (as many as the magic's last byte says).
std::vector<uint32_t> read_header(GzReader& r, const std::string& path, uint32_t magic) {
    const int ndims = ndims_of(magic);
    const int64_t header_size = 4 + 4 * (int64_t)ndims;
    uint8_t b[16];
    r.read_exact(b, 4, "magic number", header_size);
    if (be32(b) != magic) {
        uint8_t want[4];
        put_be32(want, magic);
        fail(path, ": not an IDX ", kind_of(magic), " file: magic number at byte offset 0 is ", hex_bytes(b, 4),
             ", expected ", hex_bytes(want, 4), " (", magic == kIdxImagesMagic ? "idx3-ubyte" : "idx1-ubyte", ")");
    }
    r.read_exact(b, 4 * ndims, "header (dimensions)", header_size);
    std::vector<uint32_t> dims((size_t)ndims);
    for (int i = 0; i < ndims; ++i) dims[(size_t)i] = be32(b + 4 * i);
    return dims;
}

// What the header claims, in words and bytes: "3 images of 2 x 4 pixels", 16 + 24 bytes.
struct Claim {
    std::string what;
    int64_t header_bytes = 0, data_bytes = 0;
    int64_t total() const { return header_bytes + data_bytes; }
};

// data bytes = the product of the dimensions (one byte per element: type 0x08 = ubyte). Each
// dimension is a u32, so three can overflow int64 (2^32 * 2^16 * 2^16 = 2^64): checked.
Claim claim_of(const std::string& path, uint32_t magic, const std::vector<uint32_t>& dims) {
    Claim c;
    c.header_bytes = 4 + 4 * (int64_t)dims.size();
    std::ostringstream os;
    os << dims[0] << " " << kind_of(magic);
    for (size_t i = 1; i < dims.size(); ++i) os << (i == 1 ? " of " : " x ") << dims[i];
    if (dims.size() > 1) os << " pixels";
    c.what = os.str();
    int64_t bytes = 1;
    for (uint32_t d : dims)
        if (__builtin_mul_overflow(bytes, (int64_t)d, &bytes))
            fail(path, ": IDX ", kind_of(magic), " header claims ", c.what,
                 ": more than 2^63 bytes of data; refused before allocating");
    c.data_bytes = bytes;
    return c;
}

// The file as it lies on disk: its size and, if it is gzip (magic 1f 8b, whatever its name),
// the trailer's ISIZE: the uncompressed size of the LAST gzip member, mod 2^32 (RFC 1952).
struct OnDisk {
    int64_t size = 0;
    bool gz = false;
    uint32_t isize = 0;
};

OnDisk on_disk(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, ": cannot open IDX file: ", std::strerror(errno));
    struct stat st;
    const bool ok = ::fstat(fd, &st) == 0;
    const int err = errno;
    OnDisk d;
    uint8_t magic[2] = {0, 0}, trailer[4] = {0, 0, 0, 0};
    if (ok && S_ISREG(st.st_mode)) {
        d.size = (int64_t)st.st_size;
        d.gz = ::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        if (d.gz && d.size >= 4 && ::pread(fd, trailer, 4, d.size - 4) == 4)
            d.isize = (uint32_t)trailer[0] | ((uint32_t)trailer[1] << 8) | ((uint32_t)trailer[2] << 16) |
                      ((uint32_t)trailer[3] << 24);  // little-endian, unlike IDX
    }
    ::close(fd);
    if (!ok) fail(path, ": cannot stat IDX file: ", std::strerror(err));
    if (!S_ISREG(st.st_mode))
        fail(path, ": not a regular file", S_ISDIR(st.st_mode) ? " (a directory)" : "",
             "; an IDX file's size is checked against its header before it is read");
    return d;
}

// The uncompressed size of a gzip file, counted by decompressing it into a small buffer; `note`
// says if the compressed data was cut short.
int64_t count_uncompressed(const std::string& path, std::string& note) {
    GzReader r(path);
    std::vector<uint8_t> buf(1 << 16);
    while (r.read(buf.data(), (int64_t)buf.size()) > 0) {
    }
    note = r.cut_short_note();
    return r.offset();
}

// Before allocating: the size the header claims must be the size of the data that is there.
//   plain file: the file's size, exactly (IDX has no trailer: shorter is truncated, longer has
//     trailing bytes; both are refused, as the read after the data would also refuse them).
//   gzip: deflate expands at most 1032:1, so a claim above 1032 x the compressed size is refused
//     at once. Otherwise, if the trailer's ISIZE equals the claim mod 2^32, the claim is taken
//     (exact for one member under 4 GiB; the read still checks that every claimed byte arrives
//     and no more). If it differs (a lying header, a truncated file, or several concatenated
//     gzip members, whose ISIZE counts only the last), the stream is decompressed once into a
//     64 KiB buffer to count its bytes, and the claim must equal that count.
void check_claimed_size(const std::string& path, const OnDisk& d, const Claim& c) {
    int64_t found = d.size;
    std::string note;
    if (d.gz) {
        const int64_t kMaxDeflateRatio = 1032;
        if (c.total() / kMaxDeflateRatio > d.size)
            fail(path, ": IDX header claims ", c.what, " = ", c.data_bytes, " bytes of data (", c.total(),
                 " bytes with the header, uncompressed), but a gzip file of ", d.size,
                 " bytes holds at most ", d.size * kMaxDeflateRatio,
                 " (deflate expands at most 1032:1); refused before allocating");
        if ((uint32_t)c.total() == d.isize) return;
        found = count_uncompressed(path, note);
    }
    const std::string expected = std::to_string(c.total()) + " bytes" + (d.gz ? " uncompressed" : "") + ", with the " +
                                 std::to_string(c.header_bytes) + "-byte header";
    const char* stream = d.gz ? "the gzip stream (uncompressed)" : "the file";
    if (found < c.total())
        fail(path, ": truncated IDX file: the header claims ", c.what, " = ", c.data_bytes,
             " bytes of data (expected size ", expected, ") but ", stream, " ends at byte offset ", found,
             note, "; refused before allocating");
    if (found > c.total())
        fail(path, ": IDX file has trailing bytes: the header claims ", c.what, " = ", c.data_bytes,
             " bytes of data (expected size ", expected, ") but ", stream, " has ", found - c.total(),
             " more bytes, from byte offset ", c.total(), " to ", found, "; refused before allocating");
}

// A buffer of n bytes; out of memory is an fw::Error naming the file and the size asked for.
std::vector<uint8_t> allocate(const std::string& path, int64_t n, const char* what) {
    try {
        return std::vector<uint8_t>((size_t)n);
    } catch (const std::bad_alloc&) {
        fail(path, ": out of memory allocating ", n, " bytes for the IDX ", what);
    }
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
    const OnDisk disk = on_disk(path);
    GzReader r(path);
    const std::vector<uint32_t> d = read_header(r, path, kIdxImagesMagic);
    if (d[1] == 0 || d[2] == 0 || d[1] > 65535 || d[2] > 65535)
        fail(path, ": IDX images header has an implausible image size ", d[1], " x ", d[2]);
    const Claim c = claim_of(path, kIdxImagesMagic, d);
    if (c.data_bytes > (int64_t)1 << 34)
        fail(path, ": IDX images header claims ", c.what, " = ", c.data_bytes, " pixel bytes; refusing (> 16 GiB)");
    check_claimed_size(path, disk, c);
    IdxImages im;
    im.n = d[0];
    im.rows = (int)d[1];
    im.cols = (int)d[2];
    im.pixels = allocate(path, c.data_bytes, "pixel data");
    r.read_exact(im.pixels.data(), c.data_bytes, "pixel data", c.total());
    check_no_trailing(r, path, c.total());
    return im;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
    const OnDisk disk = on_disk(path);
    GzReader r(path);
    const Claim c = claim_of(path, kIdxLabelsMagic, read_header(r, path, kIdxLabelsMagic));
    check_claimed_size(path, disk, c);
    std::vector<uint8_t> labels = allocate(path, c.data_bytes, "label data");
    r.read_exact(labels.data(), c.data_bytes, "label data", c.total());
    check_no_trailing(r, path, c.total());
    return labels;
}

int64_t read_idx_count(const std::string& path, uint32_t magic) {
    FW_ASSERT(magic == kIdxImagesMagic || magic == kIdxLabelsMagic, "read_idx_count: magic ", magic);
    GzReader r(path);
    return read_header(r, path, magic)[0];
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
