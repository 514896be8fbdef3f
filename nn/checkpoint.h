// A training checkpoint: everything needed to resume a run exactly, in ONE safetensors file
// (nn/safetensors.h), so `safetensors.numpy.load_file("ckpt.safetensors")` opens it too.
//
//   tensors        model.<name>    the parameters being trained, under their module names
//                  ema.<name>      the EMA shadow of each parameter        (absent if no EMA)
//                  optim.<name>    optimizer state, names chosen by the optimizer, e.g.
//                                  optim.adam.m.<param> and optim.adam.v.<param> for Adam's moments
//   __metadata__   format          "fw-train-state"
//                  format_version  "2"
//                  step            optimizer steps taken, e.g. "1200"
//                  rng_seed        the Generator's state (core/rng.h): seed and offset. Decimal
//                  rng_offset      strings: JSON numbers are doubles, exact only up to 2^53.
//                  crc32.<tensor>  one per tensor, e.g. "crc32.ema.enc0.conv1.weight": "1a2b3c4d",
//                                  the CRC-32 (zlib's crc32(), as in gzip and PNG) of the tensor's
//                                  bytes as they lie in the data section, 8 lowercase hex digits
//                                  (in Python: format(zlib.crc32(t.tobytes()), "08x"))
//                  <anything>      free-form strings from TrainState::meta (config, notes); the
//                                  keys above and any "crc32." key are reserved
//
// Nothing silent: safetensors itself has no checksum, so one flipped bit in a weight (0.287 ->
// 9.8e37) would load without a word, and one NaN in the EMA weights would make a sampler draw
// black images. So save_checkpoint refuses to write a NaN or Inf (naming the tensor, the index and
// the value; the previous file stays as it was), and read_checkpoint refuses a tensor whose bytes
// fail their CRC-32, or that holds a NaN or Inf. Each refusal is a SafeTensorsError of kind
// Checksum or NonFinite (Metadata for a missing or garbled key, format or version).
//
// Versions: 1 had no crc32 keys; such files are still read (without the CRC check, with the NaN
// check). Version 2 added the crc32 keys.
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

constexpr int kCheckpointFormatVersion = 2;

struct TrainState {
    NamedTensors model;   // saved as "model.<name>"
    NamedTensors ema;     // saved as "ema.<name>"; empty = no EMA
    NamedTensors optim;   // saved as "optim.<name>"; empty = no optimizer state
    int64_t step = 0;
    uint64_t rng_seed = 0, rng_offset = 0;
    std::map<std::string, std::string> meta;  // free-form; must not use the reserved keys above
};

// Writes `s` to `path` atomically (see save_safetensors), with a CRC-32 of every tensor. Refuses
// (SafeTensorsError, kind NonFinite; nothing written) a tensor holding NaN or Inf:
//   save_checkpoint out/ck.safetensors: tensor 'ema.enc0.conv.weight' holds NaN at index 17
//   ([0, 0, 1, 2]); refusing to write a checkpoint with non-finite values
void save_checkpoint(const std::string& path, const TrainState& s);

// A checkpoint file as read: its format and version checked, every tensor's CRC-32 verified
// (version 2) and every value finite, its numbers parsed.
struct Checkpoint {
    std::string path;
    NamedTensors tensors;                     // every tensor, names with their prefixes
    int64_t step = 0;
    uint64_t rng_seed = 0, rng_offset = 0;
    std::map<std::string, std::string> meta;  // the free-form keys only

    // The free-form metadata, read with errors that name the checkpoint and the key:
    //   checkpoint out/ck.safetensors: setting 'base' = 'abc' is not an integer in [8, 512]
    bool has(const std::string& key) const;
    const std::string& setting(const std::string& key) const;                    // missing -> error
    int64_t setting_int(const std::string& key, int64_t min, int64_t max) const;  // strict decimal, range-checked
    double setting_double(const std::string& key) const;                          // strict, finite
};
// Throws SafeTensorsError: the file's own kinds (nn/safetensors.h), or Metadata, Checksum or
// NonFinite, naming the file and the tensor:
//   checkpoint ck.safetensors: tensor 'ema.w' fails its CRC-32 check (stored 1a2b3c4d, computed
//   5e6f7a8b): the file is corrupt
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
