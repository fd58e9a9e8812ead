#pragma once
// Post-training int8 quantization, end to end: calibrate the simulated-quantization model on a
// fixed set of images, build the QuantTable, estimate int8 accuracy without exporting, run the
// exported file in LiteRT.js, and per-layer sensitivity.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "export/quant_params.h"
#include "quantize/calibrate.h"
#include "quantize/quant_sim.h"

namespace tinyvit::quantize {

struct CalibrationOptions {
  CalibMethod method = CalibMethod::kMse;
  double percentile = 99.99;
  // Per-tensor choice: (pattern, method), first match wins; pattern = exact name, or a prefix
  // ending in '*', or '*' + suffix (e.g. "*.attn.scores").
  std::vector<std::pair<std::string, CalibMethod>> overrides;
  int64_t batch_size = 64;
  uint64_t seed = 0;
};
// "pattern=method,pattern=method" -> overrides
std::vector<std::pair<std::string, CalibMethod>> parse_overrides(const std::string& spec);

// Float passes of `sim` over `pixels` (N, C, S, S) in [0, 1], every quantization point observed.
RangeObserver observe(QuantSim& sim, const torch::Tensor& pixels, int64_t batch_size,
                      uint64_t seed);
// Ranges -> int8 parameters, with the graph's fixed ones: softmax outputs 1/256, -128; the
// patch-embedding output shares the token CONCATENATION's parameters.
exporter::QuantTable make_table(const QuantSim& sim, const RangeObserver& observer,
                                const CalibrationOptions& options);
exporter::QuantTable calibrate(QuantSim& sim, const torch::Tensor& pixels,
                               const CalibrationOptions& options);

// Logits of `sim` in `mode` (kQuant uses sim.table), batched, no grad.
torch::Tensor sim_logits(QuantSim& sim, const torch::Tensor& pixels, SimMode mode,
                         int64_t batch_size = 128);

// Runs an int8 .tflite we exported (any I/O type, read from its "tinyvit" metadata) in
// LiteRT.js on `pixels` (N, C, S, S) in [0, 1]. logits: dequantized float (N, K); steps: the
// logits in quantization steps (raw int8 values as float; for float I/O: logits / scale).
struct TfliteRun {
  torch::Tensor logits;
  torch::Tensor steps;
  float scale = 1.f;
  int32_t zero_point = 0;
};
TfliteRun run_int8_tflite(const std::string& path, const torch::Tensor& pixels);

struct Agreement {
  int64_t count = 0;
  double top1_agreement = 0;   // fraction with the same arg-max
  double mean_abs_diff = 0;    // mean |a - b| over all logits, in units of `scale`
  double max_abs_diff = 0;
  double accuracy_a = 0, accuracy_b = 0;  // vs labels when given
};
Agreement compare_logits(const torch::Tensor& a, const torch::Tensor& b,
                         const torch::Tensor& labels, double scale);
nlohmann::json to_json(const Agreement& a);

double accuracy(const torch::Tensor& logits, const torch::Tensor& labels);

// Per-layer sensitivity: top-1 accuracy (and agreement with float) when only that layer group
// is quantized (its weights and its output activations; LayerNorm groups cover their pieces).
struct LayerSensitivity {
  std::string layer;
  double accuracy = 0;
  double drop = 0;            // float accuracy - accuracy (points, x100)
  double agreement = 0;       // top-1 agreement with the float model
};
std::vector<LayerSensitivity> sensitivity(QuantSim& sim, const torch::Tensor& pixels,
                                          const torch::Tensor& labels);
// The layer group a quantization point belongs to ("blocks.0.norm1.centered" -> "blocks.0.norm1").
std::string layer_group(const std::string& name);

}  // namespace tinyvit::quantize
