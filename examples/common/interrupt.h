// Ctrl-C (SIGINT) and SIGTERM for the long-running programs.
//
// The first signal only sets a flag; the program's long loops (training steps, every sampler
// step) poll it and stop at the next safe point: train_mnist saves its checkpoint, sample_mnist
// writes nothing half-done. The handler then restores the default action, so a SECOND Ctrl-C
// ends the process at once (a checkpoint is written to a temp file and renamed, so even that
// never leaves a broken one).
#pragma once

#include <stdexcept>
#include <string>

namespace fw::interrupt {

// Installs the handlers for SIGINT and SIGTERM (once; later calls do nothing).
void install();

// The signal number received since install(), or 0.
int received();

// Thrown by throw_if_received(): unwinds a sampler or another long loop to the program's main.
struct Interrupted : std::runtime_error {
    int signal;
    explicit Interrupted(int sig);
};
void throw_if_received();

// The exit status a program stopped by `sig` returns: 128 + sig, as a shell reports it (130 for Ctrl-C).
inline int exit_status(int sig) { return 128 + sig; }

}  // namespace fw::interrupt
