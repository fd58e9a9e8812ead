#include "data/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

namespace tinyvit::data {
namespace {

inline uint8_t clamp_u8(float v) {
  return static_cast<uint8_t>(std::clamp(static_cast<int>(std::lround(v)), 0, 255));
}

// out = degenerate + factor * (img - degenerate)  (PIL ImageEnhance blend).
void blend(uint8_t* img, const uint8_t* degenerate, std::size_t n, float factor) {
  for (std::size_t i = 0; i < n; ++i)
    img[i] = clamp_u8(degenerate[i] + factor * (float(img[i]) - float(degenerate[i])));
}

inline int gray_of(const uint8_t* p) { return (p[0] * 299 + p[1] * 587 + p[2] * 114) / 1000; }

// Inverse affine warp: the output pixel (x, y) (centres) samples the input at
// (a x + b y + c, d x + e y + f), bilinear, fill grey outside.
void warp_affine(uint8_t* img, int h, int w, float a, float b, float c, float d, float e, float f) {
  static constexpr float kFill[3] = {125.f, 123.f, 114.f};  // ~ CIFAR-10 mean colour
  std::vector<uint8_t> src(img, img + std::size_t(h) * w * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const float xc = x + 0.5f, yc = y + 0.5f;
      const float sx = a * xc + b * yc + c - 0.5f, sy = d * xc + e * yc + f - 0.5f;
      const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
      const float lx = sx - x0, ly = sy - y0;
      uint8_t* q = img + (std::size_t(y) * w + x) * 3;
      for (int ch = 0; ch < 3; ++ch) {
        float acc = 0.f;
        for (int dy = 0; dy < 2; ++dy) {
          for (int dx = 0; dx < 2; ++dx) {
            const int xx = x0 + dx, yy = y0 + dy;
            const float wgt = (dx ? lx : 1 - lx) * (dy ? ly : 1 - ly);
            const float v = (xx >= 0 && xx < w && yy >= 0 && yy < h)
                                ? float(src[(std::size_t(yy) * w + xx) * 3 + ch])
                                : kFill[ch];
            acc += wgt * v;
          }
        }
        q[ch] = clamp_u8(acc);
      }
    }
  }
}

void apply_lut(uint8_t* img, std::size_t pixels, const std::array<std::array<uint8_t, 256>, 3>& lut) {
  for (std::size_t i = 0; i < pixels; ++i)
    for (int c = 0; c < 3; ++c) img[i * 3 + c] = lut[c][img[i * 3 + c]];
}

}  // namespace

void crop_flip(const uint8_t* src, int h, int w, int pad, bool crop, Mirror flip, Rng& rng,
               uint8_t* dst, bool reflect) {
  int oy = pad, ox = pad;
  if (crop && pad > 0) {
    oy = static_cast<int>(rng.range(0, 2 * pad));
    ox = static_cast<int>(rng.range(0, 2 * pad));
  }
  const bool mirror = flip == Mirror::kYes || (flip == Mirror::kRandom && rng.bernoulli(0.5));
  const int dy = oy - (crop ? pad : oy), dx = ox - (crop ? pad : ox);  // source offset
  // Source index of padded position i in [-pad, n + pad), or -1 for a zero pixel.
  auto source = [reflect](int i, int n) {
    if (i >= 0 && i < n) return i;
    if (!reflect) return -1;
    return i < 0 ? -i : 2 * n - 2 - i;
  };
  for (int y = 0; y < h; ++y) {
    const int sy = source(y + dy, h);
    uint8_t* row = dst + std::size_t(y) * w * 3;
    if (sy < 0) {
      std::memset(row, 0, std::size_t(w) * 3);
      continue;
    }
    for (int x = 0; x < w; ++x) {
      const int sx = source((mirror ? w - 1 - x : x) + dx, w);
      uint8_t* q = row + std::size_t(x) * 3;
      if (sx < 0) {
        q[0] = q[1] = q[2] = 0;
      } else {
        const uint8_t* p = src + (std::size_t(sy) * w + sx) * 3;
        q[0] = p[0];
        q[1] = p[1];
        q[2] = p[2];
      }
    }
  }
}

bool alternating_mirror(uint64_t seed, int64_t index, int64_t epoch) {
  constexpr uint64_t kFlipTag = 0x666c6970;  // "flip"
  Rng coin(derive_seed(seed, kFlipTag, static_cast<uint64_t>(index)));
  return coin.bernoulli(0.5) != (epoch % 2 == 1);
}

