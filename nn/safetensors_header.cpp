// A strict recursive-descent reader for exactly the safetensors header (see safetensors_header.h):
//
//   header   := '{' [ member (',' member)* ] '}' ws*        (must start with '{', no leading ws)
//   member   := string ':' ( tensor | metadata )            (metadata iff the key is "__metadata__")
//   tensor   := '{' three members "dtype": string, "shape": uints, "data_offsets": uints, any order '}'
//   metadata := '{' [ string ':' string (',' ...)* ] '}'
//   uints    := '[' [ uint (',' uint)* ] ']'                 uint: JSON integer >= 0, fits in u64
//
// with JSON whitespace allowed between tokens. Anything else is an error with a byte offset.
#include "nn/safetensors_header.h"

#include <cstdio>
#include <set>

#include "core/error.h"

namespace fw {

// ---------------------------------------------------------------------------------------------
// UTF-8: 1 to 4 bytes per code point.
//   U+0000..U+007F      0xxxxxxx
//   U+0080..U+07FF      110xxxxx 10xxxxxx                     lead C2..DF (C0, C1 are overlongs)
//   U+0800..U+FFFF      1110xxxx 10xxxxxx 10xxxxxx            lead E0..EF, no D800..DFFF
//   U+10000..U+10FFFF   11110xxx 10xxxxxx 10xxxxxx 10xxxxxx   lead F0..F4
// Returns the length of the sequence starting at s[i], or 0 if it is not valid.
static size_t utf8_sequence_length(const std::string& s, size_t i) {
    auto byte = [&](size_t k) { return k < s.size() ? (unsigned char)s[k] : 0u; };
    auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {  // past the end reads 0: not a cont
        unsigned b = byte(k);
        return b >= lo && b <= hi;
    };
    unsigned c = byte(i);
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;  // overlong; surrogates
        return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;  // overlong; > U+10FFFF
        return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    return 0;
}

bool is_valid_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        size_t n = utf8_sequence_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += (char)cp;
    } else if (cp < 0x800) {
        out += (char)(0xC0 | (cp >> 6));
        out += (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += (char)(0xE0 | (cp >> 12));
        out += (char)(0x80 | ((cp >> 6) & 0x3F));
        out += (char)(0x80 | (cp & 0x3F));
    } else {
        out += (char)(0xF0 | (cp >> 18));
        out += (char)(0x80 | ((cp >> 12) & 0x3F));
        out += (char)(0x80 | ((cp >> 6) & 0x3F));
        out += (char)(0x80 | (cp & 0x3F));
    }
}

std::string json_quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"') out += "\\\"";
        else if (c == '\\') out += "\\\\";
        else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else out += (char)c;
    }
    return out + "\"";
}

// ---------------------------------------------------------------------------------------------
namespace {

class HeaderParser {
public:
    HeaderParser(const std::string& s, const std::string& source) : s_(s), source_(source) {}

    SafeTensorsHeader header() {
        SafeTensorsHeader h;
        expect('{', "at the start of the header");  // the spec: the header MUST begin with '{'
        std::set<std::string> keys;
        skip_ws();
        if (!accept('}')) {
            do {
                skip_ws();
                size_t key_at = pos_;
                std::string key = string();
                if (!keys.insert(key).second) error_at(key_at, "duplicate key " + json_quote(key));
                skip_ws();
                expect(':', "after a key");
                skip_ws();
                if (key == "__metadata__") {
                    h.metadata = metadata();
                } else {
                    SafeTensorsEntry e = tensor();
                    e.name = key;
                    h.entries.push_back(std::move(e));
                }
                skip_ws();
            } while (accept(','));
            expect('}', "after a member of the header object (or a missing ',')");
        }
        skip_ws();  // the padding
        if (pos_ != s_.size()) error("unexpected " + found() + " after the header object");
        return h;
    }

private:
    const std::string& s_;
    const std::string& source_;
    size_t pos_ = 0;

    [[noreturn]] void error_at(size_t at, const std::string& what) const {
        fail(source_, ": malformed safetensors header at byte ", at, " of the header (file offset ",
             at + 8, "): ", what);
    }
    [[noreturn]] void error(const std::string& what) const { error_at(pos_, what); }

    // What is at the current position, for messages: "'x'", "byte 0x07", "the end of the header".
    std::string found() const {
        if (pos_ >= s_.size()) return "the end of the header";
        unsigned char c = (unsigned char)s_[pos_];
        char buf[16];
        if (c >= 0x20 && c < 0x7F) std::snprintf(buf, sizeof buf, "'%c'", c);
        else std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
        return buf;
    }

