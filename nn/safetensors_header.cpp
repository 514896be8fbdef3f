// The safetensors header, read through nlohmann-json's SAX interface (why: safetensors_header.h).
// nlohmann checks that the bytes are JSON; HeaderReader checks that the JSON is exactly
//
//   header   := '{' [ member (',' member)* ] '}' ws*        (first byte '{', no NUL byte anywhere)
//   member   := string ':' ( tensor | metadata )            (metadata iff the key is "__metadata__")
//   tensor   := '{' "dtype": string, "shape": uints, "data_offsets": [uint, uint], any order '}'
//   metadata := '{' [ string ':' string (',' ...)* ] '}'
//   uints    := '[' [ uint (',' uint)* ] ']'                 uint: JSON integer >= 0, fits in u64
//
// with no key twice in one object.
#include "nn/safetensors_header.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <set>

#include <nlohmann/json.hpp>

#include "nn/safetensors.h"

namespace fw {

using json = nlohmann::json;
using Kind = SafeTensorsError::Kind;

std::string json_quote(const std::string& s) {
    return json(s).dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

namespace {

// A pointer into the header that notes how far nlohmann's reader has read, so that an error
// found in a SAX event can say where it is. The reader looks at most one byte ahead (it reads
// the byte after a number to see that the number has ended), hence "near" in those messages.
struct TrackedChar {
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = const char&;

    const char* p;
    const char** read_to;  // one past the last byte read

    const char& operator*() const {
        *read_to = p + 1;
        return *p;
    }
    TrackedChar& operator++() {
        ++p;
        return *this;
    }
    bool operator==(const TrackedChar& o) const { return p == o.p; }
    bool operator!=(const TrackedChar& o) const { return p != o.p; }
};

// "'x'" for a printable byte, "byte 0x07" otherwise.
std::string describe_byte(unsigned char c) {
    char buf[16];
    if (c >= 0x20 && c < 0x7F) std::snprintf(buf, sizeof buf, "'%c'", c);
    else std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
    return buf;
}

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1,
// column 6: " prefix (we give byte offsets instead), and with bytes outside printable ASCII as
// \xNN: its "last read: '...'" part quotes the raw input, which may be invalid UTF-8.
std::string library_message(const json::exception& ex) {
    std::string m = ex.what();
    size_t p = m.find("] ");
    if (p != std::string::npos) m.erase(0, p + 2);
    if (m.rfind("parse error", 0) == 0 && (p = m.find(": ")) != std::string::npos) m.erase(0, p + 2);
    std::string out;
    for (unsigned char c : m) {
        if (c >= 0x20 && c < 0x7F) {
            out += (char)c;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

// Builds the header from nlohmann's SAX events. Each event arrives in one place of the fixed
// shape (`in_`), and anything that does not belong there throws at once, so the parse never
// goes deeper than header -> entry -> array. The events are public: nlohmann calls them.
class HeaderReader {
public:
    HeaderReader(const std::string& header, const std::string& source)
        : header_(header), source_(source), read_to_(header.data()) {}

    SafeTensorsHeader read() {
        // What nlohmann would let through (see safetensors_header.h).
        if (header_.empty() || header_[0] != '{')
            syntax_error(0, "expected '{' at the start of the header, found " +
                                (header_.empty() ? std::string("the end of the header") : describe_byte(header_[0])));
        size_t nul = header_.find('\0');
        if (nul != std::string::npos) syntax_error(nul, "a NUL byte (JSON allows none, not even inside a string)");

        const char* b = header_.data();
        bool ok = json::sax_parse(TrackedChar{b, &read_to_}, TrackedChar{b + header_.size(), &read_to_}, this);
        FW_ASSERT(ok, "every refusal throws");
        return std::move(h_);
    }

    // --- SAX events ------------------------------------------------------------------------
    bool null() { return unexpected("null"); }
    bool boolean(bool b) { return unexpected(b ? "true" : "false"); }
    bool number_integer(json::number_integer_t v) {  // only negative integers arrive here
        return unexpected("the negative number " + (v == 0 ? std::string("-0") : std::to_string(v)));
    }
    bool number_unsigned(json::number_unsigned_t v) {
        if (in_ != In::Array) return unexpected("the number " + std::to_string(v));
        array_.push_back(v);
        return true;
    }
    // A fraction, an exponent, or an integer above 2^64 - 1 (nlohmann reads those as doubles).
    bool number_float(json::number_float_t, const std::string& text) {
        bool integer = text.find_first_of(".eE") == std::string::npos;
        return unexpected(integer ? "the integer " + text + ", which does not fit in 64 bits" : "the number " + text);
    }
    bool string(std::string& s) {
        if (in_ == In::Entry && field_ == "dtype") entry_.dtype = s;
        else if (in_ == In::Metadata) h_.metadata[meta_key_] = s;
        else return unexpected("a string");
        return true;
    }
    bool binary(json::binary_t&) { return unexpected("binary data"); }  // only from binary formats

    bool start_object(std::size_t) {
        if (in_ == In::Top) {
            in_ = In::Header;
        } else if (in_ == In::Header && name_ == "__metadata__") {
            in_ = In::Metadata;
        } else if (in_ == In::Header) {
            in_ = In::Entry;
            entry_ = SafeTensorsEntry{};
            entry_.name = name_;
            std::fill(std::begin(seen_), std::end(seen_), false);
        } else {
            return unexpected("an object");
        }
        return true;
    }
    bool key(std::string& k) {
        if (in_ == In::Header) {
            if (!names_.insert(k).second) schema_error("duplicate key " + json_quote(k) + " in the header object");
            name_ = k;
        } else if (in_ == In::Entry) {
            int f = 0;
            while (f < 3 && k != kFields[f]) ++f;
            if (f == 3)
                schema_error(tensor() + ": unknown key " + json_quote(k) + " in its entry (allowed: dtype, shape, data_offsets)");
            if (seen_[f]) schema_error(tensor() + ": duplicate key " + json_quote(k) + " in its entry");
            seen_[f] = true;
            field_ = k;
        } else {
            FW_ASSERT(in_ == In::Metadata);
            if (h_.metadata.count(k)) schema_error("duplicate key " + json_quote(k) + " in __metadata__");
            meta_key_ = k;
        }
        return true;
    }
    bool end_object() {
        if (in_ == In::Entry) {
            for (int f = 0; f < 3; ++f)
                if (!seen_[f]) schema_error(tensor() + ": its entry has no \"" + kFields[f] + "\"");
            h_.entries.push_back(std::move(entry_));
            in_ = In::Header;
        } else {
            in_ = in_ == In::Metadata ? In::Header : In::Done;  // Done: nlohmann checks only ws follows
        }
        return true;
    }

    bool start_array(std::size_t) {
        if (in_ != In::Entry || field_ == "dtype") return unexpected("an array");
        in_ = In::Array;
        array_.clear();
        return true;
    }
    bool end_array() {
        in_ = In::Entry;
        if (field_ == "shape") {
            entry_.shape = array_;
        } else {
            if (array_.size() != 2)
                schema_error(tensor() + ": data_offsets must be [begin, end], found " + std::to_string(array_.size()) +
                             " numbers");
            entry_.begin = array_[0];
            entry_.end = array_[1];
        }
        return true;
    }

    bool parse_error(std::size_t position, const std::string&, const json::exception& ex) {
        syntax_error(position > 0 ? position - 1 : 0, library_message(ex));  // position: 1-based
    }

private:
    enum class In { Top, Header, Entry, Metadata, Array, Done };

    const std::string& header_;
    const std::string& source_;
    const char* read_to_;
    In in_ = In::Top;
    std::string name_, field_, meta_key_;  // the current key in the header, an entry, __metadata__
    std::set<std::string> names_;          // the keys seen in the header object
    static constexpr const char* kFields[3] = {"dtype", "shape", "data_offsets"};
    bool seen_[3] = {};                    // which of kFields the current entry has had
    SafeTensorsEntry entry_;
    std::vector<uint64_t> array_;
    SafeTensorsHeader h_;

    std::string tensor() const { return "tensor '" + name_ + "'"; }

    [[noreturn]] void syntax_error(size_t at, const std::string& what) const {
        refuse(Kind::Json, source_, ": malformed safetensors header at byte ", at, " of the header (file offset ", at + 8,
               "): ", what);
    }
    [[noreturn]] void schema_error(const std::string& what) const {
        size_t at = (size_t)(read_to_ - header_.data());
        at = at > 0 ? at - 1 : 0;
        refuse(Kind::Schema, source_, ": safetensors header: ", what, " (near byte ", at, " of the header, file offset ",
               at + 8, ")");
    }

    // A value of the wrong type for where it stands: say what belongs there.
    [[noreturn]] bool unexpected(const std::string& found) const {
        switch (in_) {
            case In::Header:
                if (name_ == "__metadata__") schema_error("__metadata__ must be an object of strings, found " + found);
                schema_error(tensor() + ": its entry must be an object {\"dtype\", \"shape\", \"data_offsets\"}, found " + found);
            case In::Metadata:
                schema_error("__metadata__ values must be strings; " + json_quote(meta_key_) + " is " + found);
            case In::Entry:
                if (field_ == "dtype") schema_error(tensor() + ": dtype must be a string, found " + found);
                schema_error(tensor() + ": " + field_ + " must be an array of non-negative integers, found " + found);
            case In::Array:
                schema_error(tensor() + ": " + field_ + " must hold non-negative integers, found " + found);
            default:
                schema_error("the header must be a JSON object, found " + found);  // the first byte is '{'
        }
    }
};

}  // namespace

SafeTensorsHeader parse_safetensors_header(const std::string& header, const std::string& source) {
    return HeaderReader(header, source).read();
}

// ---------------------------------------------------------------------------------------------
// writing

// dump() refuses invalid UTF-8 (type_error 316) without saying which string; so check each.
static void check_utf8(const std::string& s, const char* what) {
    try {
        (void)json(s).dump();
    } catch (const json::type_error&) {
        fail("save_safetensors: ", what, " ", json_quote(s), " is not valid UTF-8");
    }
}

std::string format_safetensors_header(const SafeTensorsHeader& h) {
    // ordered_json keeps the insertion order (json would sort the keys).
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (!h.metadata.empty()) {
        nlohmann::ordered_json& m = j["__metadata__"] = nlohmann::ordered_json::object();
        for (const auto& [k, v] : h.metadata) {
            check_utf8(k, "metadata key");
            check_utf8(v, "metadata value");
            m[k] = v;
        }
    }
    for (const SafeTensorsEntry& e : h.entries) {
        check_utf8(e.name, "tensor name");
        nlohmann::ordered_json& entry = j[e.name];
        entry["dtype"] = e.dtype;
        entry["shape"] = e.shape;
        entry["data_offsets"] = {e.begin, e.end};
    }
    return j.dump();  // compact: no spaces, no newlines
}

}  // namespace fw
