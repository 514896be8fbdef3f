// Claims about core/idx: what we write is standard IDX (big-endian header, then the bytes), plain
// or gzip, and reads back exactly; every malformed file is refused with an fw::Error that names the
// file and what was expected (magic bytes, offsets, sizes, counts).
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

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
}
