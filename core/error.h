// Errors.
//
// Two kinds, kept apart on purpose:
//   * A USER error (bad shapes, bad flag, corrupt file) throws fw::Error with a message that
//     names what was wrong: the op and the shapes, the file and the offset, the flag.
//   * An INTERNAL invariant (a bug in this library) uses FW_ASSERT, which also throws, but says
//     "internal error" and prints the file, the line and the failed condition.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace fw {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Builds a message from any streamable pieces: fail("matmul: ", a, " vs ", b).
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    throw Error(os.str());
}

}  // namespace fw

#define FW_ASSERT(cond, ...)                                                                   \
    do {                                                                                       \
        if (!(cond))                                                                           \
            ::fw::fail("internal error at ", __FILE__, ":", __LINE__, ": ", #cond, " ",        \
                       ##__VA_ARGS__);                                                         \
    } while (0)
