#pragma once
// Size and speed of a (pruned) model, for `tinyvit prune` and docs/pruning.md.
#include <cstdint>
#include <string>

#include "models/model.h"

namespace tinyvit::prune {

struct ModelCost {
  int64_t params = 0;         // all parameters (models/info.h)
  int64_t macs = 0;           // multiply-accumulates at batch 1 (models/info.h)
  // Weights of a full-int8 model: 1 byte per element of every >= 2-D parameter (Linear/Conv
  // weights, tokens, pos_embed) + 4 bytes per element of 1-D ones (int32 biases, float
  // LayerNorm); quantization scales not included (< 1% here).
  int64_t int8_weight_bytes = 0;
  double latency_ms = 0.0;      // LibTorch, batch 1, median of timed runs (0 if not measured)
  double latency_min_ms = 0.0;  // fastest run (the better estimate on a shared, loaded CPU)
};

// Counts from the config; latency when `latency_runs` > 0 (eval mode, no grad, current
// intra-op thread setting, 3 warm-up runs first).
ModelCost model_cost(models::Classifier& model, int latency_runs = 0);

std::string format_cost(const ModelCost& c);

}  // namespace tinyvit::prune
