#include "data/dataset_cache.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "data/rng.h"

namespace tinyvit::data {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[8] = {'T', 'V', 'D', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kMaxString = 1u << 20;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t get_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

// Reads exactly n bytes, feeding the checksum; false on short read.
bool read_exact(std::ifstream& in, void* dst, std::size_t n, Checksum& sum) {
  if (n == 0) return true;
  if (!in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n))) return false;
  sum.update(dst, n);
  return true;
}

}  // namespace

void Checksum::word(uint64_t w) {
  h_ ^= w * 0x9E3779B97F4A7C15ULL;
  h_ = rotl(h_, 31) * 0xC2B2AE3D27D4EB4FULL;
}

void Checksum::update(const void* data, std::size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  total_ += n;
  if (tail_n_ > 0) {
    const std::size_t take = std::min<std::size_t>(n, sizeof tail_ - tail_n_);
    std::memcpy(tail_ + tail_n_, p, take);
    tail_n_ += take;
    p += take;
    n -= take;
    if (tail_n_ < sizeof tail_) return;
    word(get_le(tail_, 8));
    tail_n_ = 0;
  }
  if (n == 0) return;  // tail_ is now empty
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);  // little-endian hosts; the format is defined little-endian
    word(w);
  }
  std::memcpy(tail_, p, n);
  tail_n_ = n;
}

uint64_t Checksum::digest() const {
  uint64_t h = h_;
  for (std::size_t i = 0; i < tail_n_; ++i) h = (h ^ tail_[i]) * 0x100000001B3ULL;
  return mix64(h ^ total_);
}

std::string cache_key(const std::string& source, int store_size) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(source), ec);
  if (ec) abs = fs::absolute(source);
  uint64_t size = 0, files = 0;
  int64_t mtime = 0;
  if (fs::is_directory(abs, ec)) {
    for (fs::recursive_directory_iterator it(abs, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      ++files;
      size += it->file_size();
      mtime = std::max<int64_t>(mtime, it->last_write_time().time_since_epoch().count());
    }
  } else {
    size = fs::file_size(abs, ec);
    if (ec) throw Error(source + ": cannot stat: " + ec.message());
    mtime = fs::last_write_time(abs, ec).time_since_epoch().count();
    files = 1;
  }
  return "source=" + abs.string() + ";files=" + std::to_string(files) + ";size=" +
         std::to_string(size) + ";mtime=" + std::to_string(mtime) +
         ";store_size=" + std::to_string(store_size) + ";version=" + std::to_string(kCacheVersion);
}

std::string cache_file_path(const std::string& cache_dir, const std::string& key) {
  Checksum c;
  c.update(key.data(), key.size());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(c.digest()));
  return (fs::path(cache_dir) / ("dataset-" + std::string(hex) + ".tvcache")).string();
}

std::optional<ImageDataset> read_cache(const std::string& file, const std::string& key) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  const uint64_t file_size = fs::file_size(file, ec);
  auto bad = [&](const std::string& why) -> std::optional<ImageDataset> {
    std::cerr << "dataset cache " << file << " is unusable (" << why << "); rebuilding it\n";
    return std::nullopt;
  };
  std::ifstream in(file, std::ios::binary);
  if (!in || ec) return bad("cannot open");
  Checksum sum;
  uint8_t head[40];
  if (!read_exact(in, head, sizeof head, sum)) return bad("truncated header");
  if (std::memcmp(head, kMagic, 8) != 0) return bad("bad magic");
  const auto version = static_cast<uint32_t>(get_le(head + 8, 4));
  if (version != kCacheVersion) return bad("version " + std::to_string(version));
  ImageDataset ds;
  ds.height = static_cast<int>(get_le(head + 12, 4));
  ds.width = static_cast<int>(get_le(head + 16, 4));
  const auto channels = get_le(head + 20, 4);
  const uint64_t n = get_le(head + 24, 8);
  const auto num_classes = static_cast<uint32_t>(get_le(head + 32, 4));
  const auto key_len = static_cast<uint32_t>(get_le(head + 36, 4));
  if (channels != 3 || ds.height <= 0 || ds.width <= 0 || ds.height > 4096 || ds.width > 4096 ||
      key_len > kMaxString || num_classes > 100000)
    return bad("bad header");
  const uint64_t img = uint64_t(ds.height) * ds.width * 3;
  if (n > file_size || n * (img + 4) > file_size) return bad("size does not match header");
  std::string stored_key(key_len, '\0');
  if (!read_exact(in, stored_key.data(), key_len, sum)) return bad("truncated");
  if (stored_key != key) return bad("written for another source");
  uint64_t names_bytes = 0;
  for (uint32_t c = 0; c < num_classes; ++c) {
    uint8_t lenb[4];
    if (!read_exact(in, lenb, 4, sum)) return bad("truncated class names");
    const auto len = static_cast<uint32_t>(get_le(lenb, 4));
    if (len > kMaxString) return bad("bad class name length");
    std::string name(len, '\0');
    if (!read_exact(in, name.data(), len, sum)) return bad("truncated class names");
    ds.class_names.push_back(std::move(name));
    names_bytes += 4 + len;
  }
  const uint64_t expected = 40 + key_len + names_bytes + n * 4 + n * img + 8;
  if (file_size != expected)
    return bad("file is " + std::to_string(file_size) + " bytes, header says " + std::to_string(expected));
  ds.labels.resize(n);
  if (!read_exact(in, ds.labels.data(), n * 4, sum)) return bad("truncated labels");
  ds.pixels.resize(n * img);
  if (!read_exact(in, ds.pixels.data(), n * img, sum)) return bad("truncated pixels");
  uint8_t tail[8];
  if (!in.read(reinterpret_cast<char*>(tail), 8)) return bad("truncated checksum");
  if (get_le(tail, 8) != sum.digest()) return bad("checksum mismatch");
  for (int32_t l : ds.labels)
    if (l < 0 || uint32_t(l) >= num_classes) return bad("label out of range");
  return ds;
}

void write_cache(const std::string& file, const std::string& key, const ImageDataset& ds) {
  std::string head(kMagic, 8);
  put_u32(head, kCacheVersion);
  put_u32(head, static_cast<uint32_t>(ds.height));
  put_u32(head, static_cast<uint32_t>(ds.width));
  put_u32(head, 3);
  put_u64(head, static_cast<uint64_t>(ds.size()));
  put_u32(head, static_cast<uint32_t>(ds.class_names.size()));
  put_u32(head, static_cast<uint32_t>(key.size()));
  head += key;
  for (const auto& name : ds.class_names) {
    put_u32(head, static_cast<uint32_t>(name.size()));
    head += name;
  }
  std::error_code ec;
  const fs::path parent = fs::path(file).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  write_file_atomic(file, [&](std::ostream& os) {
    Checksum sum;
    auto put = [&](const void* p, std::size_t n) {
      sum.update(p, n);
      os.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    };
    put(head.data(), head.size());
    put(ds.labels.data(), ds.labels.size() * 4);
    put(ds.pixels.data(), ds.pixels.size());
    std::string tail;
    put_u64(tail, sum.digest());
    os.write(tail.data(), 8);
  });
}

}  // namespace tinyvit::data
