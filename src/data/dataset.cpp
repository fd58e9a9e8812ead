// load_dataset(): picks the reader for a source and wraps it with the decoded-dataset cache.
#include "data/dataset.h"

#include <chrono>
#include <filesystem>
#include <iostream>

#include "common/error.h"
#include "data/cifar_binary.h"
#include "data/dataset_cache.h"
#include "data/image_folder.h"

namespace tinyvit::data {
namespace fs = std::filesystem;
namespace {

ImageDataset load_uncached(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(path + ": no such file or directory (expected an image folder, a .tar.gz of one, "
                "or CIFAR-10 .bin data)");
  if (fs::is_directory(path, ec))
    return looks_like_cifar_binary(path) ? load_cifar_binary(path, options)
                                         : load_image_directory(path, options);
  if (is_archive_path(path)) return load_image_archive(path, options);
  if (fs::path(path).extension() == ".bin") return load_cifar_binary(path, options);
  throw Error(path + ": unsupported dataset source (use a directory, .tar/.tar.gz/.tgz, or a "
              "CIFAR-10 .bin file)");
}

}  // namespace

ImageDataset load_dataset(const std::string& path, const LoadOptions& options) {
  if (options.cache_dir.empty()) return load_uncached(path, options);
  if (!fs::exists(path)) return load_uncached(path, options);  // throws the clear error
  const std::string key =
      cache_key(path, options.store_size) + (options.skip_bad ? ";skip_bad=1" : "");
  const std::string file = cache_file_path(options.cache_dir, key);
  if (auto cached = read_cache(file, key)) return std::move(*cached);
  ImageDataset ds = load_uncached(path, options);
  try {
    write_cache(file, key, ds);
  } catch (const std::exception& e) {
    std::cerr << "warning: could not write dataset cache " << file << ": " << e.what() << "\n";
  }
  return ds;
}

}  // namespace tinyvit::data
