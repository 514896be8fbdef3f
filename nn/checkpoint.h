// A training checkpoint: everything needed to resume a run exactly, in ONE safetensors file
// (nn/safetensors.h), so `safetensors.numpy.load_file("ckpt.safetensors")` opens it too.
//
//   tensors        model.<name>    the parameters being trained, under their module names
//                  ema.<name>      the EMA shadow of each parameter        (absent if no EMA)
//                  optim.<name>    optimizer state, names chosen by the optimizer, e.g.
//                                  optim.adam.m.<param> and optim.adam.v.<param> for Adam's moments
//   __metadata__   format          "fw-train-state"
//                  format_version  "1"
//                  step            optimizer steps taken, e.g. "1200"
//                  rng_seed        the Generator's state (core/rng.h): seed and offset. Decimal
//                  rng_offset      strings: JSON numbers are doubles, exact only up to 2^53.
//                  <anything>      free-form strings from TrainState::meta (config, notes)
//
// Loading copies the file's values INTO the caller's existing tensors (same storage, so an
// optimizer holding those tensors keeps working) and first checks every name and shape. Nothing
// is copied unless everything matches; the error lists every mismatch, missing and extra name.
// Tensors are float32 only (the file reader refuses other dtypes), so there is no dtype to match.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nn/safetensors.h"

namespace fw {

constexpr int kCheckpointFormatVersion = 1;

struct TrainState {
    NamedTensors model;   // saved as "model.<name>"
    NamedTensors ema;     // saved as "ema.<name>"; empty = no EMA
    NamedTensors optim;   // saved as "optim.<name>"; empty = no optimizer state
    int64_t step = 0;
    uint64_t rng_seed = 0, rng_offset = 0;
    std::map<std::string, std::string> meta;  // free-form; must not use the reserved keys above
};

// Writes `s` to `path` atomically (see save_safetensors).
void save_checkpoint(const std::string& path, const TrainState& s);

// A checkpoint file as read, its format and version checked, its numbers parsed.
struct Checkpoint {
    std::string path;
    NamedTensors tensors;                     // every tensor, names with their prefixes
    int64_t step = 0;
    uint64_t rng_seed = 0, rng_offset = 0;
    std::map<std::string, std::string> meta;  // the free-form keys only
};
Checkpoint read_checkpoint(const std::string& path);

// Copies src's tensors "<prefix><name>" into dest's tensors "<name>", after checking that the two
// sets of names are equal and every shape agrees. `dest_what` names dest in messages:
//   checkpoint ck.safetensors: tensor 'model.enc.weight' has shape [8, 4, 3, 3] but the model
//   expects [16, 4, 3, 3]
// Tensors of src outside `prefix` are ignored (a sampler may load only "ema.").
void load_into(const NamedTensors& dest, const Checkpoint& src, const std::string& prefix,
               const std::string& dest_what = "the model");

// Reads `path` and loads it into `into`: model, ema and optim are the destinations (their
// current shapes are what is expected; an empty list expects no tensors under that prefix), then
// step, RNG state and meta are set. Every tensor in the file must land somewhere.
void load_checkpoint(const std::string& path, TrainState& into);

}  // namespace fw
