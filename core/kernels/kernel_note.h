// Which algorithm a kernel chose, for the op trace and the profiler (core/watch.h).
//
// A kernel with more than one way to compute its result (conv2d: Winograd, implicit GEMM or
// im2col + GEMM; gemm: which register tile) names the one it takes with note_kernel(). The
// notes are a few pointers to string literals in a thread-local array: writing one costs a
// store whether or not anybody reads it, so kernels note unconditionally. The watcher clears
// the notes before an op runs and reads them after, on the op's own thread (notes written by
// worker threads inside a parallel_for are never read).
#pragma once

#include <string>

namespace fw {

// what: a string literal, e.g. "winograd F(4x4,3x3)"; rows x cols (when > 0): a tile, e.g. the
// GEMM micro-kernel's 12x32. A note equal to the last one is not repeated (a GEMM per image).
void note_kernel(const char* what, int rows = 0, int cols = 0);

void clear_kernel_notes();
// The notes since clear_kernel_notes(), in order, joined by " + " ("" when none).
std::string kernel_notes();

}  // namespace fw
