#include "data/image_folder.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "common/error.h"
#include "data/image_decode.h"

namespace tinyvit::data {
namespace fs = std::filesystem;
namespace {

struct Encoded {
  int32_t label = 0;
  std::string name;  // what an error message calls this image ("<archive>:<member>" or a path)
  std::vector<uint8_t> bytes;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Decodes every sample (in parallel), in (label, name) order. Bad images throw, or are
// skipped and counted with options.skip_bad. source: the folder or archive, for errors.
ImageDataset decode_all(const std::string& source, std::vector<Encoded>& samples,
                        std::vector<std::string> classes, const LoadOptions& options) {
  if (classes.size() < 2)
    throw Error(source + ": one class folder ('" + classes.at(0) +
                "'); a classifier needs at least 2 (expected <root>/<class>/<image>.jpg|png)");
  std::sort(samples.begin(), samples.end(), [](const Encoded& a, const Encoded& b) {
    return a.label != b.label ? a.label < b.label : a.name < b.name;
  });
  const int side = options.store_size;
  if (side <= 0 || side > 4096)
    throw Error("store_size must be in 1..4096, got " + std::to_string(side));
  const std::size_t n = samples.size();
  const std::size_t img_bytes = std::size_t(side) * side * 3;
  ImageDataset ds;
  ds.height = ds.width = side;
  ds.class_names = std::move(classes);
  ds.pixels.resize(n * img_bytes);
  std::vector<std::string> reasons(n);
  std::vector<char> ok(n, 0);

  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t nthreads = std::min<std::size_t>(std::min(hw, 8u), std::max<std::size_t>(1, n / 256));
  auto work = [&](std::size_t t) {
    const std::size_t lo = n * t / nthreads, hi = n * (t + 1) / nthreads;
    for (std::size_t i = lo; i < hi; ++i) {
      ok[i] = decode_image_to(samples[i].bytes.data(), samples[i].bytes.size(), side,
                              ds.pixels.data() + i * img_bytes, &reasons[i]);
      std::vector<uint8_t>().swap(samples[i].bytes);  // free as we go
    }
  };
  if (nthreads <= 1) {
    work(0);
  } else {
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < nthreads; ++t) threads.emplace_back(work, t);
    for (auto& th : threads) th.join();
  }

  std::size_t out = 0, bad = 0, first_bad = n;
  ds.labels.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!ok[i]) {
      if (!options.skip_bad)
        throw Error(samples[i].name + ": " + reasons[i] +
                    " (fix or remove the file, or load with skip_bad to skip bad images)");
      if (bad++ == 0) first_bad = i;
      continue;
    }
    if (out != i) std::memmove(ds.pixels.data() + out * img_bytes, ds.pixels.data() + i * img_bytes, img_bytes);
    ds.labels.push_back(samples[i].label);
    ++out;
  }
  ds.pixels.resize(out * img_bytes);
  if (bad > 0) {
    std::cerr << "skipped " << bad << " undecodable images, first: " << samples[first_bad].name
              << ": " << reasons[first_bad] << "\n";
    std::vector<int64_t> per_class(ds.class_names.size(), 0);
    for (int32_t l : ds.labels) ++per_class[static_cast<std::size_t>(l)];
    for (std::size_t c = 0; c < per_class.size(); ++c)
      if (per_class[c] == 0)
        throw Error(source + ": class '" + ds.class_names[c] +
                    "' has no decodable image left after skipping the bad ones");
  }
  return ds;
}

std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(p.string() + ": cannot open for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0);
  std::vector<uint8_t> bytes(static_cast<std::size_t>(std::max<std::streamoff>(size, 0)));
  if (!bytes.empty() && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw Error(p.string() + ": read failed");
  return bytes;
}

}  // namespace

bool is_archive_path(const std::string& path) {
  return ends_with(path, ".tar.gz") || ends_with(path, ".tgz") || ends_with(path, ".tar") ||
         ends_with(path, ".tar.bz2") || ends_with(path, ".tar.xz") || ends_with(path, ".tar.zst");
}

