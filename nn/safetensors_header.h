// The JSON header of a safetensors file (layout: nn/safetensors.h), read and written with
// nlohmann-json (Debian's nlohmann-json3-dev, header-only).
//
// Why the library: JSON has corners (escapes, surrogate pairs, UTF-8 validation, number syntax)
// that a hand-written reader must get right one by one; ours took ~370 lines and a library that
// is fuzzed by many users gets them right for free. We read with its SAX interface rather than
// into a json value, because a json value loses what we must refuse: it keeps the last of two
// duplicate keys without a word, and a float where an integer belongs is just a number. Our SAX
// handler follows the header's one fixed shape, event by event, and refuses anything else where
// it appears, so:
//   * a float, a negative number or an integer above 2^64 - 1 in "shape" or "data_offsets",
//     duplicate keys, unknown keys in an entry and non-string metadata values are refused;
//   * nothing is ever nested deeper than the shape needs (3 levels): the first deeper '[' or '{'
//     is refused. nlohmann's parser is iterative (a test feeds it 1e6 nested '[' under ASan), so
//     this is not what keeps the stack safe, but it keeps us from ever holding a deep tree: its
//     dump() is recursive and overflows the stack on 1e6 levels (we dump only what we built);
//   * errors name the tensor and the byte offset: exact for JSON syntax errors (nlohmann reports
//     the byte), "near" (within one byte) for the others.
// Two things the library accepts and the safetensors spec does not are checked before it runs:
// the header must begin with '{' (nlohmann would skip whitespace and a byte-order mark), and no
// byte may be NUL (nlohmann reads a NUL outside a string as the end of the input, so "{}\0junk"
// would pass).
//
// This file checks the JSON and its shape only. Whether the dtype is supported, the shape agrees
// with the offsets, and the offsets tile the data section is checked by nn/safetensors.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fw {

struct SafeTensorsEntry {
    std::string name;
    std::string dtype;               // as written: "F32", "F16", ...
    std::vector<uint64_t> shape;     // as written; may be empty (a 0-d tensor)
    uint64_t begin = 0, end = 0;     // data_offsets, relative to the data section
};

struct SafeTensorsHeader {
    std::vector<SafeTensorsEntry> entries;        // in header order
    std::map<std::string, std::string> metadata;  // "__metadata__", empty if absent
};

// Parses the N header bytes (padding included). `source` names the file in error messages, which
// are SafeTensorsError of kind Json (not JSON) or Schema (JSON, but not a safetensors header):
//   "<source>: malformed safetensors header at byte 5 of the header (file offset 13): syntax
//    error while parsing object separator - unexpected '{'; expected ':'"
SafeTensorsHeader parse_safetensors_header(const std::string& header, const std::string& source);

// The compact JSON of `h`, unpadded: "__metadata__" first (if not empty), then the entries in
// order, each {"dtype":..,"shape":[..],"data_offsets":[b,e]}, no spaces. Throws fw::Error naming
// a tensor name or metadata string that is not valid UTF-8.
std::string format_safetensors_header(const SafeTensorsHeader& h);

// `s` as a JSON string literal with the quotes, for messages; invalid UTF-8 shows as U+FFFD.
std::string json_quote(const std::string& s);

}  // namespace fw
