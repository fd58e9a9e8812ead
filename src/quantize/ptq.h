#pragma once
// `tinyvit quantize` as a library call: calibrate, export the int8 .tflite, and measure
// (float vs simulated int8 on the evaluation images, the file in LiteRT.js vs the simulation,
// optionally every calibration method and per-layer sensitivity). Data loading is the caller's.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "export/tflite_export_int8.h"
#include "models/model.h"
#include "quantize/quantize.h"

namespace tinyvit::quantize {

struct PtqOptions {
  CalibrationOptions calib;
  exporter::Int8Io io = exporter::Int8Io::kInt8;
  int64_t litert_images = 500;   // evaluation images also run in LiteRT.js (0 = none)
  bool compare_methods = false;  // accuracy of minmax / percentile / mse side by side
  bool sensitivity = false;      // per-layer sensitivity table
  std::vector<float> mean, std;  // dataset normalization on [0,1] pixels
  std::vector<std::string> class_names;  // stored in the files' metadata (empty = none)
  // Higher precision for sensitive layers (ViT LayerNorms kept in float32, see
  // Int8ExportOptions::float_layers): these by name, plus the `keep_float_worst` LayerNorms
  // the sensitivity analysis ranks worst.
  std::vector<std::string> keep_float;
  int keep_float_worst = 0;
  // ViT: rotate the residual stream (rotate.h) before calibration; the function is unchanged,
  // the int8 ranges are not (docs/quantization.md measures it). Seeded by calib.seed. ResNets
  // have no LayerNorm to carry a rotation: ignored there (the report says so).
  bool rotate = true;
  bool rotate_heads = false;  // with rotate: also rotate_attention_heads
  // Quantization-aware fine-tuning (qat.h) after calibration; 0 = PTQ only. Trains on
  // qat_pixels / qat_labels ((N, C, S, S) in [0, 1], training images), or on the calibration
  // images when those are undefined.
  int qat_steps = 0;
  double qat_lr = 2e-5;
  double qat_alpha = 0.7;  // QatOptions::alpha
  double qat_temperature = 2.0;
  bool qat_augment = false;
  torch::Tensor qat_pixels, qat_labels;
};

struct PtqResult {
  exporter::QuantTable table;
  std::vector<uint8_t> bytes;
  nlohmann::json report;  // everything measured; also the table
};

// calib_pixels / eval_pixels: (N, C, S, S) in [0, 1]; labels (N,) (calib_labels: for QAT;
// eval_labels may be undefined).
// Writes `out_path` (atomically) and returns the report.
PtqResult run_ptq(models::Classifier& model, const torch::Tensor& calib_pixels,
                  const torch::Tensor& calib_labels, const torch::Tensor& eval_pixels, const torch::Tensor& eval_labels,
                  const std::string& out_path, const PtqOptions& options);

std::string format_report(const nlohmann::json& report);

}  // namespace tinyvit::quantize
