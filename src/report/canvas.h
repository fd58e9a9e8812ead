#pragma once
// An RGB8 raster with the few drawing operations reports need (rectangles, frames, nearest-
// neighbour image blits, bitmap text), and PNG output via libpng. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

namespace tinyvit::report {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

namespace colors {
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kBlack{0, 0, 0};
constexpr Rgb kText{20, 20, 20};
constexpr Rgb kGrey{110, 110, 110};
constexpr Rgb kRed{210, 20, 20};
constexpr Rgb kGreen{20, 140, 40};
}  // namespace colors

class Canvas {
 public:
  Canvas() = default;
  Canvas(int width, int height, Rgb background = colors::kWhite);

  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<uint8_t>& pixels() const { return pixels_; }  // HWC RGB, row-major
  Rgb at(int x, int y) const;
  void set(int x, int y, Rgb c);  // clipped

  void fill_rect(int x, int y, int w, int h, Rgb c);          // clipped
  void frame(int x, int y, int w, int h, int thickness, Rgb c);  // inside the rectangle
  // Blits an RGB HWC image, each source pixel as a scale x scale block (nearest neighbour).
  void blit(const uint8_t* rgb, int src_h, int src_w, int x, int y, int scale);
  // Draws text with its top-left corner at (x, y); returns the x after the last character.
  int text(int x, int y, const std::string& s, Rgb c, int scale = 1);

 private:
  int width_ = 0, height_ = 0;
  std::vector<uint8_t> pixels_;
};

// PNG bytes (8-bit RGB) of the canvas. Throws tinyvit::Error if libpng fails.
std::vector<uint8_t> encode_png(const Canvas& canvas);
// Writes the PNG atomically (temp file + rename). Throws tinyvit::Error naming the path.
void write_png(const std::string& path, const Canvas& canvas);

}  // namespace tinyvit::report
