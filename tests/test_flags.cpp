// Claims about examples/common/flags (the programs' command lines, on top of CLI11): `--name VALUE`
// and `--name=VALUE` both work; every bad input is one fw::Error line that starts with the program
// and names the flag, the value and what is allowed; nothing is taken silently: not a repeated
// flag, not an empty value, not a flag where a value belongs, not a value for a boolean.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "examples/common/flags.h"
#include "tests/file_util.h"
#include "tests/tempdir.h"

using namespace fw;
using fw::test::contains;
using fw::test::error_of;

namespace {

// The flags of a small program "prog", each kind once, with their defaults.
struct Prog {
    std::string data = "d", sampler = "ddim";
    int64_t steps = 10, offset = 0;
    double lr = 1e-3, shift = 0.0;
    bool resume = false;
    flags::Parser p{"prog", "A test program."};

    Prog() {
        p.add_string("data", &data, "folder");
        p.add_string("sampler", &sampler, "sampler", {"ddpm", "ddim"});
        p.add_int("steps", &steps, "steps", 1, 100);
        p.add_int("offset", &offset, "offset", -5, 5);
        p.add_float("lr", &lr, "learning rate", 1e-7, 1.0);
        p.add_float("shift", &shift, "shift", -1.0, 1.0);
        p.add_bool("resume", &resume, "resume");
    }
    bool parse(std::vector<const char*> args) {
        args.insert(args.begin(), "prog");
        return p.parse((int)args.size(), const_cast<char**>(args.data()));
    }
};

// The message of the error that parsing `args` throws, "" if it parses.
std::string error_for(std::vector<const char*> args) {
    Prog prog;
    return error_of([&] { prog.parse(args); });
}

// What f() writes to stdout (through the C stdio that Parser uses).
template <typename F>
std::string stdout_of(F f) {
    fw::test::TempDir dir;
    const std::string path = dir.file("stdout");
    std::fflush(stdout);
    const int saved = ::dup(1);
    std::FILE* file = std::fopen(path.c_str(), "w");
    REQUIRE(file);
    ::dup2(::fileno(file), 1);
    f();
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(saved);
    std::fclose(file);
    return fw::test::read_bytes(path);
}

}  // namespace

TEST_CASE("flags: --name VALUE and --name=VALUE both set the value; a boolean is --name") {
    Prog prog;
    REQUIRE(prog.parse({"--steps", "20", "--lr=0.01", "--resume", "--sampler", "ddpm", "--data=some/dir"}));
    CHECK(prog.steps == 20);
    CHECK(prog.lr == 0.01);
    CHECK(prog.resume);
    CHECK(prog.sampler == "ddpm");
    CHECK(prog.data == "some/dir");
}

TEST_CASE("flags: given() is true exactly for the flags on the command line, not for defaults") {
    Prog prog;
    REQUIRE(prog.parse({"--steps", "10", "--resume"}));  // --steps given with its default value
    CHECK(prog.p.given("steps"));
    CHECK(prog.p.given("resume"));
    CHECK_FALSE(prog.p.given("data"));
    CHECK_FALSE(prog.p.given("lr"));
    CHECK_FALSE(prog.p.given("no-such-flag"));
    CHECK(prog.data == "d");  // defaults stay
}

TEST_CASE("flags: negative numbers are values where the range allows them, in both forms") {
    Prog prog;
    REQUIRE(prog.parse({"--offset", "-3", "--shift", "-0.5"}));
    CHECK(prog.offset == -3);
    CHECK(prog.shift == -0.5);
    Prog eq;
    REQUIRE(eq.parse({"--offset=-5", "--shift=-1e-1"}));
    CHECK(eq.offset == -5);
    CHECK(eq.shift == -0.1);
}

