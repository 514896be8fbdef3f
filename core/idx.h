// IDX: the file format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), read and
// written plain or gzip-compressed, so that any MNIST tool opens what we write.
//
// Byte layout (all integers are u32 BIG-endian):
//
//   images (idx3-ubyte):  offset 0  magic 0x00000803  (0, 0, type 0x08 = ubyte, 3 dimensions)
//                                4  N      number of images
//                                8  rows
//                               12  cols
//                               16  N * rows * cols pixel bytes, row-major, 0 = background
//   labels (idx1-ubyte):  offset 0  magic 0x00000801  (ubyte, 1 dimension)
//                                4  N
//                                8  N label bytes
//
// A path ending in ".gz" is gzip-compressed; reading goes through zlib's gzread, which also reads
// an uncompressed file as is. Offsets in error messages count bytes of the UNCOMPRESSED stream.
// Every check fails with an fw::Error naming the file and what was expected: the magic bytes found
// and expected, the offset where a truncated file ends and the size its header implies, trailing
// bytes after the data, and image/label counts that disagree.
//
// The header is not trusted for allocation: before the data buffer is allocated, the size it
// claims (header + N * rows * cols bytes, the product checked for overflow) must equal the file's
// size (plain), or be possible for a gzip file (at most 1032 x its compressed size, deflate's
// largest ratio) and equal its uncompressed size (the gzip trailer's ISIZE, or a count by
// decompressing when that disagrees). Otherwise the error names the file, the claimed dimensions,
// the claimed bytes and the size found, and says it was "refused before allocating". A failed
// allocation is an fw::Error naming the file and the bytes asked for, not a bare std::bad_alloc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fw {

constexpr uint32_t kIdxImagesMagic = 0x00000803;  // ubyte, 3 dims (N, rows, cols)
constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // ubyte, 1 dim (N)

struct IdxImages {
    int64_t n = 0;
    int rows = 0, cols = 0;
    std::vector<uint8_t> pixels;  // n * rows * cols bytes, image after image, row-major
};

IdxImages read_idx_images(const std::string& path);
std::vector<uint8_t> read_idx_labels(const std::string& path);

// N from the header alone (magic checked; `magic` is kIdxImagesMagic or kIdxLabelsMagic), without
// reading the data: to compare an image file's count with a label file's before loading either.
int64_t read_idx_count(const std::string& path, uint32_t magic);

// Checks that an image file and a label file describe the same number of examples:
//   "train-images-idx3-ubyte has 60000 images but train-labels-idx1-ubyte has 59999 labels"
void check_idx_counts(const std::string& images_path, int64_t n_images, const std::string& labels_path,
                      int64_t n_labels);

// Write ATOMICALLY (temp file "<path>.tmp.<pid>" in the same folder, then rename): a crash leaves
// either the old file or the new one. A path ending in ".gz" is written gzip-compressed.
// `pixels` holds n * rows * cols bytes; `labels` holds n bytes.
void write_idx_images(const std::string& path, int64_t n, int rows, int cols, const uint8_t* pixels);
void write_idx_labels(const std::string& path, int64_t n, const uint8_t* labels);

}  // namespace fw
