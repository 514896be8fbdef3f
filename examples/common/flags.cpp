#include "examples/common/flags.h"

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

Parser::Parser(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

static std::string number_text(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

Parser::Flag& Parser::declare(const std::string& name, const std::string& help, Kind kind, void* value) {
    if (find(name)) fail(program_, ": flag --", name, " declared twice");
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
    f.min = (double)min;
    f.max = (double)max;
    f.default_text = std::to_string(*value);
}

void Parser::add_float(const std::string& name, double* value, const std::string& help, double min, double max) {
    Flag& f = declare(name, help, Kind::Float, value);
    f.min = min;
    f.max = max;
    f.default_text = number_text(*value);
}

void Parser::add_bool(const std::string& name, bool* value, const std::string& help) {
    Flag& f = declare(name, help, Kind::Bool, value);
    f.default_text = *value ? "on" : "off";
}

Parser::Flag* Parser::find(const std::string& name) {
    for (Flag& f : flags_)
        if (f.name == name) return &f;
    return nullptr;
}

std::string Parser::allowed() const {
    std::string s;
    for (const Flag& f : flags_) s += (s.empty() ? "--" : ", --") + f.name;
    return s + ", --help";
}

void Parser::set(Flag& f, const std::string& text) {
    const std::string where = program_ + ": --" + f.name + " " + text;
    switch (f.kind) {
        case Kind::String: {
            if (!f.choices.empty()) {
                bool ok = false;
                std::string list;
                for (const std::string& c : f.choices) {
                    ok = ok || c == text;
                    list += (list.empty() ? "" : ", ") + c;
                }
                if (!ok) fail(where, ": not an allowed value; allowed: ", list);
            }
            *static_cast<std::string*>(f.value) = text;
            break;
        }
        case Kind::Int: {
            char* end = nullptr;
            errno = 0;
            long long v = std::strtoll(text.c_str(), &end, 10);
            if (text.empty() || *end || errno) fail(where, ": not an integer");
            if (v < f.min || v > f.max)
                fail(where, ": out of range; allowed: ", (long long)f.min, " to ", (long long)f.max);
            *static_cast<int64_t*>(f.value) = v;
            break;
        }
        case Kind::Float: {
            char* end = nullptr;
            errno = 0;
            double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end || errno || !std::isfinite(v)) fail(where, ": not a finite number");
            if (v < f.min || v > f.max) fail(where, ": out of range; allowed: ", f.min, " to ", f.max);
            *static_cast<double*>(f.value) = v;
            break;
        }
        case Kind::Bool: *static_cast<bool*>(f.value) = true; break;
    }
    f.given = true;
}

bool Parser::parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(help().c_str(), stdout);
            return false;
        }
        if (arg.rfind("--", 0) != 0) fail(program_, ": unexpected argument '", arg, "'; allowed flags: ", allowed());
        std::string name = arg.substr(2), value;
        bool has_value = false;
        size_t eq = name.find('=');
        if (eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            has_value = true;
        }
        Flag* f = find(name);
        if (!f) fail(program_, ": unknown flag --", name, "; allowed flags: ", allowed());
        if (f->kind == Kind::Bool) {
            if (has_value) fail(program_, ": --", name, " takes no value");
            set(*f, "");
            continue;
        }
        if (!has_value) {
            if (i + 1 >= argc) fail(program_, ": --", name, " needs a value");
            value = argv[++i];
        }
        set(*f, value);
    }
    return true;
}

std::string Parser::help() const {
    std::ostringstream os;
    os << "usage: " << program_ << " [flags]\n" << summary_ << "\n\nflags:\n";
    for (const Flag& f : flags_) {
        std::string head = "  --" + f.name;
        if (f.kind == Kind::Int) head += " N";
        if (f.kind == Kind::Float) head += " X";
        if (f.kind == Kind::String) head += f.choices.empty() ? " S" : " {" + [&] {
            std::string l;
            for (const std::string& c : f.choices) l += (l.empty() ? "" : "|") + c;
            return l;
        }() + "}";
        os << head << std::string(head.size() < 26 ? 26 - head.size() : 1, ' ') << f.help << " (default: "
           << (f.default_text.empty() ? "none" : f.default_text) << ")\n";
    }
    os << "  --help                  this text\n";
    return os.str();
}

bool Parser::given(const std::string& name) const {
    for (const Flag& f : flags_)
        if (f.name == name) return f.given;
    return false;
}

}  // namespace fw::flags
