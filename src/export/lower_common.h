#pragma once
// Shared lowering helpers: LibTorch weights -> TFLite constants, and one emitter method per
// TFLite op we use, each doing the op's shape inference. The model lowerings (lower_vit.cpp,
// lower_resnet.cpp) are written only in terms of these methods.
//
// Conventions: activations are float32; image tensors are NHWC (TFLite), token tensors are
// (1, T, D); every op's output tensor is named by the caller ("blocks.3.attn.softmax") and its
// constants get the output name plus a suffix (".weight", ".bias", ".shape", ".perm", ...).
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "export/tflite_builder.h"

namespace tinyvit::exporter {

// Parameters and buffers of a module by their dotted names (detached, float32, CPU, contiguous).
using ParamMap = std::map<std::string, torch::Tensor>;
ParamMap collect_params(const torch::nn::Module& module);
// The named tensor; throws tinyvit::Error naming it (and the expected shape) if it is missing
// or has another shape. An empty `shape` accepts any shape.
torch::Tensor param(const ParamMap& params, const std::string& name,
                    const std::vector<int64_t>& shape = {});

// Inference BatchNorm `bn` (eps 1e-5, torch's default, not in the state dict) as a per-channel
// affine map y = x * k + b:  k = gamma / sqrt(running_var + eps),  b = beta - running_mean * k.
std::pair<torch::Tensor, torch::Tensor> batch_norm_affine(const ParamMap& params,
                                                          const std::string& bn, int64_t channels);

enum class Activation { kNone, kRelu };

// Explicit 2-D padding as PyTorch specifies it (same on both sides).
struct Pad2d {
  int h = 0;
  int w = 0;
};

class Emitter {
 public:
  explicit Emitter(GraphBuilder& graph) : g_(graph) {}
  GraphBuilder& graph() { return g_; }
  const std::vector<int32_t>& shape(int t) const { return g_.shape(t); }

  int input(const std::string& name, std::vector<int32_t> shape);
  // A float32 (or int32) constant with the tensor's shape.
  int constant(const std::string& name, const torch::Tensor& value);
  int scalar(const std::string& name, float value);  // shape (1,): broadcasts everywhere

  // x: (..., in), w: (out, in) [PyTorch Linear layout = TFLite's], b: (out) or undefined.
  // keep_num_dims: (..., in) -> (..., out); otherwise the leading dims flatten: (N, out).
  int fully_connected(int x, const torch::Tensor& w, const torch::Tensor& b,
                      const std::string& name, bool keep_num_dims,
                      Activation act = Activation::kNone);
  // x: (1, H, W, Ci) NHWC; w: (Co, Ci, kh, kw) PyTorch OIHW (written as OHWI); b: (Co).
  // PyTorch padding: TFLite SAME when it pads identically, otherwise PAD + VALID.
  int conv2d(int x, const torch::Tensor& w, const torch::Tensor& b, int stride, Pad2d pad,
             const std::string& name, Activation act = Activation::kNone);
  // Max pool k x k / s with PyTorch padding p. Zero padding (PAD + VALID) is exact only when
  // x >= 0 (true after ReLU, where ResNet uses it); the caller guarantees that.
  int max_pool_nonneg(int x, int k, int stride, int pad, const std::string& name);
  int pad(int x, const std::vector<std::pair<int, int>>& paddings, const std::string& name);

  int add(int a, int b, const std::string& name, Activation act = Activation::kNone);
  int sub(int a, int b, const std::string& name);
  int mul(int a, int b, const std::string& name);
  int squared_difference(int a, int b, const std::string& name);
  int rsqrt(int x, const std::string& name);
  int tanh(int x, const std::string& name);
  int l2_normalization(int x, const std::string& name);  // x / max(||x||_2, 1e-6), last axis
  int mean(int x, const std::vector<int>& axes, bool keep_dims, const std::string& name);
  int softmax(int x, const std::string& name);  // over the last axis, beta = 1
  // Exact (erf) GELU as the builtin, or (tflm) the tanh approximation from MUL/ADD/TANH:
  //   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  int gelu(int x, const std::string& name, bool tanh_approximation);
  // LayerNorm over the last axis, as TFLite ops:
  //   mu = MEAN(x); var = MEAN(SQUARED_DIFFERENCE(x, mu)); r = RSQRT(var + eps)
  //   y = (x - mu) * r * gamma + beta
  int layer_norm(int x, const torch::Tensor& gamma, const torch::Tensor& beta, double eps,
                 const std::string& name);

  int reshape(int x, std::vector<int32_t> shape, const std::string& name);
  int transpose(int x, const std::vector<int32_t>& perm, const std::string& name);
  // a: (..., M, K), b: (..., K, N) -> (..., M, N), same batch dims.
  int batch_matmul(int a, int b, const std::string& name);
  int concat(const std::vector<int>& inputs, int axis, const std::string& name);
  // x[begin:end] with stride 1 on every axis (no masks).
  int strided_slice(int x, const std::vector<int32_t>& begin, const std::vector<int32_t>& end,
                    const std::string& name);
  int gather(int x, const std::vector<int32_t>& indices, int axis, const std::string& name);

 private:
  int binary(tfl::BuiltinOperator op, int a, int b, const std::string& name,
             tfl::BuiltinOptionsUnion options);
  int unary(tfl::BuiltinOperator op, int x, const std::string& name);
  int activation(const std::string& name, std::vector<int32_t> shape);

  GraphBuilder& g_;
};

// Broadcast shape of two TFLite shapes (numpy rules); throws tinyvit::Error if incompatible.
std::vector<int32_t> broadcast_shape(const std::vector<int32_t>& a, const std::vector<int32_t>& b);

}  // namespace tinyvit::exporter
