// safetensors: the tensor file format of Hugging Face (https://github.com/huggingface/safetensors),
// so that Python (`safetensors.numpy.load_file`, `safetensors.torch.load_file`) opens our files.
// This file is only the format; what a training checkpoint holds is in nn/checkpoint.h.
//
// Byte layout of a file:
//
//   offset 0        8                      8 + N                                    end of file
//          +--------+----------------------+------------------------------------------+
//          |   N    |  header: N bytes of  |  data section: the tensors' raw bytes,   |
//          | u64 LE |  UTF-8 JSON, padded  |  little-endian, one after another, no    |
//          |        |  with ' ' to 8k bytes|  gaps; offsets below count from here     |
//          +--------+----------------------+------------------------------------------+
//
// The header is one JSON object:
//
//   {"__metadata__": {"step": "1200", ...},                           <- optional; strings only
//    "enc.weight": {"dtype": "F32", "shape": [16, 4, 3, 3], "data_offsets": [0, 2304]},
//    "enc.bias":   {"dtype": "F32", "shape": [16],          "data_offsets": [2304, 2368]},
//    "t":          {"dtype": "F32", "shape": [],            "data_offsets": [2368, 2372]}}
//
//   * data_offsets = [begin, end) in bytes, relative to the start of the data section, and
//     end - begin = numel(shape) * sizeof(dtype). A 0-d tensor has shape [] and 1 element; an
//     empty tensor has a 0 in its shape and begin == end.
//   * The tensors tile the data section exactly: sorted by begin, each starts where the previous
//     ends, the first at 0, the last ends at the end of the file.
//   * We write the tensors in the order given, padding the header with spaces so that the data
//     starts at a multiple of 8 bytes. We read any valid file, padded or not.
//
// Only F32 is supported (Tensor is float32). Reading a file with another dtype (F16, BF16, I64,
// ...) fails with a message naming the tensor and its dtype. Every check on a file we read fails
// with a SafeTensorsError naming the file and what was wrong, and carrying the KIND of problem
// (below) for code and tests to check; a corrupt or truncated file never crashes.
#pragma once

#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace fw {

// Why a file was refused. The message says it in words; the kind says it to a program (e.g. a
// trainer that falls back to an older checkpoint when the newest is Truncated or fails Checksum).
struct SafeTensorsError : Error {
    enum class Kind {
        Io,          // cannot open, read or write the file
        Truncated,   // the file ends early: under 8 bytes, or before the header or a tensor ends
        HeaderSize,  // the header length is above the 100 MB limit
        Json,        // the header is not JSON: syntax, invalid UTF-8, a NUL byte, no leading '{'
        Schema,      // JSON, but not a safetensors header: wrong type, unknown/missing/duplicate key,
                     // a negative or fractional number, data_offsets not [begin, end]
        Dtype,       // a dtype other than F32
        Shape,       // a shape too large, or one that disagrees with its data_offsets
        Offsets,     // data_offsets that end before they begin
        Overlap,     // two tensors share bytes
        Gap,         // bytes of the data section that belong to no tensor
        Metadata,    // (checkpoints) a missing or malformed __metadata__ entry, format or version
        Checksum,    // (checkpoints) a tensor's bytes fail their stored CRC-32
        NonFinite,   // (checkpoints) a tensor holds NaN or Inf
    };
    Kind kind;
    SafeTensorsError(Kind kind, const std::string& message) : Error(message), kind(kind) {}
};

const char* to_string(SafeTensorsError::Kind kind);  // "Truncated", ...
inline std::ostream& operator<<(std::ostream& os, SafeTensorsError::Kind kind) { return os << to_string(kind); }

// fail() with a kind: refuse(Kind::Dtype, path, ": tensor '", name, "' has dtype ", dtype).
template <typename... Parts>
[[noreturn]] void refuse(SafeTensorsError::Kind kind, const Parts&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    throw SafeTensorsError(kind, os.str());
}

struct SafeTensors {
    NamedTensors tensors;                          // in data-section order (= the order written)
    std::map<std::string, std::string> metadata;   // "__metadata__"; empty if absent
};

// Writes `tensors` (float32 on any device: a GPU tensor is copied to the host; unique non-empty
// names) and `metadata` to `path` ATOMICALLY:
// the bytes go to "<path>.tmp.<pid>" in the same folder, are fflush'ed and fsync'ed, and then
// renamed over `path`. A crash at any moment leaves either the old file or the new one. On any
// error the temp file is removed and an fw::Error names the file (a SafeTensorsError of kind Io
// when the file system refused).
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates a whole file. Throws SafeTensorsError("<path>: ...") on anything malformed.
SafeTensors load_safetensors(const std::string& path);

// The same two, in memory: the complete file as bytes. `source` names the bytes in error
// messages (a file name, or "<memory>").
std::string encode_safetensors(const NamedTensors& tensors,
                               const std::map<std::string, std::string>& metadata = {});
SafeTensors decode_safetensors(const std::string& bytes, const std::string& source);

}  // namespace fw