ImageDataset load_image_directory(const std::string& root, const LoadOptions& options) {
  std::error_code ec;
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (e.is_directory() && e.path().filename().string()[0] != '.')
      classes.push_back(e.path().filename().string());
  }
  if (ec) throw Error(root + ": cannot list directory: " + ec.message());
  std::sort(classes.begin(), classes.end());
  if (classes.empty())
    throw Error(root + ": no class sub-folders (expected <root>/<class>/<image>.jpg|png)");

  std::vector<Encoded> samples;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    const fs::path dir = fs::path(root) / classes[c];
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
         !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file() && has_image_extension(it->path().filename().string()))
        files.push_back(it->path());
    }
    if (ec) throw Error(dir.string() + ": cannot list directory: " + ec.message());
    if (files.empty())
      throw Error(dir.string() + ": class folder contains no .jpg/.jpeg/.png images");
    for (const auto& f : files) {
      Encoded s;
      s.label = static_cast<int32_t>(c);
      s.name = f.string();
      s.bytes = read_all(f);
      samples.push_back(std::move(s));
    }
  }
  return decode_all(root, samples, std::move(classes), options);
}

ImageDataset load_image_archive(const std::string& path, const LoadOptions& options) {
  struct ArchiveCloser {
    void operator()(archive* a) const { archive_read_free(a); }
  };
  std::unique_ptr<archive, ArchiveCloser> ar(archive_read_new());
  archive_read_support_filter_all(ar.get());
  archive_read_support_format_tar(ar.get());
  archive_read_support_format_gnutar(ar.get());
  if (archive_read_open_filename(ar.get(), path.c_str(), 1 << 20) != ARCHIVE_OK)
    throw Error(path + ": cannot open archive: " + archive_error_string(ar.get()));

  std::map<std::string, std::vector<Encoded>> by_class;
  archive_entry* entry = nullptr;
  for (;;) {
    const int r = archive_read_next_header(ar.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      throw Error(path + ": corrupt or truncated archive: " + archive_error_string(ar.get()));
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    std::string member = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    while (member.rfind("./", 0) == 0) member.erase(0, 2);
    const auto slash = member.find_last_of('/');
    if (slash == std::string::npos || slash == 0) continue;  // no class folder
    const std::string base = member.substr(slash + 1);
    if (base.empty() || base[0] == '.' || !has_image_extension(base)) continue;
    const auto prev = member.find_last_of('/', slash - 1);
    const std::string cls = member.substr(prev == std::string::npos ? 0 : prev + 1,
                                          slash - (prev == std::string::npos ? 0 : prev + 1));
    Encoded s;
    s.name = path + ":" + member;
    const la_int64_t size = archive_entry_size(entry);
    s.bytes.reserve(size > 0 ? static_cast<std::size_t>(size) : 0);
    uint8_t buf[65536];
    for (;;) {
      const la_ssize_t got = archive_read_data(ar.get(), buf, sizeof buf);
      if (got < 0)
        throw Error(s.name + ": corrupt or truncated archive: " + archive_error_string(ar.get()));
      if (got == 0) break;
      s.bytes.insert(s.bytes.end(), buf, buf + got);
    }
    by_class[cls].push_back(std::move(s));
  }
  if (by_class.empty())
    throw Error(path + ": archive contains no .jpg/.jpeg/.png images inside class folders");

  std::vector<std::string> classes;
  std::vector<Encoded> samples;
  for (auto& [cls, list] : by_class) {  // std::map: sorted by name
    const auto label = static_cast<int32_t>(classes.size());
    classes.push_back(cls);
    for (auto& s : list) {
      s.label = label;
      samples.push_back(std::move(s));
    }
  }
  return decode_all(path, samples, std::move(classes), options);
}

}  // namespace tinyvit::data
