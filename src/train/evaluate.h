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

// Runs the whole loader's epoch 0 in eval mode (no grad), restoring the model's mode after.
EvalResult evaluate(models::Classifier& model, data::BatchLoader& loader, torch::Device device);

}  // namespace tinyvit::train
