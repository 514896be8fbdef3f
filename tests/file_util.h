// Small helpers for tests that write and corrupt files: whole-file bytes in and out, and the
// message of an fw::Error (so a test can compare it with the exact text a user would see).
#pragma once

#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"

namespace fw::test {

inline std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), (std::streamsize)bytes.size());
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The message of the fw::Error that f() throws, or "" if it does not throw.
template <typename F>
std::string error_of(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace fw::test
