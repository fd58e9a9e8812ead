#pragma once
// Simulated quantization ("fake quant") of the int8 TFLite graph, in LibTorch, batched.
//
// The model runs on the same folded float weights as the int8 exporter (fold_vit_int8 /
// fold_resnet_int8) and in the same op order, and puts a quantization point wherever the
// int8 graph has an int8 activation, named like that tensor in the .tflite file:
//   weights  per output channel, symmetric int8 (exporter::quantize_weight)
//   biases   int32 at scale input x weight (exporter::quantize_bias)
//   outputs  q = clamp(round_half_even(y / s) + zp, -128, 127), y computed in float32 from
//            the dequantized inputs; SOFTMAX outputs at 1/256, -128
// Which arithmetic this mirrors: one rounding per op, ties to even, from an exact (float)
// result. That is XNNPACK's requantization (LiteRT.js runs FULLY_CONNECTED, CONV_2D, ADD, MUL,
// MEAN, ... through XNNPACK); TFLite's reference kernels (TFLM) round twice, half away from
// zero, and LUT/fixed-point kernels (SOFTMAX, L2_NORMALIZATION) approximate exp and 1/sqrt, so
// outputs can differ by one step on some elements.
//
// Modes: kFloat (no quantization: the float model, for reference), kCalibrate (float, and
// every quantization point's input goes to a RangeObserver), kQuant (fake quantization with
// a QuantTable). In kQuant `ste` makes rounding straight-through so QAT can train the folded
// weights (params(), which then are the tensors the exporter writes). kExact (ViT, every
// tensor int8, forward only): the int8 graph evaluated on integers with LiteRT's arithmetic
// op for op (litert_arith.h), so its logits are the bytes LiteRT computes for the file.
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "export/lower_common.h"
#include "export/quant_params.h"
#include "models/config.h"
#include "quantize/calibrate.h"

namespace tinyvit::quantize {

enum class SimMode { kFloat, kCalibrate, kQuant, kExact };

class QuantSim {
 public:
  virtual ~QuantSim() = default;
  // pixels: (B, C, S, S) float32 in [0, 1] (8-bit images: k/255) -> logits (B, classes)
  virtual torch::Tensor forward(const torch::Tensor& pixels) = 0;

  SimMode mode = SimMode::kFloat;
  exporter::QuantTable table;          // kQuant
  RangeObserver* observer = nullptr;   // kCalibrate
  // kQuant: which activations / weights are quantized (null = all); the sensitivity analysis
  // quantizes one layer at a time with these.
  std::function<bool(const std::string&)> quantize_activation;
  std::function<bool(const std::string&)> quantize_weight;
  bool ste = false;                    // straight-through rounding (QAT)
  // ViT LayerNorms computed in float (exporter's Int8ExportOptions::float_layers): only
  // their int8 output is quantized.
  std::set<std::string> float_layers;
  // Debugging: when set, kQuant stores every quantized activation here, by name.
  std::map<std::string, torch::Tensor>* capture = nullptr;

  exporter::ParamMap& params() { return F_; }  // the folded float weights
  const models::ModelConfig& config() const { return config_; }
  // Names of the weight-carrying layers ("blocks.0.attn.q", ..., "logits") in graph order.
  const std::vector<std::string>& layers() const { return layers_; }

 protected:
  QuantSim(models::ModelConfig config, exporter::ParamMap folded)
      : config_(std::move(config)), F_(std::move(folded)) {}
  torch::Tensor qp(const std::string& name, const torch::Tensor& x);
  torch::Tensor qfixed(const std::string& name, const torch::Tensor& x, exporter::QuantParam p);
  torch::Tensor qconst(const std::string& name, const torch::Tensor& x, exporter::QuantParam p);
  exporter::QuantParam act_param(const std::string& name) const;  // "image" -> pixel param
  // Fake-quantized weight / bias of layer `name`; `input` names the layer's input tensor.
  torch::Tensor weight(const std::string& name);
  torch::Tensor bias(const std::string& name, const std::string& input);
  torch::Tensor linear(const torch::Tensor& x, const std::string& name, const std::string& input);
  bool quant_on(const std::string& name) const;
  // (x - m) / s as the int8 graphs run it: "normalize.scaled" = x * scale, "normalize" =
  // + shift, per channel of NCHW x (scale = 1/s, shift = -m/s, int8 constants).
  torch::Tensor normalize(const torch::Tensor& x, torch::Tensor scale, torch::Tensor shift);

  models::ModelConfig config_;
  exporter::ParamMap F_;
  std::vector<std::string> layers_;
};

// Builds the simulator for a ViT or ResNet checkpoint's weights (`params`: collect_params of
// the model); mean/std: the dataset normalization on [0,1] pixels (as the exporter takes it).
std::unique_ptr<QuantSim> make_quant_sim(const models::ModelConfig& config,
                                         const exporter::ParamMap& params,
                                         const std::vector<float>& mean,
                                         const std::vector<float>& std);

}  // namespace tinyvit::quantize
