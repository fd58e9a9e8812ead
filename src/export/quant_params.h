#pragma once
// int8 quantization parameters and the arithmetic shared by the int8 exporter and the
// simulated-quantization (fake-quant) model in src/quantize, so both quantize weights, biases
// and constants with the same code.
//
// Scheme (TFLite full-integer int8):
//   activations  int8, per tensor, asymmetric: real = scale * (q - zero_point), q in [-128, 127]
//   weights      int8, per output channel, symmetric: zero_point 0, q in [-127, 127]
//   biases       int32, per output channel, scale = input scale * weight scale, zero_point 0
//   constants    (cls token, pos_embed, ...) int8 per tensor, asymmetric, min-max
// Rounding: round half to even everywhere here (torch::round), which is what XNNPACK (the
// engine LiteRT.js runs most int8 ops on) does when it requantizes; TFLite's reference kernels
// round half away from zero after a fixed-point multiply, so they can differ by 1 step.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace tinyvit::exporter {

struct QuantParam {
  float scale = 1.f;
  int32_t zero_point = 0;
};
bool operator==(const QuantParam& a, const QuantParam& b);
inline bool operator!=(const QuantParam& a, const QuantParam& b) { return !(a == b); }

// Activation tensor name (as in the .tflite file) -> its int8 parameters.
using QuantTable = std::map<std::string, QuantParam>;

// The fixed parameters of an int8 SOFTMAX output (TFLite requires them): 1/256, -128.
QuantParam softmax_output_param();
// The fixed parameters of an int8 L2_NORMALIZATION output (TFLite requires them): 1/128, 0.
QuantParam l2norm_output_param();
// Pixels of an 8-bit image as int8: real = (q + 128) / 255, i.e. q = pixel - 128.
QuantParam pixel_param();

// Asymmetric int8 parameters covering [lo, hi]; the range is first widened to contain 0 (so
// 0 is exactly representable, as padding and ReLU need) and kept non-degenerate.
QuantParam int8_params(double lo, double hi);
// Parameters for a constant tensor: min-max over its values.
QuantParam const_params(const torch::Tensor& value);

// q = clamp(round_half_even(x / scale) + zp, -128, 127), as int8.
torch::Tensor quantize_int8(const torch::Tensor& x, QuantParam p);
torch::Tensor dequantize_int8(const torch::Tensor& q, QuantParam p);
// dequantize(quantize(x)) in float32 (differentiable only with a straight-through wrapper).
torch::Tensor fake_quant(const torch::Tensor& x, QuantParam p);

struct ChannelQuant {
  torch::Tensor q;      // int8, same shape as the weight, values in [-127, 127]
  torch::Tensor scale;  // float32 (out,): max |w[o]| / 127 (1 for an all-zero channel)
  torch::Tensor dequantized() const;  // float32, q * scale per output channel
};
// Symmetric per-output-channel (dim 0) int8 quantization of a weight of any rank.
ChannelQuant quantize_weight(const torch::Tensor& w);
// int32 bias, per output channel: round(b / (input_scale * weight_scale[o])). The scale
// written to the file is float(double(input_scale) * double(weight_scale[o])).
torch::Tensor quantize_bias(const torch::Tensor& b, float input_scale,
                            const torch::Tensor& weight_scale);
torch::Tensor bias_scale(float input_scale, const torch::Tensor& weight_scale);

nlohmann::json to_json(const QuantTable& table);
QuantTable quant_table_from_json(const nlohmann::json& j);

}  // namespace tinyvit::exporter
