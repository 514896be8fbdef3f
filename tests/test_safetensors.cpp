// Claims about nn/safetensors: what we write is the safetensors format byte for byte, what we read
// comes back bit-exact, writes are atomic, and no corrupt file crashes the reader: each is
// refused with an fw::Error that names what was wrong.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "core/error.h"
#include "nn/safetensors.h"
#include "tests/file_util.h"
#include "tests/tempdir.h"

using namespace fw;
using fw::test::TempDir;
using fw::test::read_bytes;
using fw::test::write_bytes;
using fw::test::error_of;

namespace {

// A tensor whose elements have the given bit patterns (to test NaN payloads, -0, denormals).
Tensor from_bits(const Shape& shape, const std::vector<uint32_t>& bits) {
    Tensor t = Tensor::empty(shape);
    REQUIRE((size_t)t.numel() == bits.size());
    if (!bits.empty()) std::memcpy(t.data(), bits.data(), 4 * bits.size());
    return t;
}
std::vector<uint32_t> bits_of(const Tensor& t) {
    std::vector<uint32_t> b((size_t)t.numel());
    if (!b.empty()) std::memcpy(b.data(), t.data(), 4 * b.size());
    return b;
}

// The message of the fw::Error that f throws; "" if it throws nothing. Other exceptions escape
// (and fail the test case).

// A small file with 0-d, empty, 1-d and 2-d tensors and metadata: the fuzzing target.
NamedTensors small_tensors() {
    return {{"w", Tensor::from_vector({2, 3}, {1, -2, 3.5f, 0, 1e-30f, -7})},
            {"s", Tensor::scalar(0.25f)},
            {"empty", Tensor::zeros({0})},
            {"b", Tensor::from_vector({3}, {9, 8, 7})}};
}
const std::map<std::string, std::string> kSmallMeta = {{"step", "12"}, {"note", "hi"}};

// A u64 as 8 little-endian bytes.
std::string le64(uint64_t v) {
    std::string s;
    for (int i = 0; i < 8; ++i) s += (char)((v >> (8 * i)) & 0xFF);
    return s;
}
// A file from a header (padded here to a multiple of 8) and a data section.
std::string file_of(std::string header, const std::string& data) {
    header.append((8 - header.size() % 8) % 8, ' ');
    return le64(header.size()) + header + data;
}

}  // namespace

TEST_CASE("safetensors round trip keeps names, order, shapes, metadata and every bit") {
    const uint32_t qnan_payload = 0x7fc12345u, neg_zero = 0x80000000u, denormal = 0x00000001u, inf = 0x7f800000u;
    NamedTensors in = {
        {"enc.conv1.weight", from_bits({2, 1, 2, 2}, {0x3f800000u, qnan_payload, neg_zero, denormal, inf, 0xff800000u,
                                                      0x12345678u, 0xdeadbeefu})},
        {"scalar", Tensor::scalar(-3.25f)},                 // 0-d: shape []
        {"empty", Tensor::zeros({2, 0, 3})},                // no elements: begin == end
        {"a \"quoted\" \\ name\n\x01 \xc3\xa9\xe2\x82\xac", Tensor::from_vector({2}, {1.5f, 2.5f})},  // escapes, UTF-8
        {"bias", Tensor::from_vector({3}, {0.1f, 0.2f, 0.3f})},
    };
    std::map<std::string, std::string> meta = {{"step", "18446744073709551615"}, {"text", "tab\there \"q\" \xf0\x9f\x98\x80"},
                                               {"", "empty key"}};
    TempDir dir;
    save_safetensors(dir.file("t.safetensors"), in, meta);
    SafeTensors out = load_safetensors(dir.file("t.safetensors"));

    REQUIRE(out.tensors.size() == in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        INFO("tensor " << i << " '" << in[i].first << "'");
        CHECK(out.tensors[i].first == in[i].first);
        CHECK(out.tensors[i].second.shape() == in[i].second.shape());
        CHECK(bits_of(out.tensors[i].second) == bits_of(in[i].second));
    }
    CHECK(out.metadata == meta);
}

