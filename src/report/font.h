#pragma once
// A small built-in bitmap font (printable ASCII, 5x8 cells: 7 rows above the baseline and one
// descender row), so reports need no font files. Torch-free.
#include <cstdint>
#include <string>

namespace tinyvit::report {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 8;   // rows 0..6 body (baseline under row 6), row 7 descenders
constexpr int kGlyphAdvance = 6;  // one blank column between characters
constexpr int kLineHeight = 10;   // one blank row above the next line's capitals (+ descender)

// Row `row` (0 = top) of the glyph for `c` as 5 bits, bit 4 = leftmost column.
// Characters outside printable ASCII render as '?'.
uint8_t glyph_row(char c, int row);
bool glyph_pixel(char c, int x, int y);

// Width in pixels of `text` drawn at `scale` (no trailing gap).
int text_width(const std::string& text, int scale = 1);

}  // namespace tinyvit::report
