#pragma once
// Decoded-dataset cache files (layout: docs/formats.md, "Dataset cache file"). Torch-free.
#include <cstdint>
#include <optional>
#include <string>

#include "data/dataset.h"

namespace tinyvit::data {

constexpr uint32_t kCacheVersion = 1;

// Identity of a source: absolute path + size + mtime (+ store_size). For a directory, size and
// mtime are the total size and newest mtime of all files below it.
std::string cache_key(const std::string& source, int store_size);
// cache_dir/dataset-<16 hex digits of hash(key)>.tvcache
std::string cache_file_path(const std::string& cache_dir, const std::string& key);

// Reads a cache file. Returns nullopt when it is missing; when it is corrupt, truncated, of
// another version or of another key, prints why on stderr and returns nullopt.
std::optional<ImageDataset> read_cache(const std::string& file, const std::string& key);
// Writes atomically (tinyvit::write_file_atomic). Throws tinyvit::Error on failure.
void write_cache(const std::string& file, const std::string& key, const ImageDataset& ds);

// 64-bit checksum used by the cache (word-wise multiply-rotate, finalized with splitmix64).
class Checksum {
 public:
  void update(const void* data, std::size_t n);
  uint64_t digest() const;

 private:
  void word(uint64_t w);
  uint64_t h_ = 0x2545F4914F6CDD1DULL;
  uint64_t total_ = 0;
  uint8_t tail_[8] = {};
  std::size_t tail_n_ = 0;
};

}  // namespace tinyvit::data
