#include "report/canvas.h"

#include <png.h>

#include <algorithm>
#include <stdexcept>

#include "common/atomic_file.h"
#include "common/error.h"
#include "report/font.h"

namespace tinyvit::report {

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
  if (width <= 0 || height <= 0)
    throw Error("canvas: size must be positive, got " + std::to_string(width) + "x" +
                std::to_string(height));
  pixels_.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = background.r;
    pixels_[i + 1] = background.g;
    pixels_[i + 2] = background.b;
  }
}

Rgb Canvas::at(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return {};
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  return {pixels_[i], pixels_[i + 1], pixels_[i + 2]};
}

void Canvas::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  pixels_[i] = c.r;
  pixels_[i + 1] = c.g;
  pixels_[i + 2] = c.b;
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb c) {
  const int x0 = std::max(0, x), y0 = std::max(0, y);
  const int x1 = std::min(width_, x + w), y1 = std::min(height_, y + h);
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) set(xx, yy, c);
}

void Canvas::frame(int x, int y, int w, int h, int t, Rgb c) {
  fill_rect(x, y, w, t, c);
  fill_rect(x, y + h - t, w, t, c);
  fill_rect(x, y, t, h, c);
  fill_rect(x + w - t, y, t, h, c);
}

void Canvas::blit(const uint8_t* rgb, int src_h, int src_w, int x, int y, int scale) {
  for (int sy = 0; sy < src_h; ++sy)
    for (int sx = 0; sx < src_w; ++sx) {
      const uint8_t* p = rgb + (static_cast<size_t>(sy) * src_w + sx) * 3;
      fill_rect(x + sx * scale, y + sy * scale, scale, scale, Rgb{p[0], p[1], p[2]});
    }
}

int Canvas::text(int x, int y, const std::string& s, Rgb c, int scale) {
  for (char ch : s) {
    for (int gy = 0; gy < kGlyphHeight; ++gy)
      for (int gx = 0; gx < kGlyphWidth; ++gx)
        if (glyph_pixel(ch, gx, gy)) fill_rect(x + gx * scale, y + gy * scale, scale, scale, c);
    x += kGlyphAdvance * scale;
  }
  return x;
}

std::vector<uint8_t> encode_png(const Canvas& canvas) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(canvas.width());
  image.height = static_cast<png_uint_32>(canvas.height());
  image.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  const int stride = canvas.width() * 3;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, canvas.pixels().data(), stride,
                                 nullptr))
    throw Error(std::string("PNG encoding failed: ") + image.message);
  std::vector<uint8_t> out(size);
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, canvas.pixels().data(), stride,
                                 nullptr))
    throw Error(std::string("PNG encoding failed: ") + image.message);
  out.resize(size);
  return out;
}

void write_png(const std::string& path, const Canvas& canvas) {
  const auto bytes = encode_png(canvas);
  write_bytes_atomic(path, bytes.data(), bytes.size());
}

}  // namespace tinyvit::report
