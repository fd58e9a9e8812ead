#pragma once
// Image grids for reports (e.g. `tinyvit visualize`): tiles of upscaled images, each with a
// frame and a few lines of text under it, and header lines on top. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

#include "report/canvas.h"

namespace tinyvit::report {

struct TextLine {
  std::string text;
  Rgb color = colors::kText;
};

struct GridTile {
  const uint8_t* rgb = nullptr;  // image_h x image_w x 3 (all tiles share one size)
  std::vector<TextLine> lines;   // at most GridOptions::text_lines are drawn
  bool marked = false;           // drawn with a thick frame in mark_color (e.g. misclassified)
};

struct GridOptions {
  int image_scale = 4;   // nearest-neighbour upscaling of each image
  int cols = 0;          // 0 = min(count, 8)
  int text_scale = 1;    // font scale under the tiles
  int text_lines = 3;
  int header_scale = 2;  // font scale of the header lines
  int frame = 3;         // frame thickness around each image
  int min_tile_width = 0;  // tiles are at least this wide (room for text); images centred
  int gap = 12;          // space between tiles and around the grid
  Rgb frame_color{200, 200, 200};
  Rgb mark_color = colors::kRed;
};

struct GridLayout {
  int cols = 0, rows = 0;
  int tile_w = 0, tile_h = 0;  // frame + image + text block
  int header_h = 0;            // header block incl. its bottom gap (0 without header)
  int width = 0, height = 0;   // whole canvas
  // Top-left corner of tile i (its frame).
  int tile_x(int i) const;
  int tile_y(int i) const;
  int gap = 0;
};

// Throws tinyvit::Error for a non-positive count / image size / scale.
GridLayout grid_layout(int count, int image_h, int image_w, int header_lines,
                       const GridOptions& options);

// Lines longer than the tile are cut and end in "..".
Canvas draw_grid(const std::vector<GridTile>& tiles, int image_h, int image_w,
                 const std::vector<TextLine>& header, const GridOptions& options);

// Longest prefix of `s` that fits `width_px` at `scale` (ending in ".." when cut).
std::string fit_text(const std::string& s, int width_px, int scale);

}  // namespace tinyvit::report
