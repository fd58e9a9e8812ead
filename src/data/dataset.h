#pragma once
// A decoded image-classification dataset held in memory: uint8 pixels, HWC, RGB.
//   pixels: (N, H, W, 3) row-major, labels: (N,) in [0, num_classes)
// Every source (image folders, .tar.gz archives, CIFAR-10 .bin) decodes into this, and the
// cache file stores exactly this (see docs/formats.md).
#include <cstdint>
#include <string>
#include <vector>

namespace tinyvit::data {

struct ImageDataset {
  int height = 32;
  int width = 32;
  static constexpr int kChannels = 3;
  std::vector<uint8_t> pixels;            // N*H*W*3
  std::vector<int32_t> labels;            // N
  std::vector<std::string> class_names;   // index = label

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  int64_t image_bytes() const { return int64_t(height) * width * kChannels; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
};

struct LoadOptions {
  // Images whose size differs from (store_size x store_size) are resized (area/bilinear) to it.
  int store_size = 32;
  // Skip undecodable images instead of failing; the count is printed.
  bool skip_bad = false;
  // Directory for decoded-dataset cache files ("" = no cache).
  std::string cache_dir;
};

// Loads any supported source:
//   - a directory with one sub-folder per class (JPEG/PNG files; nested dirs allowed),
//   - a .tar.gz / .tgz / .tar archive holding such a tree (classes = the parent folder names),
//   - a CIFAR-10 binary file (data_batch_N.bin / test_batch.bin) or a directory containing
//     data_batch_1..5.bin (train) — batches.meta.txt supplies class names when present.
// With options.cache_dir set, the decoded dataset is cached in a file keyed by the source's
// absolute path, size, mtime and store_size; the second load reads it in well under a second.
// Throws tinyvit::Error naming the offending file on any bad input.
ImageDataset load_dataset(const std::string& path, const LoadOptions& options);

}  // namespace tinyvit::data
