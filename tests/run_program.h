// Runs one of the example programs (build/<config>/examples/NAME, found beside this test binary)
// as a child process, the way a user's shell would, and collects its exit status, stdout and
// stderr. A callback sees each stdout line as it arrives and may signal the child (to test
// Ctrl-C at a chosen moment). A child still running after `timeout_s` is killed, and that is
// reported, not waited for.
#pragma once

#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace fw::test {

struct ProgramRun {
    int exit_code = -1;   // the status a shell shows: the exit code, or 128 + signal if killed
    std::string out, err;
    double seconds = 0;   // wall time from start to exit
    bool timed_out = false;
};

// The path of examples/NAME in the build this test binary belongs to.
std::string program_path(const std::string& name);

using LineCallback = std::function<void(pid_t child, const std::string& line)>;

ProgramRun run_program(const std::string& name, const std::vector<std::string>& args,
                       const LineCallback& on_stdout_line = nullptr, double timeout_s = 300);

}  // namespace fw::test
