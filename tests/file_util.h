// Small helpers for tests that write and corrupt files: whole-file bytes in and out, the
// message of an fw::Error (so a test can compare it with the exact text a user would see), and
// what a load did: loaded, or refused with which SafeTensorsError kind.
#pragma once

#include <exception>
#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"
#include "nn/safetensors.h"

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

// What f() did. `refused`: it threw a SafeTensorsError, of `kind`. `other`: it threw something
// else (a plain fw::Error, a std::exception from a library), which no file should cause.
struct Outcome {
    bool refused = false, other = false;
    SafeTensorsError::Kind kind{};
    std::string message;
};

template <typename F>
Outcome outcome_of(F f) {
    Outcome o;
    try {
        f();
    } catch (const SafeTensorsError& e) {
        o.refused = true;
        o.kind = e.kind;
        o.message = e.what();
    } catch (const std::exception& e) {
        o.other = true;
        o.message = e.what();
    }
    return o;
}

}  // namespace fw::test
