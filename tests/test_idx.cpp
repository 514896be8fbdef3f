// Claims about core/idx: what we write is standard IDX (big-endian header, then the bytes), plain
// or gzip, and reads back exactly; every malformed file is refused with an fw::Error that names the
// file and what was expected (magic bytes, offsets, sizes, counts).
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <zlib.h>

#include "core/error.h"
#include "core/idx.h"
#include "tests/file_util.h"
#include "tests/tempdir.h"

using namespace fw;
using fw::test::TempDir;
using fw::test::read_bytes;
using fw::test::write_bytes;
using fw::test::error_of;
using fw::test::contains;

namespace {

// 3 images of 2 x 4 pixels, every byte distinct.
std::vector<uint8_t> pixels3() {
    std::vector<uint8_t> p(3 * 2 * 4);
    for (size_t i = 0; i < p.size(); ++i) p[i] = (uint8_t)(i * 11);
    return p;
}

// An IDX header: the magic, then each dimension, all u32 big-endian.
std::string idx_header(uint32_t magic, std::vector<uint32_t> dims) {
    dims.insert(dims.begin(), magic);
    std::string h;
    for (uint32_t v : dims)
        for (int shift = 24; shift >= 0; shift -= 8) h += (char)(uint8_t)(v >> shift);
    return h;
}

// `n` bytes that deflate cannot shrink much (so a .gz of them is about n bytes).
std::string noise(size_t n) {
    std::string b(n, '\0');
    for (size_t i = 0; i < n; ++i) b[i] = (char)(uint8_t)((i * 2654435761u) >> 24);
    return b;
}

// Writes `bytes` gzip-compressed as one gzip member per part (concatenated members, as
// `cat a.gz b.gz` makes): the cut points are the given offsets.
void write_gz(const std::string& path, const std::string& bytes, std::vector<size_t> cuts = {}) {
    cuts.push_back(bytes.size());
    size_t from = 0;
    for (size_t i = 0; i < cuts.size(); ++i) {
        gzFile f = gzopen(path.c_str(), i == 0 ? "wb" : "ab");  // "ab": a new member after the last
        REQUIRE(f != nullptr);
        REQUIRE(gzwrite(f, bytes.data() + from, (unsigned)(cuts[i] - from)) == (int)(cuts[i] - from));
        REQUIRE(gzclose(f) == Z_OK);
        from = cuts[i];
    }
}

}  // namespace

TEST_CASE("write_idx_images writes the standard big-endian idx3 header, then the pixels") {
    TempDir dir;
    const std::vector<uint8_t> p = pixels3();
    write_idx_images(dir.file("im"), 3, 2, 4, p.data());
    const std::string b = read_bytes(dir.file("im"));
    REQUIRE(b.size() == 16 + p.size());
    CHECK(b.substr(0, 16) == std::string("\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x04", 16));
    CHECK(b.substr(16) == std::string(p.begin(), p.end()));
    CHECK(dir.list() == std::set<std::string>{"im"});  // the temp file of the atomic write is gone
}

TEST_CASE("IDX images and labels round-trip exactly, plain and .gz") {
    TempDir dir;
    const std::vector<uint8_t> p = pixels3(), labels = {7, 0, 9};
    for (const std::string suffix : {"", ".gz"}) {
        INFO("suffix '" << suffix << "'");
        write_idx_images(dir.file("im" + suffix), 3, 2, 4, p.data());
        write_idx_labels(dir.file("lab" + suffix), 3, labels.data());
        const IdxImages im = read_idx_images(dir.file("im" + suffix));
        CHECK(im.n == 3);
        CHECK(im.rows == 2);
        CHECK(im.cols == 4);
        CHECK(im.pixels == p);
        CHECK(read_idx_labels(dir.file("lab" + suffix)) == labels);
    }
    const std::string gz = read_bytes(dir.file("im.gz"));
    CHECK((uint8_t)gz[0] == 0x1f);  // the gzip magic: a .gz path really is compressed
    CHECK((uint8_t)gz[1] == 0x8b);
}

TEST_CASE("an IDX file with the wrong magic number is refused, naming the bytes found and expected") {
    TempDir dir;
    const std::vector<uint8_t> labels = {1, 2};
    write_idx_labels(dir.file("labels"), 2, labels.data());
    const std::string msg = error_of([&] { read_idx_images(dir.file("labels")); });
    INFO(msg);
    CHECK(contains(msg, dir.file("labels")));
    CHECK(contains(msg, "00 00 08 01"));  // found: a labels file
    CHECK(contains(msg, "00 00 08 03"));  // expected: images
}

TEST_CASE("a truncated IDX header is refused with the offset where the file ends and the expected size") {
    TempDir dir;
    write_bytes(dir.file("short"), std::string("\x00\x00\x08\x03\x00\x00", 6));
    const std::string msg = error_of([&] { read_idx_images(dir.file("short")); });
    INFO(msg);
    CHECK(contains(msg, "truncated"));
    CHECK(contains(msg, "ends at byte offset 6"));
    CHECK(contains(msg, "expected size 16"));
}

