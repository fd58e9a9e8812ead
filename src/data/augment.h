#pragma once
// Training augmentation on uint8 RGB HWC images (per sample) and on normalized float CHW
// batches (mixup / cutmix / random erasing). Torch-free; all randomness from a caller's Rng.
#include <cstdint>

#include "data/rng.h"

namespace tinyvit::data {

// Horizontal flip of crop_flip: never, always, or with p = 0.5 (drawn from the rng).
enum class Mirror : int { kNo, kYes, kRandom };

// Random crop of an image padded by `pad` on every side (when crop) and horizontal flip as
// `flip` says. Padding is zeros, or (reflect) the mirror image without repeating the
// edge, as torch's ReflectionPad2d: index -1 reads 1, index h reads h - 2 (needs pad < h, w).
// src and dst are h*w*3 and must not overlap.
void crop_flip(const uint8_t* src, int h, int w, int pad, bool crop, Mirror flip, Rng& rng,
               uint8_t* dst, bool reflect = false);

// airbench's alternating flip: image `index` is mirrored in epoch e iff bit(index) XOR (e odd),
// with bit(index) a seeded coin fixed for the run: a random half in epoch 0, then every image
// in exactly every other epoch.
bool alternating_mirror(uint64_t seed, int64_t index, int64_t epoch);

enum class RandOp : int {
  kAutoContrast, kEqualize, kInvert, kRotate, kPosterize, kSolarize, kSolarizeAdd, kColor,
  kContrast, kBrightness, kSharpness, kShearX, kShearY, kTranslateX, kTranslateY, kCount
};

// Applies one op in place. magnitude in [0, 10]; `sign` (+1/-1) flips signed ops.
void apply_rand_op(RandOp op, uint8_t* img, int h, int w, float magnitude, int sign);

// RandAugment (timm-style): num_ops ops drawn uniformly with replacement, each applied with
// p = 0.5 at the given magnitude with a random sign.
void rand_augment(uint8_t* img, int h, int w, int num_ops, int magnitude, Rng& rng);

// With probability p, sets one random rectangle (2%..1/3 of the area, aspect 0.3..3.3) of a
// normalized CHW float image to 0 (= the dataset mean).
void random_erase(float* chw, int h, int w, float p, Rng& rng);

// Batch-level mixup / cutmix on normalized images (b, 3, h, w) contiguous. Each image i is
// mixed with image b-1-i. With both alphas > 0 the batch uses one of them (p = 0.5).
// Writes soft targets (b, k): lam * onehot(y_i) + (1 - lam) * onehot(y_{b-1-i}).
// Returns the lam used (for cutmix, the exact kept-area fraction).
float mix_batch(float* images, int64_t b, int h, int w, const int64_t* labels, int k,
                float mixup_alpha, float cutmix_alpha, Rng& rng, float* soft_targets);

}  // namespace tinyvit::data
