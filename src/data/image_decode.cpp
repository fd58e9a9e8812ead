#include "data/image_decode.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

namespace tinyvit::data {
namespace {

// One decompressor per thread (tjhandle is not thread-safe, creating one costs ~µs).
struct TjHandle {
  tjhandle h = tjInitDecompress();
  ~TjHandle() {
    if (h) tjDestroy(h);
  }
  // libjpeg-turbo 2.1 leaves a handle in a bad state after some header errors (the next
  // header then reads as 0x0), so a failed decode gets a fresh handle.
  void reset() {
    if (h) tjDestroy(h);
    h = tjInitDecompress();
  }
};

bool decode_jpeg(const uint8_t* data, std::size_t size, RgbImage* out, std::string* reason) {
  thread_local TjHandle tj;
  if (!tj.h) {
    *reason = "cannot initialise the JPEG decoder";
    return false;
  }
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  auto* buf = const_cast<unsigned char*>(data);
  if (tjDecompressHeader3(tj.h, buf, static_cast<unsigned long>(size), &w, &h, &subsamp,
                          &colorspace) != 0) {
    *reason = std::string("invalid JPEG header: ") + tjGetErrorStr2(tj.h);
    tj.reset();
    return false;
  }
  if (w <= 0 || h <= 0 || int64_t(w) * h > (int64_t(1) << 28)) {
    *reason = "invalid JPEG dimensions " + std::to_string(w) + "x" + std::to_string(h);
    return false;
  }
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    *reason = "CMYK JPEG images are not supported (convert to RGB)";
    return false;
  }
  out->height = h;
  out->width = w;
  out->pixels.resize(std::size_t(w) * h * 3);
  // STOPONWARNING: a warning (truncated data, corrupt entropy segment) aborts with -1.
  const int rc = tjDecompress2(tj.h, buf, static_cast<unsigned long>(size), out->pixels.data(),
                               w, 0, h, TJPF_RGB, TJFLAG_STOPONWARNING);
  if (rc != 0) {
    const bool warning = tjGetErrorCode(tj.h) == TJERR_WARNING;
    *reason = std::string(warning ? "corrupt JPEG (decoder warning): " : "invalid JPEG: ") +
              tjGetErrorStr2(tj.h);
    tj.reset();
    return false;
  }
  return true;
}

bool decode_png(const uint8_t* data, std::size_t size, RgbImage* out, std::string* reason) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, data, size)) {
    *reason = std::string("invalid PNG: ") + img.message;
    png_image_free(&img);
    return false;
  }
  if (img.width == 0 || img.height == 0 || uint64_t(img.width) * img.height > (uint64_t(1) << 28)) {
    *reason = "invalid PNG dimensions";
    png_image_free(&img);
    return false;
  }
  img.format = PNG_FORMAT_RGB;  // gray, palette and alpha are converted (alpha over black)
  out->width = static_cast<int>(img.width);
  out->height = static_cast<int>(img.height);
  out->pixels.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, out->pixels.data(), 0, nullptr)) {
    *reason = std::string("corrupt PNG: ") + img.message;
    png_image_free(&img);
    return false;
  }
  // libpng reports recoverable problems (e.g. CRC errors it chose to ignore) as warnings.
  if (img.warning_or_error != 0) {
    *reason = std::string("corrupt PNG (warning): ") + img.message;
    png_image_free(&img);
    return false;
  }
  png_image_free(&img);
  return true;
}

void resize_area(const uint8_t* src, int sh, int sw, uint8_t* dst, int dh, int dw) {
  const double sy = double(sh) / dh, sx = double(sw) / dw;
  for (int y = 0; y < dh; ++y) {
    const double y0 = y * sy, y1 = (y + 1) * sy;
    for (int x = 0; x < dw; ++x) {
      const double x0 = x * sx, x1 = (x + 1) * sx;
      double acc[3] = {0, 0, 0}, wsum = 0;
      for (int iy = int(y0); iy < sh && iy < y1; ++iy) {
        const double wy = std::min<double>(iy + 1, y1) - std::max<double>(iy, y0);
        if (wy <= 0) continue;
        for (int ix = int(x0); ix < sw && ix < x1; ++ix) {
          const double wx = std::min<double>(ix + 1, x1) - std::max<double>(ix, x0);
          if (wx <= 0) continue;
          const double w = wx * wy;
          const uint8_t* p = src + (std::size_t(iy) * sw + ix) * 3;
          acc[0] += w * p[0];
          acc[1] += w * p[1];
          acc[2] += w * p[2];
          wsum += w;
        }
      }
      uint8_t* q = dst + (std::size_t(y) * dw + x) * 3;
      for (int c = 0; c < 3; ++c)
        q[c] = static_cast<uint8_t>(std::clamp(std::lround(acc[c] / wsum), 0L, 255L));
    }
  }
}

void resize_bilinear(const uint8_t* src, int sh, int sw, uint8_t* dst, int dh, int dw) {
  const float sy = float(sh) / dh, sx = float(sw) / dw;
  for (int y = 0; y < dh; ++y) {
    float fy = std::max(0.f, (y + 0.5f) * sy - 0.5f);
    int y0 = std::min(int(fy), sh - 1), y1 = std::min(y0 + 1, sh - 1);
    const float ly = fy - y0;
    for (int x = 0; x < dw; ++x) {
      float fx = std::max(0.f, (x + 0.5f) * sx - 0.5f);
      int x0 = std::min(int(fx), sw - 1), x1 = std::min(x0 + 1, sw - 1);
      const float lx = fx - x0;
      for (int c = 0; c < 3; ++c) {
        const float a = src[(std::size_t(y0) * sw + x0) * 3 + c];
        const float b = src[(std::size_t(y0) * sw + x1) * 3 + c];
        const float d = src[(std::size_t(y1) * sw + x0) * 3 + c];
        const float e = src[(std::size_t(y1) * sw + x1) * 3 + c];
        const float v = (a * (1 - lx) + b * lx) * (1 - ly) + (d * (1 - lx) + e * lx) * ly;
        dst[(std::size_t(y) * dw + x) * 3 + c] =
            static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
}

}  // namespace

bool decode_image(const uint8_t* data, std::size_t size, RgbImage* out, std::string* reason) {
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return decode_jpeg(data, size, out, reason);
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return decode_png(data, size, out, reason);
  *reason = size == 0 ? "empty file" : "not a JPEG or PNG file (unknown signature)";
  return false;
}

void resize_rgb(const uint8_t* src, int src_h, int src_w, uint8_t* dst, int dst_h, int dst_w) {
  if (src_h == dst_h && src_w == dst_w) {
    std::memcpy(dst, src, std::size_t(src_h) * src_w * 3);
  } else if (dst_h <= src_h && dst_w <= src_w) {
    resize_area(src, src_h, src_w, dst, dst_h, dst_w);
  } else {
    resize_bilinear(src, src_h, src_w, dst, dst_h, dst_w);
  }
}

bool decode_image_to(const uint8_t* data, std::size_t size, int side, uint8_t* dst,
                     std::string* reason) {
  thread_local RgbImage img;
  if (!decode_image(data, size, &img, reason)) return false;
  resize_rgb(img.pixels.data(), img.height, img.width, dst, side, side);
  return true;
}

bool has_image_extension(const std::string& name) {
  const auto dot = name.find_last_of('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "jpg" || ext == "jpeg" || ext == "png";
}

}  // namespace tinyvit::data
