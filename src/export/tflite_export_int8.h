#pragma once
// Full-integer int8 TensorFlow Lite export (ViT and ResNet-18). Every op in the graph is int8
// (int32 biases); only the optional float I/O adds a QUANTIZE at the input and a DEQUANTIZE
// at the output. The scheme and the graph: docs/quantization.md.
//
//   input  "image"   int8  (1, S, S, C) NHWC: q = pixel - 128 (scale 1/255, zero point -128)
//                    uint8 (1, S, S, C): the raw 8-bit pixel (scale 1/255, zero point 0)
//                    float32 (1, S, S, C): pixels in [0, 1]
//                    the dataset normalization is folded into the first convolution (ViT)
//                    or runs in-graph in int8 (ResNet)
//   output "logits"  int8 / uint8 (1, classes) with the calibrated scale and zero point in the
//                    file, or float32 (dequantized)
//
// Activation parameters come from a QuantTable (src/quantize calibrates it with the
// simulated-quantization model that mirrors this graph). The finished file is checked against
// the int8 rules runtimes do not check (int8_rules.h); a violation throws tinyvit::Error.
#include <set>
#include <string>
#include <vector>

#include "export/lower_common.h"
#include "export/quant_params.h"
#include "export/tflite_export.h"
#include "models/config.h"

namespace tinyvit::exporter {

enum class Int8Io { kInt8, kUint8, kFloat32 };
Int8Io parse_int8_io(const std::string& name);  // "int8" | "uint8" | "float32"
const char* int8_io_name(Int8Io io);

struct Int8ExportOptions {
  Int8Io io = Int8Io::kInt8;
  std::vector<float> mean;  // per input channel, on [0,1] pixels; empty = no normalization
  std::vector<float> std;
  std::string description;
  std::vector<std::string> class_names;  // as ExportOptions::class_names
  // ViT LayerNorms kept in float32 ("blocks.3.norm2", "norm"): DEQUANTIZE, the float
  // LayerNorm ops (with eps), QUANTIZE back to the LayerNorm output's int8 parameters. For the
  // most sensitive layers (see the sensitivity report); the file stays valid for any TFLite
  // runtime but is no longer integer-only.
  std::set<std::string> float_layers;
  // `params` passed to export_tflite_int8 are already folded (fold_vit_int8 /
  // fold_resnet_int8 output, e.g. after quantization-aware fine-tuning of the folded weights).
  bool params_folded = false;
  // Debugging: int8 tensors (by name) added as extra graph outputs after "logits", so a
  // runtime's intermediate values can be compared with the simulation's.
  std::vector<std::string> extra_outputs;
};

// The ViT's float weights, rewritten into the form the int8 graph quantizes (names = the
// graph's tensor names): normalization folded into patch_embed.proj (with a convolutional
// tokenizer it cannot fold, since the 3x3 convs zero-pad the normalized image: then it is
// "normalize.scale" = 1/s and "normalize.shift" = -m/s for an in-graph MUL + ADD, and the
// stem convs keep their names, "patch_embed.stem.j"), 1/sqrt(hd) into q, each
// LayerNorm's gamma/beta into the linear layer after it (q, k, v / fc1 / logits), the class
// (and distillation) token as "cls_token" (1, prefix, D), a distilled model's two heads as one.
// The fake-quant model in src/quantize runs on exactly these tensors.
ParamMap fold_vit_int8(const models::VitConfig& config, const ParamMap& params,
                       const std::vector<float>& mean, const std::vector<float>& std);
// ResNet: BatchNorm folded into the convolutions ("conv1.weight"/"conv1.bias", ...,
// "logits.weight"/"logits.bias"); normalization stays a per-channel MUL/ADD in-graph.
ParamMap fold_resnet_int8(const models::ResNetConfig& config, const ParamMap& params);

ExportResult export_tflite_int8(const models::ModelConfig& config, const ParamMap& params,
                                const QuantTable& table, const Int8ExportOptions& options);

}  // namespace tinyvit::exporter