    bool at_end() const { return pos_ >= s_.size(); }
    void skip_ws() {
        while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
    }
    bool accept(char c) {
        if (!at_end() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(char c, const char* where) {
        if (!accept(c)) error(std::string("expected '") + c + "' " + where + ", found " + found());
    }

    // string := '"' (char | escape)* '"'; raw bytes must be valid UTF-8, control chars escaped.
    std::string string() {
        if (at_end() || s_[pos_] != '"') error("expected a string, found " + found());
        ++pos_;
        std::string out;
        for (;;) {
            if (at_end()) error("unterminated string");
            unsigned char c = (unsigned char)s_[pos_];
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c < 0x20) error("control character " + found() + " inside a string");
            if (c == '\\') {
                ++pos_;
                escape(out);
                continue;
            }
            size_t n = utf8_sequence_length(s_, pos_);
            if (n == 0) error("invalid UTF-8 (" + found() + ") inside a string");
            out.append(s_, pos_, n);
            pos_ += n;
        }
    }

    // After a backslash: one of  \" \\ \/ \b \f \n \r \t \uXXXX (surrogate pairs joined).
    void escape(std::string& out) {
        if (at_end()) error("unterminated escape");
        char c = s_[pos_++];
        switch (c) {
            case '"': out += '"'; return;
            case '\\': out += '\\'; return;
            case '/': out += '/'; return;
            case 'b': out += '\b'; return;
            case 'f': out += '\f'; return;
            case 'n': out += '\n'; return;
            case 'r': out += '\r'; return;
            case 't': out += '\t'; return;
            case 'u': break;
            default: --pos_; error("invalid escape \\" + found());
        }
        uint32_t cp = hex4();
        if (cp >= 0xDC00 && cp <= 0xDFFF) error("lone low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a \uDC00..\uDFFF must follow
            if (!(accept('\\') && accept('u'))) error("high surrogate not followed by a \\u low surrogate");
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) error("high surrogate not followed by a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        append_utf8(out, cp);
    }
    uint32_t hex4() {
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            if (at_end()) error("unterminated \\u escape");
            char c = s_[pos_];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) error("expected a hex digit in \\u escape, found " + found());
            v = v * 16 + (uint32_t)d;
            ++pos_;
        }
        return v;
    }

    // uint := '0' | [1-9][0-9]*, no sign, fraction or exponent, at most 2^64 - 1.
    uint64_t uint() {
        if (at_end() || s_[pos_] < '0' || s_[pos_] > '9') error("expected a non-negative integer, found " + found());
        size_t start = pos_;
        uint64_t v = 0;
        while (!at_end() && s_[pos_] >= '0' && s_[pos_] <= '9') {
            uint64_t d = (uint64_t)(s_[pos_] - '0');
            if (v > (UINT64_MAX - d) / 10) error_at(start, "integer does not fit in 64 bits");
            v = v * 10 + d;
            ++pos_;
        }
        if (s_[start] == '0' && pos_ - start > 1) error_at(start, "integer with a leading zero");
        if (!at_end() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E'))
            error("expected an integer, found a fraction or exponent");
        return v;
    }

    std::vector<uint64_t> uint_array() {
        std::vector<uint64_t> v;
        expect('[', "to open an array of integers");
        skip_ws();
        if (accept(']')) return v;
        do {
            skip_ws();
            v.push_back(uint());
            skip_ws();
        } while (accept(','));
        expect(']', "to close an array of integers");
        return v;
    }

    // {"dtype": "F32", "shape": [..], "data_offsets": [b, e]} with the keys in any order.
    SafeTensorsEntry tensor() {
        SafeTensorsEntry e;
        size_t open_at = pos_;
        expect('{', "to open a tensor entry");
        bool has_dtype = false, has_shape = false, has_offsets = false;
        skip_ws();
        if (!accept('}')) {
            do {
                skip_ws();
                size_t key_at = pos_;
                std::string key = string();
                skip_ws();
                expect(':', "after a key");
                skip_ws();
                bool* seen = key == "dtype" ? &has_dtype : key == "shape" ? &has_shape
                           : key == "data_offsets" ? &has_offsets : nullptr;
                if (!seen) error_at(key_at, "unknown key " + json_quote(key) + " in a tensor entry");
                if (*seen) error_at(key_at, "duplicate key " + json_quote(key) + " in a tensor entry");
                *seen = true;
                if (key == "dtype") {
                    e.dtype = string();
                } else if (key == "shape") {
                    e.shape = uint_array();
                } else {
                    size_t at = pos_;
                    std::vector<uint64_t> off = uint_array();
                    if (off.size() != 2) error_at(at, "data_offsets must hold 2 integers [begin, end]");
                    e.begin = off[0];
                    e.end = off[1];
                }
                skip_ws();
            } while (accept(','));
            expect('}', "after a member of a tensor entry (or a missing ',')");
        }
        if (!has_dtype || !has_shape || !has_offsets)
            error_at(open_at, std::string("tensor entry without ") +
                                  (!has_dtype ? "\"dtype\"" : !has_shape ? "\"shape\"" : "\"data_offsets\""));
        return e;
    }

    // {"key": "value", ...}: strings only, as the safetensors spec requires.
    std::map<std::string, std::string> metadata() {
        std::map<std::string, std::string> m;
        expect('{', "to open __metadata__");
        skip_ws();
        if (accept('}')) return m;
        do {
            skip_ws();
            size_t key_at = pos_;
            std::string key = string();
            skip_ws();
            expect(':', "after a key");
            skip_ws();
            if (at_end() || s_[pos_] != '"')
                error("__metadata__ values must be strings; " + json_quote(key) + " has " + found());
            std::string value = string();
            if (!m.emplace(key, value).second) error_at(key_at, "duplicate key " + json_quote(key) + " in __metadata__");
            skip_ws();
        } while (accept(','));
        expect('}', "after a member of __metadata__ (or a missing ',')");
        return m;
    }
};

}  // namespace

SafeTensorsHeader parse_safetensors_header(const std::string& json, const std::string& source) {
    return HeaderParser(json, source).header();
}

}  // namespace fw
