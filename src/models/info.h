#pragma once
// Parameter and multiply-accumulate counts per layer, computed from the config (batch 1).
#include <cstdint>
#include <string>
#include <vector>

#include "models/config.h"

namespace tinyvit::models {

struct LayerInfo {
  std::string name;          // e.g. "blocks.3.attn.qkv"
  std::string kind;          // Conv2d, Linear, LayerNorm, MatMul, ...
  std::vector<int64_t> output_shape;  // batch 1
  int64_t params = 0;
  int64_t macs = 0;
};

struct ModelInfo {
  std::vector<LayerInfo> layers;
  int64_t params = 0;        // all trainable parameters (incl. tokens and position embedding)
  int64_t macs = 0;          // sum over layers (batch 1)
};

ModelInfo model_info(const ModelConfig& config);
std::string format_model_info(const ModelConfig& config, const ModelInfo& info, bool per_layer);

}  // namespace tinyvit::models