TEST_CASE("flags: a number outside its range is refused, naming the flag, the value and the range") {
    CHECK(error_for({"--steps", "0"}) == "prog: --steps 0: out of range; allowed: 1 to 100");
    CHECK(error_for({"--steps=101"}) == "prog: --steps 101: out of range; allowed: 1 to 100");
    CHECK(error_for({"--offset", "-6"}) == "prog: --offset -6: out of range; allowed: -5 to 5");
    CHECK(error_for({"--steps", "99999999999999999999"}) ==
          "prog: --steps 99999999999999999999: out of range; allowed: 1 to 100");
    CHECK(error_for({"--lr", "2"}) == "prog: --lr 2: out of range; allowed: 1e-07 to 1");
}

TEST_CASE("flags: the range of a flag up to INT64_MAX is printed exactly") {
    std::string msg;
    int64_t seed = 0;
    flags::Parser p("prog", "test");
    p.add_int("seed", &seed, "seed", 0, INT64_MAX);
    const char* args[] = {"prog", "--seed", "-1"};
    msg = error_of([&] { p.parse(3, const_cast<char**>(args)); });
    CHECK(msg == "prog: --seed -1: out of range; allowed: 0 to 9223372036854775807");
}

TEST_CASE("flags: a value that is not a number is refused, naming the flag and the value") {
    CHECK(error_for({"--steps", "many"}) == "prog: --steps many: not an integer");
    CHECK(error_for({"--steps", "5x"}) == "prog: --steps 5x: not an integer");
    CHECK(error_for({"--steps", "2.5"}) == "prog: --steps 2.5: not an integer");
    CHECK(error_for({"--lr", "abc"}) == "prog: --lr abc: not a finite number");
    CHECK(error_for({"--lr", "nan"}) == "prog: --lr nan: not a finite number");
    CHECK(error_for({"--lr", "inf"}) == "prog: --lr inf: not a finite number");
    CHECK(error_for({"--lr", "1e999"}) == "prog: --lr 1e999: not a finite number");
}

TEST_CASE("flags: a value outside the choices is refused, listing the choices") {
    CHECK(error_for({"--sampler", "euler"}) == "prog: --sampler euler: not an allowed value; allowed: ddpm, ddim");
    CHECK(error_for({"--sampler=DDPM"}) == "prog: --sampler DDPM: not an allowed value; allowed: ddpm, ddim");
}

TEST_CASE("flags: an unknown flag is refused, listing every allowed flag") {
    const std::string list = "; allowed flags: --data, --sampler, --steps, --offset, --lr, --shift, --resume, --help";
    CHECK(error_for({"--stpes", "3"}) == "prog: unknown flag --stpes" + list);
    CHECK(error_for({"--stpes=3"}) == "prog: unknown flag --stpes" + list);
    CHECK(error_for({"-s", "3"}) == "prog: unknown flag -s" + list);
    CHECK(error_for({"-steps", "3"}) == "prog: unknown flag -steps" + list);
}

TEST_CASE("flags: an argument that no flag takes is refused, naming it") {
    CHECK(error_for({"extra"}) == "prog: unexpected argument 'extra'; allowed flags: --data, --sampler, --steps, "
                                  "--offset, --lr, --shift, --resume, --help");
    CHECK(contains(error_for({"--steps", "5", "6"}), "prog: unexpected argument '6'"));
    CHECK(contains(error_for({"--resume", "yes"}), "prog: unexpected argument 'yes'"));
    CHECK(contains(error_for({"--", "x"}), "prog: unexpected argument '--'"));
    CHECK(contains(error_for({"-3"}), "prog: unexpected argument '-3'"));
}

TEST_CASE("flags: a flag given twice is refused, naming the flag and both values") {
    CHECK(error_for({"--steps", "5", "--steps", "6"}) == "prog: --steps given twice: 5 and 6; give it once");
    CHECK(error_for({"--steps", "5", "--steps=5"}) == "prog: --steps given twice: 5 and 5; give it once");
    CHECK(error_for({"--data", "a", "--data", "b", "--data", "c"}) ==
          "prog: --data given 3 times: a, b and c; give it once");
    CHECK(error_for({"--resume", "--resume"}) == "prog: --resume given twice; give it once");
}

