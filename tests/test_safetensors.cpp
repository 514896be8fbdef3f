// Claims about nn/safetensors: what we write is the safetensors format byte for byte, what we read
// comes back bit-exact, writes are atomic, and no corrupt file crashes the reader: each is
// refused with a SafeTensorsError that names what was wrong and carries the kind of problem.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "nn/safetensors.h"
#include "tests/file_util.h"
#include "tests/tempdir.h"

using namespace fw;
using fw::test::TempDir;
using fw::test::read_bytes;
using fw::test::write_bytes;
using fw::test::error_of;
using fw::test::Outcome;
using fw::test::outcome_of;
using K = SafeTensorsError::Kind;

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

TEST_CASE("saving into a folder that does not exist is refused as Io, naming the path, and leaves no temp file") {
    TempDir dir;
    const std::string path = dir.file("no/such/folder/ck.safetensors");
    Outcome o = outcome_of([&] { save_safetensors(path, {{"x", Tensor::ones({2})}}); });
    const std::string& msg = o.message;
    INFO(msg);
    CHECK(o.kind == K::Io);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find("No such file or directory") != std::string::npos);
    CHECK(dir.list().empty());
}

TEST_CASE("a save that fails at the rename removes its temp file and leaves the target as it was") {
    TempDir dir;
    const std::string path = dir.file("ck.safetensors");
    std::filesystem::create_directory(path);  // a folder where the file should go: rename fails
    write_bytes(path + "/keep", "untouched");
    Outcome o = outcome_of([&] { save_safetensors(path, {{"x", Tensor::ones({2})}}); });
    const std::string& msg = o.message;
    INFO(msg);
    CHECK(o.kind == K::Io);
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

TEST_CASE("every truncation of a file is refused as Truncated, naming the file") {
    TempDir dir;
    const std::string full = encode_safetensors(small_tensors(), kSmallMeta);
    const std::string path = dir.file("cut.safetensors");
    for (size_t len = 0; len < full.size(); ++len) {
        write_bytes(path, full.substr(0, len));
        Outcome o = outcome_of([&] { load_safetensors(path); });
        INFO("truncated to " << len << " of " << full.size() << " bytes: \"" << o.message << "\"");
        REQUIRE(o.refused);
        CHECK(o.kind == K::Truncated);
        CHECK(o.message.find(path) != std::string::npos);
    }
}

TEST_CASE("single-byte changes anywhere in a file load or are refused with a kind that fits where they are") {
    // Under `make DEBUG=1 test` ASan/UBSan turn any out-of-bounds read into a failure here.
    const std::string full = encode_safetensors(small_tensors(), kSmallMeta);
    const size_t data_start = full.size() - 40;  // the data: w 24 bytes, s 4, empty 0, b 12
    // What a change may cause, by where it is:
    //   the length field (bytes 0-7): a longer header runs past the end of the file (Truncated);
    //     a shorter one cuts the JSON (Json) or only its padding, whose spaces then lead the
    //     data section (Gap). It never loads.
    //   the header: anything the header checks find, or nothing (a changed name or string).
    //   the data section: nothing; safetensors has no checksum (nn/checkpoint.h adds one).
    const std::set<K> length_kinds = {K::Truncated, K::Json, K::Gap};
    const std::set<K> header_kinds = {K::Json,  K::Schema,  K::Dtype, K::Shape,
                                      K::Offsets, K::Truncated, K::Overlap, K::Gap};
    const unsigned char replacements[] = {0x00, 0x01, 0x20, '"', '\\', '{', '}', '[', ']', ',', ':', '0', '9', '-',
                                          'e',  'u',  0x7f, 0x80, 0xc3, 0xff};
    int loaded = 0;
    std::map<K, int> refused;
    std::string wrong;  // the first unexpected outcomes, one a line
    int n_wrong = 0;
    auto try_variant = [&](size_t pos, const std::string& bad) {
        if (bad == full) return;
        Outcome o = outcome_of([&] { decode_safetensors(bad, "<memory>"); });
        const char* region = pos < 8 ? "length field" : pos < data_start ? "header" : "data";
        bool expected = o.other ? false
                        : !o.refused ? pos >= 8
                        : pos < 8 ? length_kinds.count(o.kind) > 0
                        : pos < data_start && header_kinds.count(o.kind) > 0;
        if (o.refused) refused[o.kind]++;
        else if (!o.other) loaded++;
        if (!expected && n_wrong++ < 10) {
            char byte[8];
            std::snprintf(byte, sizeof byte, "0x%02x", (unsigned char)bad[pos]);
            wrong += "\n  byte " + std::to_string(pos) + " (" + region + ") = " + byte + ": " +
                     (o.other ? "threw a non-SafeTensorsError: " : o.refused ? "refused as " : "loaded") +
                     (o.refused ? std::string(to_string(o.kind)) + ": " : "") + o.message;
        }
    };
    for (size_t pos = 0; pos < full.size(); ++pos) {
        for (int flip = 0; flip < 8; ++flip) {   // every single-bit flip ...
            std::string bad = full;
            bad[pos] = (char)(bad[pos] ^ (1 << flip));
            try_variant(pos, bad);
        }
        for (unsigned char r : replacements) {   // ... and bytes that mean something in JSON
            std::string bad = full;
            bad[pos] = (char)r;
            try_variant(pos, bad);
        }
    }
    std::string tally;
    for (const auto& [kind, n] : refused) tally += std::string(" ") + to_string(kind) + " " + std::to_string(n);
    INFO(loaded << " variants loaded; refused:" << tally);
    INFO(n_wrong << " unexpected outcomes, the first:" << wrong);
    CHECK(n_wrong == 0);
    CHECK(loaded > 0);  // a change in the data section is just another float
    CHECK(refused.size() >= 5);  // the changes reach many different checks
}

TEST_CASE("a tensor of another dtype is refused as Dtype, by name and dtype") {
    std::string f16 = file_of("{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", std::string(4, '\0'));
    Outcome o = outcome_of([&] { decode_safetensors(f16, "m.safetensors"); });
    CHECK(o.kind == K::Dtype);
    CHECK(o.message == "m.safetensors: tensor 'h' has dtype F16; only F32 is supported");
    std::string q = file_of("{\"h\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,4]}}", std::string(4, '\0'));
    o = outcome_of([&] { decode_safetensors(q, "m.safetensors"); });
    CHECK(o.kind == K::Dtype);
    CHECK(o.message == "m.safetensors: tensor 'h' has unknown dtype \"Q4\"");
}

TEST_CASE("each kind of corrupt file is refused with its kind and a message naming what is wrong") {
    auto entry = [](const char* name, const char* shape, const char* offsets) {
        return std::string("\"") + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    };
    auto one = [&](const char* shape, const char* offsets) { return "{" + entry("a", shape, offsets) + "}"; };
    const std::string d8(8, '\0');
    struct Case {
        const char* what;
        std::string bytes;
        K kind;
        std::string message;  // the whole message after "f: "
    };
    std::vector<Case> cases = {
        // the file's frame
        {"too short", "abc", K::Truncated,
         "file is 3 bytes, too short for safetensors: expected at least 8 bytes (the u64 header length)"},
        {"header length past the end", le64(100) + "{}", K::Truncated,
         "header length 100 is larger than the 2 bytes that follow it (file size 10)"},
        {"header length of 2^64 - 1", le64(UINT64_MAX) + "{}", K::Truncated,
         "header length 18446744073709551615 is larger than the 2 bytes that follow it (file size 10)"},
        // not JSON (nlohmann's words after the byte offset)
        {"not an object", le64(2) + "[]", K::Json,
         "malformed safetensors header at byte 0 of the header (file offset 8): expected '{' at the start of the "
         "header, found '['"},
        {"empty header", le64(0), K::Json,
         "malformed safetensors header at byte 0 of the header (file offset 8): expected '{' at the start of the header, "
         "found the end of the header"},
        {"leading space", file_of(" {}", ""), K::Json,
         "malformed safetensors header at byte 0 of the header (file offset 8): expected '{' at the start of the "
         "header, found ' '"},
        {"missing colon", file_of("{\"a\" {}}", ""), K::Json,
         "malformed safetensors header at byte 5 of the header (file offset 13): syntax error while parsing object "
         "separator - unexpected '{'; expected ':'"},
        {"garbage after the object", file_of("{}x", ""), K::Json,
         "malformed safetensors header at byte 2 of the header (file offset 10): syntax error while parsing value - "
         "invalid literal; last read: '{}x'; expected end of input"},
        {"NUL after the object", file_of(std::string("{}\0x", 4), ""), K::Json,
         "malformed safetensors header at byte 2 of the header (file offset 10): a NUL byte (JSON allows none, not "
         "even inside a string)"},
        {"unterminated", file_of("{\"a\":{", ""), K::Json,
         "malformed safetensors header at byte 8 of the header (file offset 16): syntax error while parsing object "
         "key - unexpected end of input; expected string literal"},
        {"invalid UTF-8 in a name", file_of("{\"a\xff\":{}}", ""), K::Json,
         "malformed safetensors header at byte 3 of the header (file offset 11): syntax error while parsing object "
         "key - invalid string: ill-formed UTF-8 byte; last read: '\"a\\xff'; expected string literal"},
        {"lone surrogate", file_of("{\"\\udc00\":{}}", ""), K::Json,
         "malformed safetensors header at byte 7 of the header (file offset 15): syntax error while parsing object "
         "key - invalid string: surrogate U+DC00..U+DFFF must follow U+D800..U+DBFF; last read: '\"\\udc00'; "
         "expected string literal"},
        {"raw control character", file_of("{\"a\tb\":{}}", ""), K::Json,
         "malformed safetensors header at byte 3 of the header (file offset 11): syntax error while parsing object "
         "key - invalid string: control character U+0009 (HT) must be escaped to \\u0009 or \\t; last read: "
         "'\"a<U+0009>'; expected string literal"},
        {"number overflow", file_of(one("[1e999]", "[0,4]"), "abcd"), K::Json,
         "malformed safetensors header at byte 33 of the header (file offset 41): number overflow parsing '1e999'"},
        // JSON, but not a safetensors header
        {"float offset", file_of(one("[1]", "[0,4.0]"), "abcd"), K::Schema,
         "safetensors header: tensor 'a': data_offsets must hold non-negative integers, found the number 4.0 (near "
         "byte 53 of the header, file offset 61)"},
        {"exponent", file_of(one("[1e0]", "[0,4]"), "abcd"), K::Schema,
         "safetensors header: tensor 'a': shape must hold non-negative integers, found the number 1e0 (near byte 32 "
         "of the header, file offset 40)"},
        {"negative dimension", file_of(one("[-1]", "[0,4]"), "abcd"), K::Schema,
         "safetensors header: tensor 'a': shape must hold non-negative integers, found the negative number -1 (near "
         "byte 31 of the header, file offset 39)"},
        {"minus zero", file_of(one("[-0]", "[0,0]"), ""), K::Schema,
         "safetensors header: tensor 'a': shape must hold non-negative integers, found the negative number -0 (near "
         "byte 31 of the header, file offset 39)"},
        {"integer above 2^64 - 1", file_of(one("[1]", "[0,18446744073709551616]"), ""), K::Schema,
         "safetensors header: tensor 'a': data_offsets must hold non-negative integers, found the integer "
         "18446744073709551616, which does not fit in 64 bits (near byte 70 of the header, file offset 78)"},
        {"nested array", file_of(one("[[1]]", "[0,4]"), "abcd"), K::Schema,
         "safetensors header: tensor 'a': shape must hold non-negative integers, found an array (near byte 29 of the "
         "header, file offset 37)"},
        {"string dimension", file_of(one("[\"1\"]", "[0,4]"), "abcd"), K::Schema,
         "safetensors header: tensor 'a': shape must hold non-negative integers, found a string (near byte 31 of the "
         "header, file offset 39)"},
        {"three offsets", file_of(one("[1]", "[0,4,8]"), "abcd"), K::Schema,
         "safetensors header: tensor 'a': data_offsets must be [begin, end], found 3 numbers (near byte 53 of the "
         "header, file offset 61)"},
        {"dtype not a string", file_of("{\"a\":{\"dtype\":32,\"shape\":[],\"data_offsets\":[0,4]}}", "abcd"), K::Schema,
         "safetensors header: tensor 'a': dtype must be a string, found the number 32 (near byte 16 of the header, "
         "file offset 24)"},
        {"entry not an object", file_of("{\"a\":[0,4]}", ""), K::Schema,
         "safetensors header: tensor 'a': its entry must be an object {\"dtype\", \"shape\", \"data_offsets\"}, "
         "found an array (near byte 5 of the header, file offset 13)"},
        {"unknown key", file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}", "abcd"), K::Schema,
         "safetensors header: tensor 'a': unknown key \"x\" in its entry (allowed: dtype, shape, data_offsets) (near "
         "byte 54 of the header, file offset 62)"},
        {"missing key", file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}", ""), K::Schema,
         "safetensors header: tensor 'a': its entry has no \"data_offsets\" (near byte 30 of the header, file offset "
         "38)"},
        {"duplicate tensor", file_of("{" + entry("a", "[]", "[0,4]") + "," + entry("a", "[]", "[4,8]") + "}", d8), K::Schema,
         "safetensors header: duplicate key \"a\" in the header object (near byte 55 of the header, file offset 63)"},
        {"duplicate key in an entry", file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"shape\":[],\"data_offsets\":[0,4]}}", "abcd"),
         K::Schema, "safetensors header: tensor 'a': duplicate key \"shape\" in its entry (near byte 37 of the header, file offset 45)"},
        {"duplicate key in __metadata__", file_of("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", ""), K::Schema,
         "safetensors header: duplicate key \"k\" in __metadata__ (near byte 27 of the header, file offset 35)"},
        {"non-string metadata", file_of("{\"__metadata__\":{\"step\":12}}", ""), K::Schema,
         "safetensors header: __metadata__ values must be strings; \"step\" is the number 12 (near byte 26 of the "
         "header, file offset 34)"},
        {"metadata not an object", file_of("{\"__metadata__\":\"x\"}", ""), K::Schema,
         "safetensors header: __metadata__ must be an object of strings, found a string (near byte 18 of the header, "
         "file offset 26)"},
        // a header that contradicts itself or the data
        {"shape disagrees with offsets", file_of("{" + entry("w", "[2,3]", "[0,8]") + "}", d8), K::Shape,
         "tensor 'w' has shape [2, 3] (6 elements, 24 bytes as F32) but data_offsets [0, 8] span 8 bytes"},
        {"huge shape", file_of(one("[4294967296,4294967296]", "[0,0]"), ""), K::Shape,
         "tensor 'a' has shape [4294967296, 4294967296], too large"},
        {"offsets past the data", file_of("{" + entry("w", "[4]", "[0,16]") + "}", d8), K::Truncated,
         "tensor 'w': data_offsets [0, 16] reach past the data section (8 bytes)"},
        {"offsets reversed", file_of("{" + entry("w", "[1]", "[8,4]") + "}", d8), K::Offsets,
         "tensor 'w': data_offsets [8, 4] end before they begin"},
        {"overlap", file_of("{" + entry("a", "[2]", "[0,8]") + "," + entry("b", "[1]", "[4,8]") + "}", d8), K::Overlap,
         "tensors 'a' [0, 8] and 'b' [4, 8] overlap"},
        {"gap", file_of("{" + entry("a", "[1]", "[0,4]") + "," + entry("b", "[0]", "[8,8]") + "}", d8), K::Gap,
         "bytes [4, 8) of the data section before tensor 'b' belong to no tensor"},
        {"trailing data", file_of(one("[1]", "[0,4]"), d8), K::Gap,
         "the data section holds 8 bytes but the tensors cover only 4"},
    };
    for (const Case& c : cases) {
        Outcome o = outcome_of([&] { decode_safetensors(c.bytes, "f"); });
        std::string got = o.refused ? to_string(o.kind) : o.other ? "another exception" : "no error";
        INFO(std::string(c.what) << ": got " << got << " \"" << o.message << "\"");
        REQUIRE(o.refused);
        CHECK(o.kind == c.kind);
        CHECK(o.message == "f: " + c.message);
    }
}