TEST_CASE("the written file is safetensors byte for byte: u64 LE length, padded JSON header, packed data") {
    NamedTensors in = {{"w", Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6})},
                       {"s", Tensor::scalar(-1)},
                       {"e", Tensor::zeros({0, 4})}};
    TempDir dir;
    save_safetensors(dir.file("t.safetensors"), in, {{"k", "v"}});
    std::string bytes = read_bytes(dir.file("t.safetensors"));

    // Expected header, written out by hand from the spec: metadata first, then the tensors in
    // order, offsets packed from 0: w is 6 * 4 = 24 bytes, s 4 bytes, e 0 bytes.
    std::string json =
        "{\"__metadata__\":{\"k\":\"v\"},"
        "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[24,28]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[28,28]}}";
    REQUIRE(bytes.size() >= 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | (unsigned char)bytes[i];
    CHECK(n % 8 == 0);
    CHECK(n >= json.size());
    CHECK(n - json.size() < 8);                      // only the padding needed
    REQUIRE(bytes.size() == 8 + n + 28);             // header, then exactly the 28 data bytes
    CHECK(bytes.substr(8, json.size()) == json);
    CHECK(bytes.substr(8 + json.size(), n - json.size()) == std::string(n - json.size(), ' '));

    const float want[7] = {1, 2, 3, 4, 5, 6, -1};    // little-endian floats, as the host holds them
    CHECK(std::memcmp(bytes.data() + 8 + n, want, sizeof want) == 0);
}

TEST_CASE("a hand-made safetensors file, as Python's safetensors writes it, loads") {
    // header (140 bytes + 4 spaces of padding = 144 = 0x90), keys not in data order:
    //   {"__metadata__":{"format":"pt"},"b":{..."shape":[1,2],"data_offsets":[4,12]},
    //    "a":{..."shape":[],"data_offsets":[0,4]}}
    // data: a = 1.0f (00 00 80 3f), b = {2.0f (00 00 00 40), -0.5f (00 00 00 bf)}
    const std::string header =
        "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[4,12]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}    ";
    REQUIRE(header.size() == 0x90);
    const unsigned char length[8] = {0x90, 0, 0, 0, 0, 0, 0, 0};
    const unsigned char data[12] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0xbf};
    std::string bytes = std::string((const char*)length, 8) + header + std::string((const char*)data, 12);

    TempDir dir;
    write_bytes(dir.file("py.safetensors"), bytes);
    SafeTensors st = load_safetensors(dir.file("py.safetensors"));
    REQUIRE(st.tensors.size() == 2);
    CHECK(st.tensors[0].first == "a");  // in data order
    CHECK(st.tensors[0].second.shape() == Shape{});
    CHECK(st.tensors[0].second.item() == 1.0f);
    CHECK(st.tensors[1].first == "b");
    CHECK(st.tensors[1].second.shape() == Shape{1, 2});
    CHECK(st.tensors[1].second.to_vector() == std::vector<float>{2.0f, -0.5f});
    CHECK(st.metadata == std::map<std::string, std::string>{{"format", "pt"}});
}

TEST_CASE("an unpadded header with whitespace and escapes, and an empty file of tensors, load") {
    // The spec requires neither the padding nor compact JSON of a reader.
    std::string header = "{ \"x\\u00e9\\ud83d\\ude00\" : { \"shape\" : [ 1 ] , \"data_offsets\" : [0,4], \"dtype\":\"F32\" } }";
    std::string bytes = le64(header.size()) + header + std::string("\0\0\0\0", 4);
    SafeTensors st = decode_safetensors(bytes, "<memory>");
    REQUIRE(st.tensors.size() == 1);
    CHECK(st.tensors[0].first == "x\xc3\xa9\xf0\x9f\x98\x80");
    CHECK(st.tensors[0].second.to_vector() == std::vector<float>{0.0f});

    SafeTensors none = decode_safetensors(le64(2) + "{}", "<memory>");
    CHECK(none.tensors.empty());
    CHECK(none.metadata.empty());
}

TEST_CASE("save leaves no temp file behind and replaces an existing file whole") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    save_safetensors(path, {{"big", Tensor::ones({1000})}}, {{"v", "1"}});
    CHECK(dir.list() == std::set<std::string>{"ck.safetensors"});

    save_safetensors(path, {{"small", Tensor::full({2}, 3.0f)}}, {{"v", "2"}});
    CHECK(dir.list() == std::set<std::string>{"ck.safetensors"});
    CHECK(read_bytes(path) == encode_safetensors({{"small", Tensor::full({2}, 3.0f)}}, {{"v", "2"}}));
    SafeTensors st = load_safetensors(path);
    REQUIRE(st.tensors.size() == 1);
    CHECK(st.tensors[0].first == "small");
    CHECK(st.metadata.at("v") == "2");
}

