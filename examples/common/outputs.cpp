#include "examples/common/outputs.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unistd.h>
#include <vector>

#include "core/error.h"
#include "core/idx.h"
#include "examples/common/mnist_data.h"

namespace fw::outputs {

void ensure_writable_dir(const std::string& dir, const std::string& flag) {
    if (dir.empty()) fail(flag, ": empty folder name");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) fail(flag, " ", dir, ": cannot create the folder: ", ec.message());
    if (!std::filesystem::is_directory(dir)) fail(flag, " ", dir, ": is not a folder");
    const std::string probe = dir + "/.write-test-" + std::to_string(::getpid());
    std::FILE* f = std::fopen(probe.c_str(), "wb");
    const int err = errno;
    if (!f) fail(flag, " ", dir, ": cannot write files there: ", std::strerror(err));
    const bool ok = std::fputc('x', f) != EOF && std::fclose(f) == 0;
    std::remove(probe.c_str());
    if (!ok) fail(flag, " ", dir, ": cannot write files there (the test write failed: disk full?)");
}

void write_samples_idx(const std::string& path, const Tensor& x) {
    std::vector<uint8_t> bytes((size_t)x.numel());
    data::unit_range_to_bytes(x.data(), x.numel(), bytes.data());
    write_idx_images(path, x.size(0), (int)x.size(2), (int)x.size(3), bytes.data());
}

}  // namespace fw::outputs
