// The JSON header of a safetensors file (layout: nn/safetensors.h), read and written by hand.
//
// Why by hand and not nlohmann-json: the header has one fixed shape (an object of tensor entries
// plus an optional object of strings), so a reader that follows exactly that shape is ~200 lines,
// has no dependency, and is stricter than a general JSON parser followed by schema checks: it
// rejects a float where an integer belongs, duplicate keys, unknown keys and invalid UTF-8 right
// where they occur, and reports the byte offset. It never recurses deeper than the fixed shape,
// so a hostile header cannot blow the stack.
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

// Parses the N header bytes (padding included). `source` names the file in error messages:
// "<source>: malformed safetensors header at byte 37 of the header: expected ':' after key".
SafeTensorsHeader parse_safetensors_header(const std::string& json, const std::string& source);

// JSON string literal of `s`, with the quotes: escapes '"', '\\' and control characters.
std::string json_quote(const std::string& s);

// Is `s` well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF)?
bool is_valid_utf8(const std::string& s);

}  // namespace fw
