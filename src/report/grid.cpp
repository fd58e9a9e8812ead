#include "report/grid.h"

#include <algorithm>

#include "common/error.h"
#include "report/font.h"

namespace tinyvit::report {

int GridLayout::tile_x(int i) const { return gap + (i % cols) * (tile_w + gap); }
int GridLayout::tile_y(int i) const { return header_h + gap + (i / cols) * (tile_h + gap); }

GridLayout grid_layout(int count, int image_h, int image_w, int header_lines,
                       const GridOptions& o) {
  if (count <= 0) throw Error("grid: nothing to draw (0 images)");
  if (image_h <= 0 || image_w <= 0 || o.image_scale <= 0 || o.text_scale <= 0 ||
      o.header_scale <= 0 || o.frame < 0 || o.gap < 0 || o.text_lines < 0 || o.cols < 0)
    throw Error("grid: image size, scales, frame, gap and columns must be positive");
  GridLayout g;
  g.gap = o.gap;
  g.cols = o.cols > 0 ? std::min(o.cols, count) : std::min(count, 8);
  g.rows = (count + g.cols - 1) / g.cols;
  g.tile_w = std::max(image_w * o.image_scale + 2 * o.frame, o.min_tile_width);
  const int text_h = o.text_lines > 0 ? 4 + o.text_lines * kLineHeight * o.text_scale : 0;
  g.tile_h = image_h * o.image_scale + 2 * o.frame + text_h;
  g.header_h = header_lines > 0 ? o.gap + header_lines * kLineHeight * o.header_scale : 0;
  g.width = o.gap + g.cols * (g.tile_w + o.gap);
  g.height = g.header_h + o.gap + g.rows * (g.tile_h + o.gap);
  return g;
}

std::string fit_text(const std::string& s, int width_px, int scale) {
  if (text_width(s, scale) <= width_px) return s;
  std::string cut = s;
  while (!cut.empty() && text_width(cut + "..", scale) > width_px) cut.pop_back();
  return cut.empty() ? std::string() : cut + "..";
}

Canvas draw_grid(const std::vector<GridTile>& tiles, int image_h, int image_w,
                 const std::vector<TextLine>& header, const GridOptions& o) {
  const auto g = grid_layout(static_cast<int>(tiles.size()), image_h, image_w,
                             static_cast<int>(header.size()), o);
  Canvas c(g.width, g.height, colors::kWhite);
  for (size_t i = 0; i < header.size(); ++i)
    c.text(o.gap, o.gap + static_cast<int>(i) * kLineHeight * o.header_scale,
           fit_text(header[i].text, g.width - 2 * o.gap, o.header_scale), header[i].color,
           o.header_scale);
  for (size_t i = 0; i < tiles.size(); ++i) {
    const auto& t = tiles[i];
    const int x = g.tile_x(static_cast<int>(i)), y = g.tile_y(static_cast<int>(i));
    const int fw = image_w * o.image_scale + 2 * o.frame, fh = image_h * o.image_scale + 2 * o.frame;
    const int fx = x + (g.tile_w - fw) / 2;  // framed image centred in its tile
    if (o.frame > 0) c.frame(fx, y, fw, fh, o.frame, t.marked ? o.mark_color : o.frame_color);
    if (t.rgb) c.blit(t.rgb, image_h, image_w, fx + o.frame, y + o.frame, o.image_scale);
    int ty = y + fh + 4;
    for (int l = 0; l < o.text_lines && l < static_cast<int>(t.lines.size()); ++l) {
      c.text(x, ty, fit_text(t.lines[l].text, g.tile_w, o.text_scale), t.lines[l].color,
             o.text_scale);
      ty += kLineHeight * o.text_scale;
    }
  }
  return c;
}

}  // namespace tinyvit::report
