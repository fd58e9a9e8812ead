// report: PNG writer round trip, bitmap font glyphs, grid layout and drawing.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/error.h"
#include "data/image_decode.h"
#include "report/canvas.h"
#include "report/font.h"
#include "report/grid.h"

using namespace tinyvit;
using namespace tinyvit::report;
namespace fs = std::filesystem;

TEST(Png, WriteThenDecodeGivesSamePixels) {
  std::mt19937 rng(3);
  Canvas c(37, 23);  // odd sizes: no stride/padding assumptions
  for (int y = 0; y < c.height(); ++y)
    for (int x = 0; x < c.width(); ++x)
      c.set(x, y, Rgb{uint8_t(rng()), uint8_t(rng()), uint8_t(rng())});
  const auto dir = fs::temp_directory_path() / ("tinyvit_report_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto path = (dir / "x.png").string();
  write_png(path, c);
  const std::string bytes = read_file_bytes(path);
  ASSERT_GT(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  data::RgbImage img;
  std::string why;
  ASSERT_TRUE(data::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                 &img, &why))
      << why;
  EXPECT_EQ(img.width, 37);
  EXPECT_EQ(img.height, 23);
  EXPECT_EQ(img.pixels, c.pixels());
  fs::remove_all(dir);
}

TEST(Png, WriteToMissingDirectoryFailsClearly) {
  Canvas c(2, 2);
  // The parent "directory" is a regular file: the write must fail with tinyvit::Error.
  const auto dir = fs::temp_directory_path() / ("tinyvit_report_f_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_text_atomic((dir / "file").string(), "x");
  EXPECT_THROW(write_png((dir / "file" / "x.png").string(), c), Error);
  fs::remove_all(dir);
  EXPECT_THROW({ Canvas bad(0, 5); }, Error);
}

TEST(Font, KnownGlyphRows) {
  // 'A': .###. / #...# / #...# / ##### / #...# ...
  EXPECT_EQ(glyph_row('A', 0), 0b01110);
  EXPECT_EQ(glyph_row('A', 1), 0b10001);
  EXPECT_EQ(glyph_row('A', 3), 0b11111);
  EXPECT_EQ(glyph_row('A', 7), 0);
  // '1' has its stem in the middle column; space is empty; 'g' uses the descender row.
  for (int r = 0; r < 6; ++r) EXPECT_TRUE(glyph_pixel('1', 2, r)) << r;
  for (int r = 0; r < kGlyphHeight; ++r) EXPECT_EQ(glyph_row(' ', r), 0);
  EXPECT_NE(glyph_row('g', 7), 0);
  EXPECT_EQ(glyph_row('A', 7), 0);
  // Unknown characters render as '?'.
  for (int r = 0; r < kGlyphHeight; ++r) EXPECT_EQ(glyph_row('\x01', r), glyph_row('?', r));
  // Every printable character except space has ink; distinct letters differ.
  for (int ch = 33; ch < 127; ++ch) {
    int ink = 0;
    for (int r = 0; r < kGlyphHeight; ++r) ink += glyph_row(char(ch), r) != 0;
    EXPECT_GT(ink, 0) << char(ch);
  }
  EXPECT_EQ(text_width("", 1), 0);
  EXPECT_EQ(text_width("ab", 1), 2 * kGlyphAdvance - 1);
  EXPECT_EQ(text_width("ab", 3), 3 * (2 * kGlyphAdvance - 1));
}

TEST(Font, TextDrawsGlyphPixelsOnCanvas) {
  Canvas c(40, 20, colors::kWhite);
  const int end = c.text(2, 3, "HI", colors::kBlack, 2);
  EXPECT_EQ(end, 2 + 2 * kGlyphAdvance * 2);
  for (int y = 0; y < kGlyphHeight; ++y)
    for (int x = 0; x < kGlyphWidth; ++x) {
      const bool ink = glyph_pixel('H', x, y);
      // every pixel of the 2x2 block matches the glyph
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx)
          EXPECT_EQ(c.at(2 + 2 * x + dx, 3 + 2 * y + dy) == colors::kBlack, ink) << x << "," << y;
    }
  EXPECT_EQ(c.at(0, 0), colors::kWhite);
}

TEST(Grid, LayoutDimensions) {
  GridOptions o;
  o.image_scale = 4;
  o.cols = 4;
  o.frame = 3;
  o.gap = 10;
  o.text_lines = 3;
  o.text_scale = 1;
  o.header_scale = 2;
  const auto g = grid_layout(10, 32, 32, 2, o);
  EXPECT_EQ(g.cols, 4);
  EXPECT_EQ(g.rows, 3);
  EXPECT_EQ(g.tile_w, 32 * 4 + 6);
  EXPECT_EQ(g.tile_h, 32 * 4 + 6 + 4 + 3 * kLineHeight);
  EXPECT_EQ(g.header_h, 10 + 2 * kLineHeight * 2);
  EXPECT_EQ(g.width, 10 + 4 * (g.tile_w + 10));
  EXPECT_EQ(g.height, g.header_h + 10 + 3 * (g.tile_h + 10));
  EXPECT_EQ(g.tile_x(5), 10 + 1 * (g.tile_w + 10));
  EXPECT_EQ(g.tile_y(5), g.header_h + 10 + 1 * (g.tile_h + 10));
  // Fewer images than columns: one row, as wide as needed.
  const auto one = grid_layout(3, 8, 8, 0, o);
  EXPECT_EQ(one.cols, 3);
  EXPECT_EQ(one.rows, 1);
  EXPECT_EQ(one.header_h, 0);
  o.min_tile_width = 200;
  EXPECT_EQ(grid_layout(3, 8, 8, 0, o).tile_w, 200);
  EXPECT_THROW(grid_layout(0, 8, 8, 0, o), Error);
}

TEST(Grid, DrawsUpscaledImagesFramesAndText) {
  std::vector<uint8_t> img(2 * 3 * 3);
  for (size_t i = 0; i < img.size(); ++i) img[i] = uint8_t(20 * i + 5);
  GridOptions o;
  o.image_scale = 4;
  o.cols = 2;
  o.frame = 2;
  o.gap = 6;
  std::vector<GridTile> tiles(3);
  for (auto& t : tiles) {
    t.rgb = img.data();
    t.lines = {{"ok", colors::kGreen}};
  }
  tiles[1].marked = true;
  const auto c = draw_grid(tiles, 2, 3, {{"header"}}, o);
  const auto g = grid_layout(3, 2, 3, 1, o);
  ASSERT_EQ(c.width(), g.width);
  ASSERT_EQ(c.height(), g.height);
  // Nearest upscaling: source pixel (row 1, col 2) covers a 4x4 block.
  const int x0 = g.tile_x(0) + o.frame, y0 = g.tile_y(0) + o.frame;
  const uint8_t* p = &img[(1 * 3 + 2) * 3];
  for (int dy = 0; dy < 4; ++dy)
    for (int dx = 0; dx < 4; ++dx)
      EXPECT_EQ(c.at(x0 + 2 * 4 + dx, y0 + 1 * 4 + dy), (Rgb{p[0], p[1], p[2]}));
  // The marked tile has a red frame, the others not.
  EXPECT_EQ(c.at(g.tile_x(1), g.tile_y(1)), o.mark_color);
  EXPECT_EQ(c.at(g.tile_x(0), g.tile_y(0)), o.frame_color);
  // Some green text under the first tile.
  bool green = false;
  for (int y = g.tile_y(0) + 2 * 4 + 2 * o.frame; y < g.tile_y(0) + g.tile_h; ++y)
    for (int x = g.tile_x(0); x < g.tile_x(0) + g.tile_w; ++x) green |= c.at(x, y) == colors::kGreen;
  EXPECT_TRUE(green);
}

TEST(Grid, FitTextCutsLongLines) {
  EXPECT_EQ(fit_text("short", 100, 1), "short");
  const auto cut = fit_text("a very long class name indeed", 60, 1);
  EXPECT_LE(text_width(cut, 1), 60);
  EXPECT_EQ(cut.substr(cut.size() - 2), "..");
}