void apply_rand_op(RandOp op, uint8_t* img, int h, int w, float magnitude, int sign) {
  const std::size_t npix = std::size_t(h) * w, n = npix * 3;
  const float f = std::clamp(magnitude, 0.f, 10.f) / 10.f;
  const float s = sign < 0 ? -1.f : 1.f;
  std::array<std::array<uint8_t, 256>, 3> lut;
  switch (op) {
    case RandOp::kAutoContrast: {
      for (int c = 0; c < 3; ++c) {
        int lo = 255, hi = 0;
        for (std::size_t i = 0; i < npix; ++i) {
          lo = std::min<int>(lo, img[i * 3 + c]);
          hi = std::max<int>(hi, img[i * 3 + c]);
        }
        for (int v = 0; v < 256; ++v) {
          if (hi <= lo) {
            lut[c][v] = static_cast<uint8_t>(v);
          } else {
            const float scale = 255.f / float(hi - lo);
            lut[c][v] = static_cast<uint8_t>(std::clamp(int((v - lo) * scale), 0, 255));
          }
        }
      }
      apply_lut(img, npix, lut);
      break;
    }
    case RandOp::kEqualize: {  // PIL ImageOps.equalize, per channel
      for (int c = 0; c < 3; ++c) {
        std::array<int64_t, 256> hist{};
        for (std::size_t i = 0; i < npix; ++i) ++hist[img[i * 3 + c]];
        int last = 255;
        while (last > 0 && hist[last] == 0) --last;
        const int64_t step = (int64_t(npix) - hist[last]) / 255;
        int64_t acc = step / 2;
        for (int v = 0; v < 256; ++v) {
          if (step == 0) {
            lut[c][v] = static_cast<uint8_t>(v);
          } else {
            lut[c][v] = static_cast<uint8_t>(std::min<int64_t>(acc / step, 255));
            acc += hist[v];
          }
        }
      }
      apply_lut(img, npix, lut);
      break;
    }
    case RandOp::kInvert:
      for (std::size_t i = 0; i < n; ++i) img[i] = static_cast<uint8_t>(255 - img[i]);
      break;
    case RandOp::kRotate: {
      const float deg = 30.f * f * s, rad = deg * 3.14159265f / 180.f;
      const float cs = std::cos(rad), sn = std::sin(rad), cx = w * 0.5f, cy = h * 0.5f;
      // input = R(-deg) (output - centre) + centre
      warp_affine(img, h, w, cs, sn, cx - cs * cx - sn * cy, -sn, cs, cy + sn * cx - cs * cy);
      break;
    }
    case RandOp::kPosterize: {
      const int bits = 8 - static_cast<int>(4.f * f);
      const auto mask = static_cast<uint8_t>(0xFF << (8 - bits));
      for (std::size_t i = 0; i < n; ++i) img[i] &= mask;
      break;
    }
    case RandOp::kSolarize: {
      const int threshold = 256 - static_cast<int>(256.f * f);
      for (std::size_t i = 0; i < n; ++i)
        if (img[i] >= threshold) img[i] = static_cast<uint8_t>(255 - img[i]);
      break;
    }
    case RandOp::kSolarizeAdd: {
      const int add = static_cast<int>(110.f * f);
      for (std::size_t i = 0; i < n; ++i)
        if (img[i] < 128) img[i] = static_cast<uint8_t>(std::min(255, img[i] + add));
      break;
    }
    case RandOp::kColor: {
      std::vector<uint8_t> deg(n);
      for (std::size_t i = 0; i < npix; ++i)
        deg[i * 3] = deg[i * 3 + 1] = deg[i * 3 + 2] = static_cast<uint8_t>(gray_of(img + i * 3));
      blend(img, deg.data(), n, 1.f + 0.9f * f * s);
      break;
    }
    case RandOp::kContrast: {
      int64_t sum = 0;
      for (std::size_t i = 0; i < npix; ++i) sum += gray_of(img + i * 3);
      const auto mean = static_cast<uint8_t>((sum + int64_t(npix) / 2) / int64_t(npix));
      std::vector<uint8_t> deg(n, mean);
      blend(img, deg.data(), n, 1.f + 0.9f * f * s);
      break;
    }
    case RandOp::kBrightness: {
      std::vector<uint8_t> deg(n, 0);
      blend(img, deg.data(), n, 1.f + 0.9f * f * s);
      break;
    }
    case RandOp::kSharpness: {  // PIL SMOOTH kernel [1 1 1; 1 5 1; 1 1 1] / 13, border kept
      std::vector<uint8_t> deg(img, img + n);
      for (int y = 1; y + 1 < h; ++y)
        for (int x = 1; x + 1 < w; ++x)
          for (int c = 0; c < 3; ++c) {
            int acc = 0;
            for (int dy = -1; dy <= 1; ++dy)
              for (int dx = -1; dx <= 1; ++dx)
                acc += img[(std::size_t(y + dy) * w + (x + dx)) * 3 + c] * ((dx | dy) ? 1 : 5);
            deg[(std::size_t(y) * w + x) * 3 + c] = static_cast<uint8_t>((acc + 6) / 13);
          }
      blend(img, deg.data(), n, 1.f + 0.9f * f * s);
      break;
    }
    case RandOp::kShearX:
      warp_affine(img, h, w, 1.f, 0.3f * f * s, 0.f, 0.f, 1.f, 0.f);
      break;
    case RandOp::kShearY:
      warp_affine(img, h, w, 1.f, 0.f, 0.f, 0.3f * f * s, 1.f, 0.f);
      break;
    case RandOp::kTranslateX:
      warp_affine(img, h, w, 1.f, 0.f, std::round(0.45f * f * s * w), 0.f, 1.f, 0.f);
      break;
    case RandOp::kTranslateY:
      warp_affine(img, h, w, 1.f, 0.f, 0.f, 0.f, 1.f, std::round(0.45f * f * s * h));
      break;
    case RandOp::kCount:
      break;
  }
}

