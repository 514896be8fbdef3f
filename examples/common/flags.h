// Command-line flags for the example programs: `--name VALUE` or `--name=VALUE`, booleans as
// `--name`. Each flag is declared with its default and a help line; --help prints them all.
// Any unknown flag or bad value is an fw::Error that names the flag and lists what is allowed.
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

    // Returns false if --help was given (the help was printed to stdout); throws on bad input.
    bool parse(int argc, char** argv);
    std::string help() const;
    bool given(const std::string& name) const;  // set on the command line (not a default)

private:
    enum class Kind { String, Int, Float, Bool };
    struct Flag {
        std::string name, help;
        Kind kind = Kind::String;
        void* value = nullptr;
        std::vector<std::string> choices;
        double min = 0, max = 0;
        bool given = false;
        std::string default_text;
    };
    Flag& declare(const std::string& name, const std::string& help, Kind kind, void* value);
    Flag* find(const std::string& name);
    void set(Flag& f, const std::string& text);
    std::string allowed() const;

    std::string program_, summary_;
    std::vector<Flag> flags_;
};

}  // namespace fw::flags