TEST_CASE("truncated IDX data is refused with the offset where the file ends and the expected size") {
    TempDir dir;
    const std::vector<uint8_t> p = pixels3();
    write_idx_images(dir.file("im"), 3, 2, 4, p.data());
    const std::string full = read_bytes(dir.file("im"));  // 16 + 24 = 40 bytes
    write_bytes(dir.file("cut"), full.substr(0, 30));
    const std::string msg = error_of([&] { read_idx_images(dir.file("cut")); });
    INFO(msg);
    CHECK(contains(msg, dir.file("cut")));
    CHECK(contains(msg, "ends at byte offset 30"));
    CHECK(contains(msg, "expected size 40"));
    const std::vector<uint8_t> labels = {1, 2, 3};
    write_idx_labels(dir.file("lab"), 3, labels.data());
    write_bytes(dir.file("labcut"), read_bytes(dir.file("lab")).substr(0, 9));
    CHECK(contains(error_of([&] { read_idx_labels(dir.file("labcut")); }), "expected size 11"));
}

TEST_CASE("an IDX file with bytes after its data is refused") {
    TempDir dir;
    const std::vector<uint8_t> labels = {1, 2};
    write_idx_labels(dir.file("lab"), 2, labels.data());
    write_bytes(dir.file("long"), read_bytes(dir.file("lab")) + "xyz");
    CHECK(contains(error_of([&] { read_idx_labels(dir.file("long")); }), "trailing bytes"));
}

TEST_CASE("a missing IDX file is refused naming it") {
    TempDir dir;
    CHECK(contains(error_of([&] { read_idx_images(dir.file("nope")); }), dir.file("nope")));
}

TEST_CASE("check_idx_counts names both files and both counts when they disagree") {
    CHECK_NOTHROW(check_idx_counts("a-images", 5, "a-labels", 5));
    const std::string msg = error_of([] { check_idx_counts("a-images", 5, "a-labels", 4); });
    CHECK(contains(msg, "a-images has 5 images"));
    CHECK(contains(msg, "a-labels has 4 labels"));
}

TEST_CASE("a truncated .gz IDX file is refused naming the file, not crashed on") {
    TempDir dir;
    std::vector<uint8_t> p(40 * 28 * 28);
    for (size_t i = 0; i < p.size(); ++i) p[i] = (uint8_t)((i * 2654435761u) >> 24);  // poorly compressible
    write_idx_images(dir.file("im.gz"), 40, 28, 28, p.data());
    const std::string gz = read_bytes(dir.file("im.gz"));
    write_bytes(dir.file("cut.gz"), gz.substr(0, gz.size() / 2));
    const std::string msg = error_of([&] { read_idx_images(dir.file("cut.gz")); });
    INFO(msg);
    CHECK(contains(msg, dir.file("cut.gz")));
    CHECK(contains(msg, "the compressed file is cut short"));
    CHECK(contains(msg, "refused before allocating"));  // its trailer is pixels, so the stream was counted
}

// ---------------------------------------------------------------------------
// The header is not trusted for allocation: a claim the file cannot back is refused before the
// data buffer is allocated ("refused before allocating" is only said by that check). Run under
// ASan (make DEBUG=1) these would also report a 15 GB allocation if one were tried.

TEST_CASE("a plain IDX file whose header claims 20 million images is refused before allocating, naming both sizes") {
    TempDir dir;
    write_bytes(dir.file("huge"), idx_header(kIdxImagesMagic, {20000000, 28, 28}) + "abcd");  // 20 bytes
    const std::string msg = error_of([&] { read_idx_images(dir.file("huge")); });
    INFO(msg);
    CHECK(contains(msg, dir.file("huge") + ": truncated IDX file"));
    CHECK(contains(msg, "20000000 images of 28 x 28 pixels = 15680000000 bytes of data"));
    CHECK(contains(msg, "expected size 15680000016 bytes"));
    CHECK(contains(msg, "ends at byte offset 20"));
    CHECK(contains(msg, "refused before allocating"));
}

TEST_CASE("a plain IDX file claiming 1M images with 50 KB of data is refused before allocating 784 MB") {
    TempDir dir;
    write_bytes(dir.file("short"), idx_header(kIdxImagesMagic, {1000000, 28, 28}) + noise(64 * 784));
    const std::string msg = error_of([&] { read_idx_images(dir.file("short")); });
    INFO(msg);
    CHECK(contains(msg, dir.file("short")));
    CHECK(contains(msg, "1000000 images of 28 x 28 pixels = 784000000 bytes of data"));
    CHECK(contains(msg, "ends at byte offset 50192"));  // 16 + 64 * 784
    CHECK(contains(msg, "refused before allocating"));
    write_bytes(dir.file("labels"), idx_header(kIdxLabelsMagic, {4000000000u}) + "\x01\x02");
    const std::string lab = error_of([&] { read_idx_labels(dir.file("labels")); });
    INFO(lab);
    CHECK(contains(lab, "4000000000 labels = 4000000000 bytes of data"));
    CHECK(contains(lab, "ends at byte offset 10"));
    CHECK(contains(lab, "refused before allocating"));
}

