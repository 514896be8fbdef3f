// A fresh folder under the system temp directory (mkdtemp), removed with everything in it when
// the TempDir goes out of scope. For tests that write files.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>

#include "core/error.h"

namespace fw::test {

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "fw-test-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) fail("TempDir: mkdtemp failed for ", tmpl);
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

    // The names of the entries in the folder (not recursive).
    std::set<std::string> list() const {
        std::set<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(path_)) names.insert(e.path().filename().string());
        return names;
    }

private:
    std::string path_;
};

}  // namespace fw::test
