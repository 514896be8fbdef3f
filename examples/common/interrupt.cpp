#include "examples/common/interrupt.h"

#include <atomic>
#include <csignal>

namespace fw::interrupt {

static std::atomic<int> g_received{0};

// Async-signal-safe: an atomic store and signal() only.
static void on_signal(int sig) {
    g_received.store(sig);
    std::signal(sig, SIG_DFL);  // the second Ctrl-C ends the process at once
}

void install() {
    static bool installed = false;
    if (installed) return;
    installed = true;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

int received() { return g_received.load(); }

Interrupted::Interrupted(int sig)
    : std::runtime_error("stopped by signal " + std::to_string(sig) + (sig == SIGINT ? " (Ctrl-C)" : "")), signal(sig) {}

void throw_if_received() {
    if (int sig = received()) throw Interrupted(sig);
}

}  // namespace fw::interrupt