TEST_CASE("a plain IDX file longer than its header claims is refused before its data is read") {
    TempDir dir;
    write_bytes(dir.file("long"), idx_header(kIdxImagesMagic, {2, 2, 4}) + noise(3 * 8));  // one image too many
    const std::string msg = error_of([&] { read_idx_images(dir.file("long")); });
    INFO(msg);
    CHECK(contains(msg, "trailing bytes"));
    CHECK(contains(msg, "2 images of 2 x 4 pixels = 16 bytes of data (expected size 32 bytes"));
    CHECK(contains(msg, "8 more bytes, from byte offset 32 to 40"));
}

TEST_CASE("IDX dimensions whose product overflows 64 bits are refused, not wrapped") {
    TempDir dir;
    // 2^32 - 1 images of 65535 x 65535: about 1.8e19 bytes, past int64's 9.2e18.
    write_bytes(dir.file("overflow"), idx_header(kIdxImagesMagic, {0xffffffffu, 65535, 65535}));
    const std::string msg = error_of([&] { read_idx_images(dir.file("overflow")); });
    INFO(msg);
    CHECK(contains(msg, dir.file("overflow")));
    CHECK(contains(msg, "4294967295 images of 65535 x 65535 pixels: more than 2^63 bytes"));
}

TEST_CASE("a .gz IDX file whose header claims more than deflate can expand to is refused at once") {
    TempDir dir;
    write_gz(dir.file("huge.gz"), idx_header(kIdxImagesMagic, {20000000, 28, 28}) + noise(784));
    const std::string msg = error_of([&] { read_idx_images(dir.file("huge.gz")); });
    INFO(msg);
    CHECK(contains(msg, dir.file("huge.gz")));
    CHECK(contains(msg, "20000000 images of 28 x 28 pixels = 15680000000 bytes of data"));
    CHECK(contains(msg, "but a gzip file of "));
    CHECK(contains(msg, "(deflate expands at most 1032:1); refused before allocating"));
}

TEST_CASE("a .gz IDX file whose header claims more or less than it holds is refused before allocating") {
    TempDir dir;
    const std::string data = noise(64 * 784);  // 64 images; the gzip trailer says 16 + 50176
    write_gz(dir.file("more.gz"), idx_header(kIdxImagesMagic, {100, 28, 28}) + data);
    const std::string more = error_of([&] { read_idx_images(dir.file("more.gz")); });
    INFO(more);
    CHECK(contains(more, dir.file("more.gz") + ": truncated IDX file"));
    CHECK(contains(more, "100 images of 28 x 28 pixels = 78400 bytes of data"));
    CHECK(contains(more, "expected size 78416 bytes uncompressed"));
    CHECK(contains(more, "the gzip stream (uncompressed) ends at byte offset 50192; refused before allocating"));
    write_gz(dir.file("less.gz"), idx_header(kIdxImagesMagic, {32, 28, 28}) + data);
    const std::string less = error_of([&] { read_idx_images(dir.file("less.gz")); });
    INFO(less);
    CHECK(contains(less, "trailing bytes"));
    CHECK(contains(less, "25088 more bytes, from byte offset 25104 to 50192; refused before allocating"));
}

TEST_CASE("a .gz IDX file of several concatenated gzip members loads (its trailer counts only the last)") {
    TempDir dir;
    const std::vector<uint8_t> p = pixels3();
    const std::string bytes = idx_header(kIdxImagesMagic, {3, 2, 4}) + std::string(p.begin(), p.end());
    write_gz(dir.file("multi.gz"), bytes, {5, 20});  // 3 members: 5, 15 and 20 bytes
    const IdxImages im = read_idx_images(dir.file("multi.gz"));
    CHECK(im.n == 3);
    CHECK(im.pixels == p);
    write_gz(dir.file("multi-short.gz"), bytes.substr(0, 30), {5, 20});  // and short is still refused
    CHECK(contains(error_of([&] { read_idx_images(dir.file("multi-short.gz")); }), "ends at byte offset 30"));
}

TEST_CASE("a folder given as an IDX file is refused naming it") {
    TempDir dir;
    const std::string msg = error_of([&] { read_idx_labels(dir.path()); });
    INFO(msg);
    CHECK(contains(msg, dir.path() + ": not a regular file (a directory)"));
}

TEST_CASE("read_idx_count reads N from the header alone") {
    TempDir dir;
    write_bytes(dir.file("lab"), idx_header(kIdxLabelsMagic, {60000}));  // no data: not read
    CHECK(read_idx_count(dir.file("lab"), kIdxLabelsMagic) == 60000);
    CHECK(contains(error_of([&] { read_idx_count(dir.file("lab"), kIdxImagesMagic); }), "00 00 08 03"));
}
