#include "tests/run_program.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"

namespace fw::test {

std::string program_path(const std::string& name) {
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) fail("program_path: cannot read /proc/self/exe: ", std::strerror(errno));
    std::string dir(self, (size_t)n);
    dir = dir.substr(0, dir.rfind('/'));         // build/<config>/tests
    dir = dir.substr(0, dir.rfind('/'));         // build/<config>
    const std::string path = dir + "/examples/" + name;
    if (::access(path.c_str(), X_OK) != 0) fail("program_path: ", path, " is not built (make build-tests builds it)");
    return path;
}

ProgramRun run_program(const std::string& name, const std::vector<std::string>& args, const LineCallback& on_line,
                       double timeout_s) {
    const std::string path = program_path(name);
    int out_pipe[2], err_pipe[2];
    if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) fail("run_program: pipe: ", std::strerror(errno));
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid < 0) fail("run_program: fork: ", std::strerror(errno));
    if (pid == 0) {  // the child: stdin from /dev/null, stdout and stderr into the pipes
        const int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        std::signal(SIGINT, SIG_DFL);
        ::execv(path.c_str(), argv.data());
        _exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);

    ProgramRun r;
    std::string pending;  // stdout not yet ended by a newline
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    while (open_fds > 0) {
        if (!r.timed_out && elapsed() > timeout_s) {
            r.timed_out = true;
            ::kill(pid, SIGKILL);
        }
        if (::poll(fds, 2, 100) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
                continue;
            }
            (i == 0 ? r.out : r.err).append(buf, (size_t)n);
            if (i != 0) continue;
            pending.append(buf, (size_t)n);
            for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1))
                if (on_line) on_line(pid, pending.substr(0, nl));
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.seconds = elapsed();
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

}  // namespace fw::test
