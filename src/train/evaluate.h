#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data/loader.h"
#include "models/model.h"

namespace tinyvit::train {

struct EvalResult {
  double loss = 0.0;       // mean cross-entropy (no smoothing)
  double accuracy = 0.0;   // top-1, in [0, 1]
  int64_t count = 0;
  std::vector<int64_t> confusion;  // K*K, row = true class, column = predicted
  int num_classes = 0;
};

// Test-time augmentation over 6 views of x (B, C, H, W), airbench's "mirror + translate":
//   m(v)   = (f(v) + f(flip_w(v))) / 2
//   logits = m(x) / 2 + (m(s_{-1}(x)) + m(s_{+1}(x))) / 4
// where s_d shifts the image by d pixels along both axes with reflect padding:
// s_{-1}(x)[i, j] = x[refl(i - 1), refl(j - 1)], s_{+1}(x)[i, j] = x[refl(i + 1), refl(j + 1)].
torch::Tensor tta_logits(models::Classifier& model, const torch::Tensor& x);

// Runs the whole loader's epoch 0 in eval mode (no grad), restoring the model's mode after.
// tta: score tta_logits instead of the plain forward pass (6x the compute).
EvalResult evaluate(models::Classifier& model, data::BatchLoader& loader, torch::Device device,
                    bool tta = false);

}  // namespace tinyvit::train
