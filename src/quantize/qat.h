#pragma once
// Short quantization-aware fine-tuning (QAT) with distillation from the float model.
//
// Trains the simulator's folded float weights (QuantSim::params(), the tensors the int8
// exporter writes with Int8ExportOptions::params_folded) through the fake-quantized forward
// with straight-through rounding; activation parameters stay those of calibration (the
// int8 graph is then exactly the one QAT trained against). Loss:
//   alpha * T^2 * KL(softmax(float / T) || softmax(int8 / T)) + (1 - alpha) * CE(int8, labels)
// where `float` = the float model's logits (the folded weights before fine-tuning) on the
// same, possibly augmented, batch. Adam(W, no decay), lr cosine-decayed to 0 (or constant).
// Measured on the 71 % student (docs/quantization.md): 1,000 steps on the 2,048 calibration
// images without augmentation overfit them (validation agreement with float down 0.3 point);
// use many training images with augmentation.
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "quantize/quant_sim.h"

namespace tinyvit::quantize {

struct QatOptions {
  int steps = 200;
  int64_t batch_size = 64;
  double lr = 2e-5;
  double temperature = 2.0;
  double alpha = 0.7;
  bool cosine = true;    // lr: cosine from lr to 0 over the steps; false = constant
  bool augment = false;  // per image: 4-pixel zero-pad random crop + horizontal flip
  uint64_t seed = 0;
  std::function<void(int step, double loss)> on_step;  // after every step (progress display)
};

struct QatResult {
  std::vector<double> losses;  // per step
};

// pixels (N, C, S, S) in [0, 1] (training images), labels (N,). sim.table must be calibrated.
QatResult qat_finetune(QuantSim& sim, const torch::Tensor& pixels, const torch::Tensor& labels,
                       const QatOptions& options);

}  // namespace tinyvit::quantize