TEST_CASE("saving into a folder that does not exist throws naming the path and leaves no temp file") {
    TempDir dir;
    const std::string path = dir.file("no/such/folder/ck.safetensors");
    std::string msg = error_of([&] { save_safetensors(path, {{"x", Tensor::ones({2})}}); });
    INFO(msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find("No such file or directory") != std::string::npos);
    CHECK(dir.list().empty());
}

TEST_CASE("a save that fails at the rename removes its temp file and leaves the target as it was") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    std::filesystem::create_directory(path);  // a folder where the file should go: rename fails
    write_bytes(path + "/keep", "untouched");
    std::string msg = error_of([&] { save_safetensors(path, {{"x", Tensor::ones({2})}}); });
    INFO(msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find("renaming") != std::string::npos);
    CHECK(dir.list() == std::set<std::string>{"ck.safetensors"});
    CHECK(read_bytes(path + "/keep") == "untouched");
}

TEST_CASE("save refuses names it cannot write faithfully") {
    CHECK(error_of([] { encode_safetensors({{"a", Tensor::ones({1})}, {"a", Tensor::ones({1})}}); })
              .find("two tensors are named 'a'") != std::string::npos);
    CHECK(error_of([] { encode_safetensors({{"__metadata__", Tensor::ones({1})}}); }).find("reserved") != std::string::npos);
    CHECK(error_of([] { encode_safetensors({{"", Tensor::ones({1})}}); }).find("empty name") != std::string::npos);
    CHECK(error_of([] { encode_safetensors({{"bad\xff", Tensor::ones({1})}}); }).find("not valid UTF-8") != std::string::npos);
    CHECK(error_of([] { encode_safetensors({{"u", Tensor()}}); }).find("'u' is undefined") != std::string::npos);
}

TEST_CASE("every truncation of a checkpoint file throws fw::Error") {
    TempDir dir;
    const std::string full = encode_safetensors(small_tensors(), kSmallMeta);
    const std::string path = dir.file("cut.safetensors");
    for (size_t len = 0; len < full.size(); ++len) {
        write_bytes(path, full.substr(0, len));
        std::string msg = error_of([&] { load_safetensors(path); });
        INFO("truncated to " << len << " of " << full.size() << " bytes");
        CHECK(!msg.empty());
        CHECK(msg.find(path) != std::string::npos);
    }
}

TEST_CASE("single-byte changes anywhere in a file either load or throw fw::Error, never crash") {
    // Under `make DEBUG=1 test` ASan/UBSan turn any out-of-bounds read into a failure here.
    const std::string full = encode_safetensors(small_tensors(), kSmallMeta);
    const unsigned char replacements[] = {0x00, 0x01, 0x20, '"', '\\', '{', '}', '[', ']', ',', ':', '0', '9', '-',
                                          'e',  'u',  0x7f, 0x80, 0xc3, 0xff};
    int loaded = 0, refused = 0;
    for (size_t pos = 0; pos < full.size(); ++pos) {
        for (int flip = 0; flip < 8; ++flip) {   // every single-bit flip ...
            std::string bad = full;
            bad[pos] = (char)(bad[pos] ^ (1 << flip));
            (error_of([&] { decode_safetensors(bad, "<memory>"); }).empty() ? loaded : refused)++;
        }
        for (unsigned char r : replacements) {   // ... and bytes that mean something in JSON
            std::string bad = full;
            bad[pos] = (char)r;
            (error_of([&] { decode_safetensors(bad, "<memory>"); }).empty() ? loaded : refused)++;
        }
    }
    INFO(loaded << " variants loaded, " << refused << " refused");
    CHECK(refused > 0);
    CHECK(loaded > 0);  // a change in the data section is just another float
}

TEST_CASE("a tensor of another dtype is refused by name and dtype") {
    std::string f16 = file_of("{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", std::string(4, '\0'));
    CHECK(error_of([&] { decode_safetensors(f16, "m.safetensors"); }) ==
          "m.safetensors: tensor 'h' has dtype F16; only F32 is supported");
    std::string q = file_of("{\"h\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,4]}}", std::string(4, '\0'));
    CHECK(error_of([&] { decode_safetensors(q, "m.safetensors"); }) == "m.safetensors: tensor 'h' has unknown dtype \"Q4\"");
}

