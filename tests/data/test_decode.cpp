// Decoding: PNG exact, JPEG q100 within tolerance, colour conversions, corrupt inputs, resize.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "data/augment.h"
#include "data/image_decode.h"
#include "test_util.h"

using namespace tinyvit::data;

TEST(Decode, PngRgbIsExact) {
  const auto px = tvtest::pattern(7, 5, 3);
  const auto png = tvtest::encode_png(px, 7, 5);
  RgbImage img;
  std::string why;
  ASSERT_TRUE(decode_image(png.data(), png.size(), &img, &why)) << why;
  EXPECT_EQ(img.height, 7);
  EXPECT_EQ(img.width, 5);
  EXPECT_EQ(img.pixels, px);
}

TEST(Decode, PngGrayAndRgbaBecomeRgb) {
  std::vector<uint8_t> gray = {0, 17, 128, 255, 3, 200};
  const auto png = tvtest::encode_png(gray, 2, 3, PNG_FORMAT_GRAY);
  RgbImage img;
  std::string why;
  ASSERT_TRUE(decode_image(png.data(), png.size(), &img, &why)) << why;
  ASSERT_EQ(img.pixels.size(), 18u);
  for (int i = 0; i < 6; ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(img.pixels[i * 3 + c], gray[i]) << i;

  // Opaque RGBA: the alpha channel is dropped, colours unchanged.
  std::vector<uint8_t> rgba = {10, 20, 30, 255, 200, 100, 50, 255};
  const auto png2 = tvtest::encode_png(rgba, 1, 2, PNG_FORMAT_RGBA);
  ASSERT_TRUE(decode_image(png2.data(), png2.size(), &img, &why)) << why;
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{10, 20, 30, 200, 100, 50}));
}

TEST(Decode, JpegQuality100WithinTolerance) {
  // Tolerance: max |diff| <= 4 per channel for a smooth pattern at q100, 4:4:4, accurate DCT
  // (the loss is YCbCr rounding and quantization by 1).
  const auto px = tvtest::pattern(32, 32, 1);
  const auto jpg = tvtest::encode_jpeg(px, 32, 32, 100);
  RgbImage img;
  std::string why;
  ASSERT_TRUE(decode_image(jpg.data(), jpg.size(), &img, &why)) << why;
  ASSERT_EQ(img.pixels.size(), px.size());
  int max_diff = 0;
  for (std::size_t i = 0; i < px.size(); ++i)
    max_diff = std::max(max_diff, std::abs(int(px[i]) - int(img.pixels[i])));
  EXPECT_LE(max_diff, 4);
}

TEST(Decode, GrayJpegBecomesRgb) {
  std::vector<uint8_t> gray(16 * 16, 90);
  const auto jpg = tvtest::encode_jpeg(gray, 16, 16, 95, /*gray=*/true);
  RgbImage img;
  std::string why;
  ASSERT_TRUE(decode_image(jpg.data(), jpg.size(), &img, &why)) << why;
  for (std::size_t i = 0; i < img.pixels.size(); ++i) EXPECT_NEAR(img.pixels[i], 90, 1);
}

TEST(Decode, TruncatedJpegIsAnError) {
  const auto px = tvtest::pattern(32, 32, 2);
  auto jpg = tvtest::encode_jpeg(px, 32, 32, 90);
  jpg.resize(jpg.size() * 2 / 3);  // header intact, entropy data cut: libjpeg warns only
  RgbImage img;
  std::string why;
  EXPECT_FALSE(decode_image(jpg.data(), jpg.size(), &img, &why));
  EXPECT_NE(why.find("JPEG"), std::string::npos) << why;
  // A header-level failure must not poison the (thread-local) decoder for the next image.
  auto half = tvtest::encode_jpeg(px, 32, 32, 90);
  const auto good = half;
  half.resize(half.size() / 2);
  EXPECT_FALSE(decode_image(half.data(), half.size(), &img, &why));
  EXPECT_TRUE(decode_image(good.data(), good.size(), &img, &why)) << why;
  EXPECT_EQ(img.width, 32);
}

