#pragma once
// Helpers for the data tests: temporary directories and files written with the real encoders.
#include <archive.h>
#include <archive_entry.h>
#include <png.h>
#include <turbojpeg.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tvtest {
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("tinyvit-data-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string str(const std::string& rel = "") const { return (rel.empty() ? path_ : path_ / rel).string(); }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& p, const std::vector<uint8_t>& bytes) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A smooth, deterministic RGB test pattern (JPEG-friendly), h*w*3 HWC.
inline std::vector<uint8_t> pattern(int h, int w, int seed = 0) {
  std::vector<uint8_t> px(std::size_t(h) * w * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = px.data() + (std::size_t(y) * w + x) * 3;
      p[0] = static_cast<uint8_t>((x * 255) / (w > 1 ? w - 1 : 1));
      p[1] = static_cast<uint8_t>((y * 255) / (h > 1 ? h - 1 : 1));
      p[2] = static_cast<uint8_t>((seed * 37 + 64) % 256);
    }
  return px;
}

inline std::vector<uint8_t> encode_jpeg(const std::vector<uint8_t>& rgb, int h, int w, int quality,
                                        bool gray = false) {
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(tj, rgb.data(), w, 0, h, gray ? TJPF_GRAY : TJPF_RGB, &buf, &size,
                             gray ? TJSAMP_GRAY : TJSAMP_444, quality, TJFLAG_ACCURATEDCT);
  if (rc != 0) throw std::runtime_error(tjGetErrorStr2(tj));
  std::vector<uint8_t> out(buf, buf + size);
  tjFree(buf);
  tjDestroy(tj);
  return out;
}

// format: PNG_FORMAT_RGB, PNG_FORMAT_GRAY, PNG_FORMAT_RGBA; data has the matching channels.
inline std::vector<uint8_t> encode_png(const std::vector<uint8_t>& data, int h, int w,
                                       png_uint_32 format = PNG_FORMAT_RGB) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(w);
  img.height = static_cast<png_uint_32>(h);
  img.format = format;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&img, nullptr, &size, 0, data.data(), 0, nullptr))
    throw std::runtime_error(img.message);
  std::vector<uint8_t> out(size);
  if (!png_image_write_to_memory(&img, out.data(), &size, 0, data.data(), 0, nullptr))
    throw std::runtime_error(img.message);
  out.resize(size);
  return out;
}

// Writes a .tar.gz (gzip_filter) or plain .tar holding the given (member path, bytes) files.
inline void write_tar(const fs::path& p, const std::vector<std::pair<std::string, std::vector<uint8_t>>>& files,
                      bool gzip = true) {
  archive* a = archive_write_new();
  if (gzip) archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  if (archive_write_open_filename(a, p.string().c_str()) != ARCHIVE_OK)
    throw std::runtime_error(archive_error_string(a));
  for (const auto& [name, bytes] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, bytes.data(), bytes.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

}  // namespace tvtest
