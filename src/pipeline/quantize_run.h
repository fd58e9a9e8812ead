#pragma once
// Post-training int8 quantization of a checkpoint on prepared data: what `tinyvit quantize`
// and the pipeline's [quantize] stage both run (calibration subset, evaluation pixels, run_ptq).
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>

#include "pipeline/stage.h"
#include "quantize/ptq.h"

namespace tinyvit::pipeline {

// `n` training images, a seeded random subset of the training split: {pixels in [0, 1], labels}.
std::pair<torch::Tensor, torch::Tensor> calibration_pixels(const PreparedData& d,
                                                          const DataConfig& dc, int input_size,
                                                          int64_t n, uint64_t seed);

struct QuantizeJob {
  quantize::PtqOptions ptq;  // mean/std: taken from the checkpoint when left empty
  int64_t calib_size = 512;  // calibration images (seeded by ptq.calib.seed)
  // QAT training images (seeded training subset; its first calib_size are the calibration
  // images); 0 = the calibration images themselves. Only used when ptq.qat_steps > 0.
  int64_t qat_images = 0;
  int64_t eval_images = 0;   // the first N validation images are evaluated (0 = all of d.val)
};

// Loads `ckpt`, calibrates on the training split, evaluates on the validation split and writes
// the int8 .tflite to `out_path` (atomically). The report is the caller's to write.
quantize::PtqResult quantize_checkpoint(const std::string& ckpt, const PreparedData& d,
                                        const DataConfig& dc, const QuantizeJob& job,
                                        const std::string& out_path);

}  // namespace tinyvit::pipeline