TEST(Decode, CorruptPngIsAnError) {
  const auto px = tvtest::pattern(16, 16, 4);
  auto png = tvtest::encode_png(px, 16, 16);
  auto cut = png;
  cut.resize(png.size() - 30);  // truncated IDAT/IEND
  RgbImage img;
  std::string why;
  EXPECT_FALSE(decode_image(cut.data(), cut.size(), &img, &why));
  EXPECT_FALSE(why.empty());
  auto flipped = png;
  for (std::size_t i = 60; i < flipped.size() - 20; ++i) flipped[i] ^= 0x5A;  // garbage data
  EXPECT_FALSE(decode_image(flipped.data(), flipped.size(), &img, &why));
}

TEST(Decode, UnknownBytesAreAnError) {
  std::vector<uint8_t> junk = {'h', 'e', 'l', 'l', 'o', 0, 1, 2, 3};
  RgbImage img;
  std::string why;
  EXPECT_FALSE(decode_image(junk.data(), junk.size(), &img, &why));
  EXPECT_NE(why.find("not a JPEG or PNG"), std::string::npos);
  EXPECT_FALSE(decode_image(junk.data(), 0, &img, &why));
}

TEST(Resize, AreaDownscaleAveragesBlocks) {
  // 4x4 -> 2x2: each output pixel is the mean of a 2x2 block.
  std::vector<uint8_t> src(4 * 4 * 3);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) src[(y * 4 + x) * 3 + c] = static_cast<uint8_t>(10 * (y * 4 + x) + c);
  std::vector<uint8_t> dst(2 * 2 * 3);
  resize_rgb(src.data(), 4, 4, dst.data(), 2, 2);
  // block (0,0): values 0,10,40,50 -> 25
  EXPECT_EQ(dst[0], 25);
  EXPECT_EQ(dst[1], 26);
  // block (1,1): 100,110,140,150 -> 125
  EXPECT_EQ(dst[(1 * 2 + 1) * 3], 125);
}

TEST(Resize, ConstantStaysConstant) {
  std::vector<uint8_t> src(5 * 7 * 3, 77), up(13 * 11 * 3), down(3 * 2 * 3);
  resize_rgb(src.data(), 5, 7, up.data(), 13, 11);
  resize_rgb(src.data(), 5, 7, down.data(), 3, 2);
  for (uint8_t v : up) EXPECT_EQ(v, 77);
  for (uint8_t v : down) EXPECT_EQ(v, 77);
}

TEST(Augment, CropFlipShiftsWithZeroPadding) {
  // With pad 4 the offset is in [-4, 4]; every output pixel equals either 0 (padding) or the
  // source pixel at the shifted (and possibly mirrored) position.
  const auto src = tvtest::pattern(8, 8, 5);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(seed);
    std::vector<uint8_t> dst(src.size());
    crop_flip(src.data(), 8, 8, 4, true, Mirror::kRandom, rng, dst.data());
    bool found = false;
    for (int dy = -4; dy <= 4 && !found; ++dy)
      for (int dx = -4; dx <= 4 && !found; ++dx)
        for (int m = 0; m < 2 && !found; ++m) {
          bool ok = true;
          for (int y = 0; y < 8 && ok; ++y)
            for (int x = 0; x < 8 && ok; ++x) {
              const int sy = y + dy, sx = (m ? 7 - x : x) + dx;
              for (int c = 0; c < 3; ++c) {
                const int want = (sy < 0 || sy >= 8 || sx < 0 || sx >= 8) ? 0 : src[(sy * 8 + sx) * 3 + c];
                if (dst[(y * 8 + x) * 3 + c] != want) ok = false;
              }
            }
          found = ok;
        }
    EXPECT_TRUE(found) << "seed " << seed;
  }
  // No crop, no flip: identity.
  Rng rng(1);
  std::vector<uint8_t> dst(src.size());
  crop_flip(src.data(), 8, 8, 4, false, Mirror::kNo, rng, dst.data());
  EXPECT_EQ(dst, src);
}

