#include "data/cifar_binary.h"

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "data/image_decode.h"

namespace tinyvit::data {
namespace fs = std::filesystem;
namespace {

const char* const kCifar10Names[] = {"airplane", "automobile", "bird", "cat",  "deer",
                                     "dog",      "frog",       "horse", "ship", "truck"};

std::vector<std::string> read_meta(const fs::path& dir) {
  std::vector<std::string> names;
  std::ifstream in(dir / "batches.meta.txt");
  if (!in) return {kCifar10Names, kCifar10Names + 10};
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    std::size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    names.push_back(line.substr(b));
  }
  if (names.empty()) throw Error((dir / "batches.meta.txt").string() + ": no class names in file");
  return names;
}

void append_file(const fs::path& file, ImageDataset& ds, int side) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) throw Error(file.string() + ": cannot read CIFAR file: " + ec.message());
  if (size == 0 || size % kCifarRecordBytes != 0)
    throw Error(file.string() + ": size " + std::to_string(size) +
                " bytes is not a positive multiple of the 3073-byte CIFAR-10 record "
                "(truncated or not a CIFAR-10 binary file)");
  std::ifstream in(file, std::ios::binary);
  std::vector<uint8_t> raw(size);
  if (!in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(size)))
    throw Error(file.string() + ": read failed");
  const std::size_t n = size / kCifarRecordBytes;
  const std::size_t img = std::size_t(side) * side * 3;
  const std::size_t base = ds.labels.size();
  ds.labels.resize(base + n);
  ds.pixels.resize((base + n) * img);
  std::vector<uint8_t> hwc(32 * 32 * 3);
  for (std::size_t i = 0; i < n; ++i) {
    const uint8_t* rec = raw.data() + i * kCifarRecordBytes;
    const int label = rec[0];
    if (label >= static_cast<int>(ds.class_names.size()))
      throw Error(file.string() + ": record " + std::to_string(i) + " has label " +
                  std::to_string(label) + " but there are only " +
                  std::to_string(ds.class_names.size()) + " classes");
    ds.labels[base + i] = label;
    uint8_t* dst = side == 32 ? ds.pixels.data() + (base + i) * img : hwc.data();
    const uint8_t* planes = rec + 1;
    for (int p = 0; p < 1024; ++p) {
      dst[p * 3 + 0] = planes[p];
      dst[p * 3 + 1] = planes[1024 + p];
      dst[p * 3 + 2] = planes[2048 + p];
    }
    if (side != 32) resize_rgb(hwc.data(), 32, 32, ds.pixels.data() + (base + i) * img, side, side);
  }
}

}  // namespace

bool looks_like_cifar_binary(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return fs::exists(fs::path(path) / "data_batch_1.bin", ec);
  return fs::path(path).extension() == ".bin";
}

ImageDataset load_cifar_binary(const std::string& path, const LoadOptions& options) {
  const int side = options.store_size;
  if (side <= 0 || side > 4096) throw Error("store_size must be in 1..4096, got " + std::to_string(side));
  ImageDataset ds;
  ds.height = ds.width = side;
  std::error_code ec;
  std::vector<fs::path> files;
  fs::path dir;
  if (fs::is_directory(path, ec)) {
    dir = path;
    for (int b = 1; b <= 5; ++b) {
      fs::path f = dir / ("data_batch_" + std::to_string(b) + ".bin");
      if (!fs::exists(f, ec))
        throw Error(f.string() + ": missing (a CIFAR-10 directory needs data_batch_1..5.bin)");
      files.push_back(f);
    }
  } else {
    if (!fs::exists(path, ec)) throw Error(path + ": no such file or directory");
    dir = fs::path(path).parent_path();
    files.push_back(path);
  }
  ds.class_names = read_meta(dir.empty() ? fs::path(".") : dir);
  for (const auto& f : files) append_file(f, ds, side);
  return ds;
}

}  // namespace tinyvit::data
