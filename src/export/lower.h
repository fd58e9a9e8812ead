#pragma once
// The model-family lowerings (internal to src/export). Each adds the whole graph to `e`:
// input "image", output "logits", signature "serving_default".
#include "export/lower_common.h"
#include "export/tflite_export.h"
#include "models/config.h"

namespace tinyvit::exporter {

struct LowerOptions {
  bool gelu_tanh = false;   // tflm target
  std::vector<float> mean;  // empty = no normalization in the graph
  std::vector<float> std;
};

void lower_vit(Emitter& e, const models::VitConfig& config, const ParamMap& params,
               const LowerOptions& options);
void lower_resnet(Emitter& e, const models::ResNetConfig& config, const ParamMap& params,
                  const LowerOptions& options);
void lower_cnn(Emitter& e, const models::CnnConfig& config, const ParamMap& params,
               const LowerOptions& options);

// The dataset normalization in-graph, (x - mean) / std = x * (1/std) + (-mean/std), as MUL +
// ADD on the NHWC image `x`; returns x itself when options.mean is empty.
int normalize_input(Emitter& e, int x, const LowerOptions& options);

// Sets the graph's input/output and its "serving_default" signature.
void finish_graph(Emitter& e, int input, int logits);

}  // namespace tinyvit::exporter
