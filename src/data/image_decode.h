#pragma once
// JPEG (libjpeg-turbo) and PNG (libpng simplified API) decoding into 8-bit RGB, HWC.
// Torch-free.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tinyvit::data {

struct RgbImage {
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;  // height*width*3, HWC
};

// Decodes a JPEG or PNG (detected from the first bytes). Grayscale / RGBA / palette become
// RGB. Returns false and sets *reason when the bytes are not a complete, valid image;
// decoder warnings (e.g. "Premature end of JPEG file") count as failures, because libjpeg
// otherwise fills a truncated image with grey and reports success.
bool decode_image(const uint8_t* data, std::size_t size, RgbImage* out, std::string* reason);

// Resizes an RGB HWC image: area averaging when shrinking, bilinear (pixel centres,
// align_corners=false) when enlarging. dst must hold dst_h*dst_w*3 bytes.
void resize_rgb(const uint8_t* src, int src_h, int src_w, uint8_t* dst, int dst_h, int dst_w);

// Decodes and brings the image to size x size (resizing when needed) into dst (size*size*3).
bool decode_image_to(const uint8_t* data, std::size_t size, int side, uint8_t* dst,
                     std::string* reason);

// True for file names the image-folder loaders consider (.jpg .jpeg .png, any case).
bool has_image_extension(const std::string& name);

}  // namespace tinyvit::data
