// Command-line flags for the example programs: `--name VALUE` or `--name=VALUE`, booleans as
// `--name`. Each flag is declared with its default and a help line; -h/--help prints them all.
// CLI11 (Debian's libcli11-dev) splits the command line; this file checks each value, so every
// bad input is an fw::Error of one line that starts with the program and names the flag, the
// value and what is allowed:  "train_mnist: --batch 0: out of range; allowed: 1 to 4096".
// Refused: an unknown flag, a stray argument, a flag given twice, a missing or empty value, a
// flag where a value belongs (`--data --out x`), a value for a boolean (`--resume=1`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/storage.h"

namespace fw::flags {

// The value of a --device flag ("cpu" or "cuda", declared with those choices) as a Device;
// "cuda" without a usable GPU is an error that says why (no device, or built without CUDA).
Device device_from_flag(const std::string& value);

class Parser {
public:
    Parser(std::string program, std::string summary);

    // Declare a flag (before parse). `choices`, if given, are the only allowed values.
    void add_string(const std::string& name, std::string* value, const std::string& help,
                    std::vector<std::string> choices = {});
    void add_int(const std::string& name, int64_t* value, const std::string& help, int64_t min, int64_t max);
    void add_float(const std::string& name, double* value, const std::string& help, double min, double max);
    void add_bool(const std::string& name, bool* value, const std::string& help);  // --name sets true

    // Returns false if -h/--help was given (the help was printed to stdout); throws fw::Error on
    // bad input.
    bool parse(int argc, char** argv);
    std::string help() const;
    bool given(const std::string& name) const;  // set on the command line (not a default)

private:
    enum class Kind { String, Int, Float, Bool };
    struct Flag {
        std::string name, help;
        Kind kind = Kind::String;
        void* value = nullptr;
        std::vector<std::string> choices;  // String: the allowed values (empty: any non-empty value)
        int64_t int_min = 0, int_max = 0;  // Int: the allowed range
        double float_min = 0, float_max = 0;  // Float: the allowed range
        bool given = false;
        std::string default_text;
    };
    Flag& declare(const std::string& name, const std::string& help, Kind kind, void* value);
    const Flag* find(const std::string& name) const;
    void set(Flag& f, const std::vector<std::string>& values);
    std::string allowed_values(const Flag& f) const;
    std::string allowed_flags() const;

    std::string program_, summary_;
    std::vector<Flag> flags_;
};

}  // namespace fw::flags