TEST_CASE("a header length above 100 MB is refused as HeaderSize even when the file holds it") {
    const uint64_t n = 100000001;  // the reference implementation's limit is 100 MB
    Outcome o = outcome_of([&] { decode_safetensors(le64(n) + std::string(n, ' '), "f"); });
    CHECK(o.kind == K::HeaderSize);
    CHECK(o.message == "f: header length 100000001 is above the limit of 100000000 bytes");
}

TEST_CASE("a header nested a million levels deep is refused where it gets too deep, with no stack overflow") {
    // Under ASan a recursive parser would overflow its stack here. We refuse the first level deeper
    // than the header's shape; nlohmann's parser is iterative anyway (the last check).
    const size_t depth = 1000000;
    const std::string nest = std::string(depth, '[') + std::string(depth, ']');
    Outcome top = outcome_of([&] { decode_safetensors(file_of(nest, ""), "f"); });
    CHECK(top.kind == K::Json);
    CHECK(top.message == "f: malformed safetensors header at byte 0 of the header (file offset 8): expected '{' at the "
                         "start of the header, found '['");

    const std::string in_shape = "{\"a\":{\"dtype\":\"F32\",\"shape\":" + nest + ",\"data_offsets\":[0,4]}}";
    Outcome o = outcome_of([&] { decode_safetensors(file_of(in_shape, "abcd"), "f"); });
    CHECK(o.kind == K::Schema);
    CHECK(o.message == "f: safetensors header: tensor 'a': shape must hold non-negative integers, found an array "
                       "(near byte 29 of the header, file offset 37)");

    const std::string in_meta = "{\"__metadata__\":{\"k\":" + std::string(depth, '{') + "}}";
    o = outcome_of([&] { decode_safetensors(file_of(in_meta, ""), "f"); });
    CHECK(o.kind == K::Schema);
    CHECK(o.message == "f: safetensors header: __metadata__ values must be strings; \"k\" is an object "
                       "(near byte 21 of the header, file offset 29)");

    CHECK(nlohmann::json::accept(nest));
}

TEST_CASE("loading a file that does not exist is refused as Io, naming it") {
    TempDir dir;
    Outcome o = outcome_of([&] { load_safetensors(dir.file("absent.safetensors")); });
    CHECK(o.kind == K::Io);
    CHECK(o.message == dir.file("absent.safetensors") + ": cannot open for reading: No such file or directory");
}