TEST_CASE("flags: a flag where a value belongs is refused: --data --out x does not make --out the folder") {
    CHECK(error_for({"--data", "--steps", "5"}) == "prog: --data needs a value; --steps is a flag");
    CHECK(error_for({"--data", "--resume"}) == "prog: --data needs a value; --resume is a flag");
    CHECK(error_for({"--data", "--lr=0.1"}) == "prog: --data needs a value; --lr=0.1 is a flag");
    CHECK(error_for({"--steps", "--help"}) == "prog: --steps needs a value; --help is a flag");
    CHECK(error_for({"--data", "-h"}) == "prog: --data needs a value; -h is a flag");
    CHECK(error_for({"--data", "--dat", "x"}) == "prog: --data needs a value; --dat looks like a flag");
}

TEST_CASE("flags: a flag at the end of the line without its value is refused") {
    CHECK(error_for({"--steps"}) == "prog: --steps needs a value");
    CHECK(error_for({"--resume", "--data"}) == "prog: --data needs a value");
}

TEST_CASE("flags: an empty value is refused for every kind of flag, in both forms") {
    CHECK(error_for({"--data", ""}) == "prog: --data: empty value");
    CHECK(error_for({"--data="}) == "prog: --data: empty value");
    CHECK(error_for({"--data=", "x"}) == "prog: --data: empty value");  // CLI11 alone would take x
    CHECK(error_for({"--sampler", ""}) == "prog: --sampler: empty value; allowed: ddpm, ddim");
    CHECK(error_for({"--steps", ""}) == "prog: --steps: empty value; allowed: 1 to 100");
    CHECK(error_for({"--lr="}) == "prog: --lr: empty value; allowed: 1e-07 to 1");
}

TEST_CASE("flags: a boolean given a value is refused: it takes none") {
    for (const char* arg : {"--resume=1", "--resume=0", "--resume=true", "--resume=false", "--resume="}) {
        INFO(arg);
        CHECK(error_for({arg}) == "prog: --resume takes no value");
    }
}

TEST_CASE("flags: every error is one line that starts with the program's name") {
    const std::vector<std::vector<const char*>> bad = {
        {"--steps", "0"}, {"--lr", "x"}, {"--sampler", "x"}, {"--bogus"}, {"x"}, {"--steps", "1", "--steps", "2"},
        {"--data", "--steps", "3"}, {"--steps"}, {"--data", ""}, {"--resume=1"}, {"-"}, {"---x"}, {""},
    };
    for (const auto& args : bad) {
        const std::string e = error_for(args);
        INFO("args starting with '" << args[0] << "': " << e);
        CHECK(e.rfind("prog: ", 0) == 0);
        CHECK_FALSE(contains(e, "\n"));
    }
}

TEST_CASE("flags: -h and --help print the help to stdout and parse returns false") {
    for (const char* h : {"-h", "--help"}) {
        Prog prog;
        bool result = true;
        const std::string out = stdout_of([&] { result = prog.parse({"--steps", "5", h}); });
        INFO(h << " printed: " << out);
        CHECK_FALSE(result);
        CHECK(out == prog.p.help());
    }
}

TEST_CASE("flags: the help shows usage, summary, and per flag its kind or choices, help and default, aligned") {
    const std::string h = Prog().p.help();
    INFO(h);
    CHECK(h.rfind("usage: prog [flags]\nA test program.\n\nflags:\n", 0) == 0);
    CHECK(contains(h, "\n  --data S                folder (default: d)\n"));
    CHECK(contains(h, "\n  --sampler {ddpm|ddim}   sampler (default: ddim)\n"));
    CHECK(contains(h, "\n  --steps N               steps (default: 10)\n"));
    CHECK(contains(h, "\n  --lr X                  learning rate (default: 0.001)\n"));
    CHECK(contains(h, "\n  --resume                resume (default: off)\n"));
    CHECK(contains(h, "\n  -h, --help              this text\n"));
}

TEST_CASE("flags: a flag declared twice is a programming error, named") {
    Prog prog;
    CHECK(error_of([&] { prog.p.add_int("steps", &prog.steps, "again", 1, 2); }) ==
          "prog: flag --steps declared twice");
}
