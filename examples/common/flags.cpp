// Flags on top of CLI11. CLI11 splits the command line: which argument is a flag, `--name=VALUE`
// or `--name VALUE`, -h/--help, which arguments no flag took. Every flag is declared to it as a
// plain option that keeps all its values (TakeAll); the values are checked and converted here, so
// the messages are ours: "--batch 0: out of range; allowed: 1 to 4096" where CLI11's range check
// says "--batch: Value 0 not in range 1 to 4096", and "--batch given twice: 5 and 6" where its
// default says "--batch: At Most 1 required but received 2".
//
// Where CLI11 reads an argument differently from what the user meant, we look first:
//   --data= x     CLI11 takes the NEXT argument, x, as the value: refused as an empty value
//   --resume=0    CLI11 reads 1/0/true/false/yes/no there: refused, a boolean takes no value
//   --data --out  CLI11 always takes the next argument as the value, even one of our flags
#include "examples/common/flags.h"

#include <CLI/CLI.hpp>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/cuda/backend.h"
#include "core/error.h"

namespace fw::flags {

Device device_from_flag(const std::string& value) {
    if (value == "cpu") return Device::CPU;
    if (value != "cuda") fail("--device: '", value, "' is not allowed (allowed: cpu, cuda)");
    if (!cuda_available()) fail("--device cuda: ", cuda_unavailable_reason());
    return Device::CUDA;
}

namespace {

std::string number_text(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
    std::string s;
    for (size_t i = 0; i < items.size(); ++i) s += (i == 0 ? "" : sep) + items[i];
    return s;
}

// "twice: 5 and 6", "3 times: 5, 6 and 7" (an empty value shows as "").
std::string repeats(const std::vector<std::string>& values) {
    std::string s = values.size() == 2 ? "twice: " : std::to_string(values.size()) + " times: ";
    for (size_t i = 0; i < values.size(); ++i)
        s += (i == 0 ? "" : i + 1 == values.size() ? " and " : ", ") + (values[i].empty() ? "\"\"" : values[i]);
    return s;
}

bool looks_like_flag(const std::string& text) { return text.rfind("--", 0) == 0 || text == "-h"; }

}  // namespace

Parser::Parser(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

Parser::Flag& Parser::declare(const std::string& name, const std::string& help, Kind kind, void* value) {
    if (find(name) || name == "help") fail(program_, ": flag --", name, " declared twice");
    Flag f;
    f.name = name;
    f.help = help;
    f.kind = kind;
    f.value = value;
    flags_.push_back(f);
    return flags_.back();
}

void Parser::add_string(const std::string& name, std::string* value, const std::string& help,
                        std::vector<std::string> choices) {
    Flag& f = declare(name, help, Kind::String, value);
    f.choices = std::move(choices);
    f.default_text = *value;
}

void Parser::add_int(const std::string& name, int64_t* value, const std::string& help, int64_t min, int64_t max) {
    Flag& f = declare(name, help, Kind::Int, value);
    f.int_min = min;
    f.int_max = max;
    f.default_text = std::to_string(*value);
}

void Parser::add_float(const std::string& name, double* value, const std::string& help, double min, double max) {
    Flag& f = declare(name, help, Kind::Float, value);
    f.float_min = min;
    f.float_max = max;
    f.default_text = number_text(*value);
}

void Parser::add_bool(const std::string& name, bool* value, const std::string& help) {
    Flag& f = declare(name, help, Kind::Bool, value);
    f.default_text = *value ? "on" : "off";
}

const Parser::Flag* Parser::find(const std::string& name) const {
    for (const Flag& f : flags_)
        if (f.name == name) return &f;
    return nullptr;
}

std::string Parser::allowed_flags() const {
    std::string s;
    for (const Flag& f : flags_) s += (s.empty() ? "--" : ", --") + f.name;
    return s + (s.empty() ? "--help" : ", --help");
}

// "; allowed: ddpm, ddim" or "; allowed: 1 to 4096"; "" for a string flag that takes any value.
std::string Parser::allowed_values(const Flag& f) const {
    switch (f.kind) {
        case Kind::String: return f.choices.empty() ? "" : "; allowed: " + join(f.choices, ", ");
        case Kind::Int: return "; allowed: " + std::to_string(f.int_min) + " to " + std::to_string(f.int_max);
        case Kind::Float: return "; allowed: " + number_text(f.float_min) + " to " + number_text(f.float_max);
        case Kind::Bool: break;
    }
    return "";
}

// `values`: what CLI11 collected for f, one per time the flag was given.
void Parser::set(Flag& f, const std::vector<std::string>& values) {
    if (values.empty()) return;
    const std::string flag = program_ + ": --" + f.name;
    if (f.kind == Kind::Bool) {
        if (values.size() > 1) fail(flag, " given ", values.size() == 2 ? "twice" : std::to_string(values.size()) + " times",
                                    "; give it once");
        *static_cast<bool*>(f.value) = true;
        f.given = true;
        return;
    }
    if (values.size() > 1) fail(flag, " given ", repeats(values), "; give it once");
    const std::string& text = values[0];
    if (text.empty()) fail(flag, ": empty value", allowed_values(f));
    const std::string where = flag + " " + text;
    switch (f.kind) {
        case Kind::String: {
            bool ok = f.choices.empty();
            for (const std::string& c : f.choices) ok = ok || c == text;
            if (!ok) fail(where, ": not an allowed value", allowed_values(f));
            *static_cast<std::string*>(f.value) = text;
            break;
        }
        case Kind::Int: {
            char* end = nullptr;
            errno = 0;
            const long long v = std::strtoll(text.c_str(), &end, 10);
            if (std::isspace((unsigned char)text[0]) || *end) fail(where, ": not an integer");
            if (errno == ERANGE || v < f.int_min || v > f.int_max) fail(where, ": out of range", allowed_values(f));
            *static_cast<int64_t*>(f.value) = v;
            break;
        }
        case Kind::Float: {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (std::isspace((unsigned char)text[0]) || *end || !std::isfinite(v)) fail(where, ": not a finite number");
            if (v < f.float_min || v > f.float_max) fail(where, ": out of range", allowed_values(f));
            *static_cast<double*>(f.value) = v;
            break;
        }
        case Kind::Bool: break;
    }
    f.given = true;
}

bool Parser::parse(int argc, char** argv) {
    // `--name=VALUE` forms CLI11 reads differently from us (see the top of this file).
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const size_t eq = arg.find('=');
        if (arg.rfind("--", 0) != 0 || eq == std::string::npos) continue;
        const Flag* f = find(arg.substr(2, eq - 2));
        if (!f) continue;  // CLI11 finds it unknown, below
        if (f->kind == Kind::Bool) fail(program_, ": --", f->name, " takes no value");
        if (eq + 1 == arg.size()) fail(program_, ": --", f->name, ": empty value", allowed_values(*f));
    }

    CLI::App app(summary_, program_);
    app.set_help_flag("-h,--help", "this text");
    std::vector<CLI::Option*> options;
    for (const Flag& f : flags_) {
        CLI::Option* o = f.kind == Kind::Bool ? app.add_flag("--" + f.name) : app.add_option("--" + f.name);
        options.push_back(o->multi_option_policy(CLI::MultiOptionPolicy::TakeAll));
    }
    // `--data --out x`: --data took "--out" as its value (then "x" is left over, if given).
    auto refuse_flags_as_values = [&] {
        for (size_t i = 0; i < flags_.size(); ++i) {
            if (flags_[i].kind == Kind::Bool) continue;
            for (const std::string& v : options[i]->results()) {
                if (!looks_like_flag(v)) continue;
                const std::string name = v == "-h" ? "help" : v.substr(2, v.find('=') - 2);
                fail(program_, ": --", flags_[i].name, " needs a value; ", v,
                     find(name) || name == "help" ? " is a flag" : " looks like a flag");
            }
        }
    };
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::fputs(help().c_str(), stdout);
        return false;
    } catch (const CLI::ExtrasError& e) {
        refuse_flags_as_values();  // the cause of a leftover argument, if it is one
        if (app.remaining().empty()) fail(program_, ": ", e.what());
        const std::string first = app.remaining().front();
        const bool flag_like = first.size() > 1 && first[0] == '-' && (std::isalpha((unsigned char)first[1]) ||
                                                                      (first[1] == '-' && first.size() > 2));
        if (flag_like)
            fail(program_, ": unknown flag ", first.substr(0, first.find('=')), "; allowed flags: ", allowed_flags());
        fail(program_, ": unexpected argument '", first, "'; allowed flags: ", allowed_flags());
    } catch (const CLI::ArgumentMismatch& e) {
        // CLI11 runs out of arguments only at the end of the line: the last one needs a value.
        refuse_flags_as_values();
        const std::string last = argv[argc - 1];
        if (last.rfind("--", 0) == 0 && find(last.substr(2))) fail(program_, ": ", last, " needs a value");
        fail(program_, ": ", e.what());
    } catch (const CLI::ParseError& e) {
        fail(program_, ": ", e.what());  // nothing we declare leads here; kept one line all the same
    }
    refuse_flags_as_values();
    for (size_t i = 0; i < flags_.size(); ++i) set(flags_[i], options[i]->results());
    return true;
}

std::string Parser::help() const {
    std::ostringstream os;
    os << "usage: " << program_ << " [flags]\n" << summary_ << "\n\nflags:\n";
    auto line = [&](const std::string& head, const std::string& text) {
        os << head << std::string(head.size() < 26 ? 26 - head.size() : 1, ' ') << text << "\n";
    };
    for (const Flag& f : flags_) {
        std::string head = "  --" + f.name;
        if (f.kind == Kind::Int) head += " N";
        if (f.kind == Kind::Float) head += " X";
        if (f.kind == Kind::String) head += f.choices.empty() ? " S" : " {" + join(f.choices, "|") + "}";
        line(head, f.help + " (default: " + (f.default_text.empty() ? "none" : f.default_text) + ")");
    }
    line("  -h, --help", "this text");
    return os.str();
}

bool Parser::given(const std::string& name) const {
    const Flag* f = find(name);
    return f && f->given;
}

}  // namespace fw::flags