TEST_CASE("each kind of corrupt file is refused with a message naming what is wrong") {
    auto entry = [](const char* name, const char* shape, const char* offsets) {
        return std::string("\"") + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    };
    const std::string d8(8, '\0');
    struct Case {
        const char* what;
        std::string bytes;
        std::string message;  // the whole message, or a part of it for the JSON syntax errors
    };
    std::vector<Case> cases = {
        {"too short", "abc",
         "f: file is 3 bytes, too short for safetensors: expected at least 8 bytes (the u64 header length)"},
        {"header length past the end", le64(100) + "{}",
         "f: header length 100 is larger than the 2 bytes that follow it (file size 10)"},
        {"header length of 2^64 - 1", le64(UINT64_MAX) + "{}",
         "f: header length 18446744073709551615 is larger than the 2 bytes that follow it (file size 10)"},
        {"not an object", le64(2) + "[]",
         "f: malformed safetensors header at byte 0 of the header (file offset 8): expected '{' at the start of the header, found '['"},
        {"missing colon", file_of("{\"a\" {}}", ""), "at byte 5 of the header (file offset 13): expected ':' after a key"},
        {"float offset", file_of("{" + entry("a", "[1]", "[0,4.0]") + "}", "abcd"),
         "expected an integer, found a fraction or exponent"},
        {"negative dimension", file_of("{" + entry("a", "[-1]", "[0,4]") + "}", "abcd"), "expected a non-negative integer, found '-'"},
        {"unknown key", file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}", "abcd"),
         "unknown key \"x\" in a tensor entry"},
        {"missing key", file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}", ""), "tensor entry without \"data_offsets\""},
        {"duplicate tensor", file_of("{" + entry("a", "[]", "[0,4]") + "," + entry("a", "[]", "[4,8]") + "}", d8),
         "duplicate key \"a\""},
        {"non-string metadata", file_of("{\"__metadata__\":{\"step\":12}}", ""), "__metadata__ values must be strings"},
        {"garbage after the object", file_of("{}x", ""), "unexpected 'x' after the header object"},
        {"shape disagrees with offsets", file_of("{" + entry("w", "[2,3]", "[0,8]") + "}", d8),
         "f: tensor 'w' has shape [2, 3] (6 elements, 24 bytes as F32) but data_offsets [0, 8] span 8 bytes"},
        {"offsets past the data", file_of("{" + entry("w", "[4]", "[0,16]") + "}", d8),
         "f: tensor 'w': data_offsets [0, 16] reach past the data section (8 bytes)"},
        {"offsets reversed", file_of("{" + entry("w", "[1]", "[8,4]") + "}", d8),
         "f: tensor 'w': data_offsets [8, 4] end before they begin"},
        {"overlap", file_of("{" + entry("a", "[2]", "[0,8]") + "," + entry("b", "[1]", "[4,8]") + "}", d8),
         "f: tensors 'a' [0, 8] and 'b' [4, 8] overlap"},
        {"gap", file_of("{" + entry("a", "[1]", "[0,4]") + "," + entry("b", "[0]", "[8,8]") + "}", d8),
         "f: bytes [4, 8) of the data section before tensor 'b' belong to no tensor"},
        {"trailing data", file_of("{" + entry("a", "[1]", "[0,4]") + "}", d8),
         "f: the data section holds 8 bytes but the tensors cover only 4"},
        {"huge shape", file_of("{" + entry("a", "[4294967296,4294967296]", "[0,0]") + "}", ""),
         "f: tensor 'a' has shape [4294967296, 4294967296], too large"},
    };
    for (const Case& c : cases) {
        std::string msg = error_of([&] { decode_safetensors(c.bytes, "f"); });
        INFO(std::string(c.what) << ": got \"" << msg << "\"");
        if (c.message.rfind("f: ", 0) == 0) CHECK(msg == c.message);
        else CHECK(msg.find(c.message) != std::string::npos);
    }
}

TEST_CASE("loading a file that does not exist names it") {
    TempDir dir;
    std::string msg = error_of([&] { load_safetensors(dir.file("absent.safetensors")); });
    CHECK(msg == dir.file("absent.safetensors") + ": cannot open for reading: No such file or directory");
}
