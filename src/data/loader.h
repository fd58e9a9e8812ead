#pragma once
// Batches for training and evaluation, prepared on background threads.
//
// Determinism: the sample order of epoch e is a permutation seeded by (seed, e), and the
// augmentation of the k-th sample of epoch e uses an RNG seeded by (seed, e, k). A run resumed
// at (epoch, batch) therefore sees exactly the batches it would have seen without the kill,
// whatever the number of worker threads.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "data/dataset.h"

namespace tinyvit::data {

struct AugmentOptions {
  bool random_crop = true;    // pad by crop_padding, random crop back
  int crop_padding = 4;
  bool reflect_padding = false;  // pad with the mirror image (torch's reflect) instead of zeros
  bool hflip = true;          // p = 0.5 ...
  bool alternating_flip = false;  // ... or each image in every other epoch (augment.h)
  // RandAugment-style: num ops per image and magnitude (0..10); 0 ops = off.
  int randaugment_ops = 0;
  int randaugment_magnitude = 9;
  float mixup_alpha = 0.f;    // > 0 enables mixup (Beta(alpha, alpha)) at batch level
  float cutmix_alpha = 0.f;   // > 0 enables cutmix; with both, each batch picks one (p = 0.5)
  float random_erasing = 0.f; // probability of erasing one random rectangle
};

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;
  bool augment = false;       // false: evaluation (no crop/flip/mix)
  AugmentOptions aug;
  int input_size = 32;        // model input side; images are resized (bilinear) when != stored
  std::array<float, 3> mean{0.4914f, 0.4822f, 0.4465f};  // CIFAR-10 channel statistics
  std::array<float, 3> std{0.2470f, 0.2435f, 0.2616f};
  uint64_t seed = 0;
  int num_workers = 1;        // background threads preparing batches
  int prefetch = 4;           // batches buffered ahead
};

struct Batch {
  torch::Tensor images;        // (B, 3, S, S) float32, normalized: (x/255 - mean) / std
  torch::Tensor labels;        // (B,) int64
  torch::Tensor soft_targets;  // (B, K) float32 when mixup/cutmix applied, else undefined
  int64_t index = 0;           // batch index within the epoch
};

class BatchLoader {
 public:
  // `dataset` must outlive the loader. `indices` selects the samples (e.g. Split::train).
  BatchLoader(const ImageDataset& dataset, std::vector<int64_t> indices, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts producing the batches of `epoch`, beginning at batch `first_batch` (for resume).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // Next batch of the current epoch, or nullopt at its end. Rethrows worker errors.
  std::optional<Batch> next();

  int64_t batches_per_epoch() const;
  int64_t num_samples() const;
  const LoaderOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tinyvit::data
