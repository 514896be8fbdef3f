// Where the programs write, checked before any long work starts: a folder that cannot be created
// or written is an error at second 0, not after minutes of training or sampling.
#pragma once

#include <string>

#include "core/tensor.h"

namespace fw::outputs {

// Creates `dir` (and its parents) if needed and proves it writable by creating and removing a
// small file in it. Errors name the flag and the reason:
//   --out /x/y: cannot create the folder: Not a directory
//   --out out/a: cannot write files there: Permission denied
void ensure_writable_dir(const std::string& dir, const std::string& flag);

// Samples x (N, 1, H, W) in [-1, 1] as an IDX image file (bytes 0..255), for examples/evaluate or
// any MNIST tool.
void write_samples_idx(const std::string& path, const Tensor& x);

}  // namespace fw::outputs