TEST(Augment, RandOpsBasicProperties) {
  const auto src = tvtest::pattern(16, 16, 6);
  for (int op = 0; op < static_cast<int>(RandOp::kCount); ++op) {
    for (int sign : {-1, 1}) {
      auto img = src;
      apply_rand_op(static_cast<RandOp>(op), img.data(), 16, 16, 9.f, sign);
      EXPECT_EQ(img.size(), src.size());
    }
  }
  auto img = src;
  apply_rand_op(RandOp::kInvert, img.data(), 16, 16, 0, 1);
  apply_rand_op(RandOp::kInvert, img.data(), 16, 16, 0, 1);
  EXPECT_EQ(img, src);
  // Magnitude 0: enhancement factor 1 and zero geometric offset -> identity.
  for (RandOp op : {RandOp::kBrightness, RandOp::kColor, RandOp::kContrast, RandOp::kSharpness,
                    RandOp::kRotate, RandOp::kShearX, RandOp::kTranslateY, RandOp::kPosterize}) {
    img = src;
    apply_rand_op(op, img.data(), 16, 16, 0.f, 1);
    EXPECT_EQ(img, src) << static_cast<int>(op);
  }
  // Brightness at factor 1.9 doubles-ish a dark pixel; Solarize at m=10 inverts all.
  std::vector<uint8_t> dark(4 * 4 * 3, 50);
  apply_rand_op(RandOp::kBrightness, dark.data(), 4, 4, 10.f, 1);
  EXPECT_EQ(dark[0], 95);  // 50 * 1.9
  std::vector<uint8_t> some(4 * 4 * 3, 10);
  apply_rand_op(RandOp::kSolarize, some.data(), 4, 4, 10.f, 1);
  EXPECT_EQ(some[0], 245);
  // AutoContrast stretches [64, 128] to [0, 255].
  std::vector<uint8_t> lowc(2 * 1 * 3);
  lowc = {64, 64, 64, 128, 128, 128};
  apply_rand_op(RandOp::kAutoContrast, lowc.data(), 1, 2, 0.f, 1);
  EXPECT_EQ(lowc, (std::vector<uint8_t>{0, 0, 0, 255, 255, 255}));
  // Translate by 45% at m=10 moves a pixel right by round(0.45*16)=7.
  std::vector<uint8_t> dot(16 * 16 * 3, 0);
  dot[(3 * 16 + 2) * 3] = 200;
  apply_rand_op(RandOp::kTranslateX, dot.data(), 16, 16, 10.f, -1);
  // sign -1: output(x) = input(x - 7) -> dot moves to x = 9
  EXPECT_EQ(dot[(3 * 16 + 9) * 3], 200);
}

TEST(Augment, MixupSoftTargetsSumToOne) {
  const int b = 6, k = 4, h = 4, w = 4;
  std::vector<float> imgs(std::size_t(b) * 3 * h * w);
  for (std::size_t i = 0; i < imgs.size(); ++i) imgs[i] = float(i % 7);
  std::vector<int64_t> labels = {0, 1, 2, 3, 0, 1};
  for (float mix : {0.f, 0.8f})
    for (float cut : {0.f, 1.0f}) {
      if (mix == 0.f && cut == 0.f) continue;
      Rng rng(42);
      std::vector<float> soft(std::size_t(b) * k);
      auto copy = imgs;
      const float lam = mix_batch(copy.data(), b, h, w, labels.data(), k, mix, cut, rng, soft.data());
      EXPECT_GE(lam, 0.f);
      EXPECT_LE(lam, 1.f);
      for (int i = 0; i < b; ++i) {
        float sum = 0;
        for (int j = 0; j < k; ++j) sum += soft[i * k + j];
        EXPECT_NEAR(sum, 1.f, 1e-6);
        EXPECT_NEAR(soft[i * k + labels[i]] + (labels[i] == labels[b - 1 - i] ? 0.f : soft[i * k + labels[b - 1 - i]]),
                    1.f, 1e-6);
      }
    }
}

TEST(Augment, RandomEraseZeroesARectangle) {
  std::vector<float> img(3 * 16 * 16, 1.f);
  Rng rng(3);
  random_erase(img.data(), 16, 16, 1.f, rng);
  const auto zeros = std::count(img.begin(), img.end(), 0.f);
  EXPECT_GT(zeros, 0);
  EXPECT_EQ(zeros % 3, 0);  // same rectangle in each channel
  std::vector<float> keep(3 * 16 * 16, 1.f);
  random_erase(keep.data(), 16, 16, 0.f, rng);
  EXPECT_EQ(std::count(keep.begin(), keep.end(), 0.f), 0);
}
