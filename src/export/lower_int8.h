#pragma once
// int8 lowering helpers: one emitter method per TFLite op, with int8 activations (per-tensor
// parameters from a QuantTable, looked up by the output tensor's name), int8 per-channel
// weights and int32 biases. The int8 model lowerings (lower_vit_int8.cpp, lower_resnet_int8.cpp)
// are written only in terms of these methods.
//
// The int8 rules runtimes do not check (../shared/PRODUCT.md, int8_rules.h) are enforced
// here by construction: SOFTMAX outputs 1/256 and -128; bias scale = input x weight scale;
// weight zero points 0; CONCATENATION inputs must already carry the output's parameters
// (else tinyvit::Error); RESHAPE / TRANSPOSE / STRIDED_SLICE / GATHER / PAD / MAX_POOL_2D
// outputs copy their input's parameters.
#include <map>
#include <string>
#include <vector>

#include "export/lower_common.h"
#include "export/quant_params.h"

namespace tinyvit::exporter {

class QEmitter {
 public:
  QEmitter(GraphBuilder& graph, const QuantTable& table) : g_(graph), table_(table) {}
  GraphBuilder& graph() { return g_; }
  const std::vector<int32_t>& shape(int t) const { return g_.shape(t); }
  QuantParam param(int t) const;            // of an int8 tensor this emitter made
  QuantParam table(const std::string& name) const;  // throws naming the missing entry
  int find(const std::string& name) const;  // an int8 tensor this emitter made, by name

  // A graph input of `type` (INT8, UINT8 or FLOAT32) with parameters `p` (zero point shifted
  // by +128 for UINT8; FLOAT32 inputs carry none).
  int input(const std::string& name, std::vector<int32_t> shape, tfl::TensorType type,
            QuantParam p);
  // QUANTIZE: FLOAT32/UINT8/INT8 -> `type` with parameters `p` (UINT8: zero point + 128).
  int quantize(int x, const std::string& name, tfl::TensorType type, QuantParam p);
  int dequantize(int x, const std::string& name);  // int8/uint8 -> FLOAT32

  // An int8 constant quantized per tensor with `p` (default: its own min-max).
  int constant(const std::string& name, const torch::Tensor& value, QuantParam p);
  int constant(const std::string& name, const torch::Tensor& value);

  // Output parameters: table[name]. w: (out, in) float, quantized per output channel here.
  int fully_connected(int x, const torch::Tensor& w, const torch::Tensor& b,
                      const std::string& name, bool keep_num_dims,
                      Activation act = Activation::kNone);
  int conv2d(int x, const torch::Tensor& w, const torch::Tensor& b, int stride, Pad2d pad,
             const std::string& name, Activation act = Activation::kNone);
  int max_pool(int x, int k, int stride, int pad, const std::string& name);  // x >= 0 (ReLU)
  int pad(int x, const std::vector<std::pair<int, int>>& paddings, const std::string& name);
  // (x - m) / s per channel (last axis) as MUL(scale = 1/s) "normalize.scaled" + ADD(shift =
  // -m/s) "normalize": for a first conv that zero-pads the normalized image, so cannot fold it.
  int normalize(int x, const torch::Tensor& scale, const torch::Tensor& shift);

  int add(int a, int b, const std::string& name, Activation act = Activation::kNone);
  int sub(int a, int b, const std::string& name);
  int mul(int a, int b, const std::string& name);
  int mean(int x, const std::vector<int>& axes, bool keep_dims, const std::string& name);
  int gelu(int x, const std::string& name);   // exact (erf) GELU builtin
  int softmax(int x, const std::string& name);  // output fixed at 1/256, -128
  // x / ||x||_2 over the last axis; output fixed at 1/128, 0 (TFLite refuses anything else)
  int l2_normalization(int x, const std::string& name);

  // Parameter pass-through ops.
  int reshape(int x, std::vector<int32_t> shape, const std::string& name);
  int transpose(int x, const std::vector<int32_t>& perm, const std::string& name);
  int batch_matmul(int a, int b, const std::string& name);  // output: table[name]
  int concat(const std::vector<int>& inputs, int axis, const std::string& name);
  int strided_slice(int x, const std::vector<int32_t>& begin, const std::vector<int32_t>& end,
                    const std::string& name);

 private:
  int act(const std::string& name, std::vector<int32_t> shape, QuantParam p,
          tfl::TensorType type = tfl::TensorType::INT8);
  int binary(tfl::BuiltinOperator op, int a, int b, const std::string& name,
             tfl::BuiltinOptionsUnion options);
  int int8_weight(const std::string& name, const torch::Tensor& w, torch::Tensor* scales);
  int int32_bias(const std::string& name, const torch::Tensor& b, float input_scale,
                 const torch::Tensor& weight_scales);

  GraphBuilder& g_;
  const QuantTable& table_;
  std::map<int, QuantParam> params_;
  std::map<std::string, int> by_name_;
};

}  // namespace tinyvit::exporter