void rand_augment(uint8_t* img, int h, int w, int num_ops, int magnitude, Rng& rng) {
  for (int i = 0; i < num_ops; ++i) {
    const auto op = static_cast<RandOp>(rng.below(static_cast<uint64_t>(RandOp::kCount)));
    const bool apply = rng.bernoulli(0.5);
    const int sign = rng.bernoulli(0.5) ? 1 : -1;
    if (apply) apply_rand_op(op, img, h, w, static_cast<float>(magnitude), sign);
  }
}

void random_erase(float* chw, int h, int w, float p, Rng& rng) {
  if (p <= 0.f || !rng.bernoulli(p)) return;
  const double area = double(h) * w;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(0.02, 1.0 / 3.0);
    const double aspect = std::exp(rng.uniform(std::log(0.3), std::log(3.3)));
    const int eh = static_cast<int>(std::lround(std::sqrt(target * aspect)));
    const int ew = static_cast<int>(std::lround(std::sqrt(target / aspect)));
    if (eh < 1 || ew < 1 || eh >= h || ew >= w) continue;
    const int top = static_cast<int>(rng.range(0, h - eh));
    const int left = static_cast<int>(rng.range(0, w - ew));
    for (int c = 0; c < 3; ++c)
      for (int y = top; y < top + eh; ++y)
        std::fill_n(chw + (std::size_t(c) * h + y) * w + left, ew, 0.f);
    return;
  }
}

float mix_batch(float* images, int64_t b, int h, int w, const int64_t* labels, int k,
                float mixup_alpha, float cutmix_alpha, Rng& rng, float* soft) {
  bool use_cutmix = cutmix_alpha > 0.f;
  if (mixup_alpha > 0.f && cutmix_alpha > 0.f) use_cutmix = rng.bernoulli(0.5);
  const float alpha = use_cutmix ? cutmix_alpha : mixup_alpha;
  float lam = 1.f;
  const std::size_t img = std::size_t(3) * h * w;
  std::vector<float> orig(images, images + std::size_t(b) * img);
  if (alpha > 0.f && b > 1) {
    lam = static_cast<float>(rng.beta(alpha, alpha));
    if (!use_cutmix) {
      for (int64_t i = 0; i < b; ++i) {
        float* dst = images + std::size_t(i) * img;
        const float* other = orig.data() + std::size_t(b - 1 - i) * img;
        for (std::size_t j = 0; j < img; ++j) dst[j] = lam * dst[j] + (1.f - lam) * other[j];
      }
    } else {
      const double cut = std::sqrt(1.0 - lam);
      const int ch = static_cast<int>(h * cut), cw = static_cast<int>(w * cut);
      const int cy = static_cast<int>(rng.range(0, h - 1)), cx = static_cast<int>(rng.range(0, w - 1));
      const int y0 = std::clamp(cy - ch / 2, 0, h), y1 = std::clamp(cy + ch / 2, 0, h);
      const int x0 = std::clamp(cx - cw / 2, 0, w), x1 = std::clamp(cx + cw / 2, 0, w);
      for (int64_t i = 0; i < b; ++i) {
        float* dst = images + std::size_t(i) * img;
        const float* other = orig.data() + std::size_t(b - 1 - i) * img;
        for (int c = 0; c < 3; ++c)
          for (int y = y0; y < y1; ++y) {
            const std::size_t off = (std::size_t(c) * h + y) * w + x0;
            std::memcpy(dst + off, other + off, sizeof(float) * std::size_t(x1 - x0));
          }
      }
      lam = 1.f - float(y1 - y0) * float(x1 - x0) / float(h * w);
    }
  }
  std::fill_n(soft, std::size_t(b) * k, 0.f);
  for (int64_t i = 0; i < b; ++i) {
    soft[std::size_t(i) * k + std::size_t(labels[i])] += lam;
    soft[std::size_t(i) * k + std::size_t(labels[b - 1 - i])] += 1.f - lam;
  }
  return lam;
}

}  // namespace tinyvit::data
