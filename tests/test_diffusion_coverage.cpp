// Claim: every equation listed in diffusion/README.md's table has at least one test named
// "Eq. N: ..." among tests/*.cpp, and every such test names an equation the table lists.
// The tests are found by reading the test sources (run from the repository root, as `make test`
// does), so the check is only as good as the names: each name says which equation it checks.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Table rows of the form "| 11 | ... |": the equation numbers the README says are code.
std::set<int> listed_equations(const std::string& readme) {
    std::set<int> eqs;
    std::regex row(R"(^\|\s*(\d+)\s*\|)");
    std::istringstream lines(readme);
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (std::regex_search(line, m, row)) eqs.insert(std::stoi(m[1]));
    }
    return eqs;
}

// Equation numbers N of every TEST_CASE("Eq. N: ...") in tests/*.cpp.
std::set<int> tested_equations() {
    std::set<int> eqs;
    std::regex name(R"(TEST_CASE\(\s*"Eq\. (\d+):)");
    for (const auto& entry : std::filesystem::directory_iterator("tests")) {
        if (entry.path().extension() != ".cpp") continue;
        const std::string src = read_all(entry.path().string());
        for (auto it = std::sregex_iterator(src.begin(), src.end(), name); it != std::sregex_iterator(); ++it)
            eqs.insert(std::stoi((*it)[1]));
    }
    return eqs;
}

}  // namespace

TEST_CASE("every equation in diffusion/README.md has a test named \"Eq. N: ...\", and vice versa") {
    const std::string path = "diffusion/README.md";
    REQUIRE_MESSAGE(std::filesystem::exists(path),
                    "cannot read " << path << ": run the tests from the repository root (make test does)");
    REQUIRE_MESSAGE(std::filesystem::is_directory("tests"),
                    "no tests/ folder here: run the tests from the repository root (make test does)");
    const std::set<int> listed = listed_equations(read_all(path));
    const std::set<int> tested = tested_equations();
    // every equation of DERIVATION.md, 1 to 21, is code (Eqs. 8-10 and 19: diffusion/bound.h)
    for (int eq = 1; eq <= 21; ++eq) {
        INFO("Eq. " << eq << " is code but has no row in " << path);
        CHECK(listed.count(eq) == 1);
    }
    for (int eq : listed) {
        INFO("Eq. " << eq << " is listed in " << path << " but no TEST_CASE is named \"Eq. " << eq << ": ...\"");
        CHECK(tested.count(eq) == 1);
    }
    for (int eq : tested) {
        INFO("a test is named \"Eq. " << eq << ": ...\" but " << path << " has no row for Eq. " << eq);
        CHECK(listed.count(eq) == 1);
    }
}
