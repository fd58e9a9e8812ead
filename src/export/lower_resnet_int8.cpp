// ResNet-18 -> full-integer int8 TFLite ops (eval semantics: BatchNorm folded, ReLU fused).
// The dataset normalization runs in-graph as an int8 per-channel MUL + ADD (it cannot fold into
// conv1: conv1 zero-pads the *normalized* image). Shapes are NHWC.
#include "common/error.h"
#include "export/lower_int8.h"
#include "export/tflite_export_int8.h"

namespace tinyvit::exporter {
namespace {

void fold_conv_bn(const ParamMap& P, ParamMap& F, const std::string& conv, const std::string& bn) {
  const torch::Tensor w = param(P, conv + ".weight");
  const int64_t co = w.size(0);
  auto [k, b] = batch_norm_affine(P, bn, co);
  if (P.count(conv + ".bias")) b = b + param(P, conv + ".bias", {co}) * k;
  F[conv + ".weight"] = (w * k.view({co, 1, 1, 1})).contiguous();
  F[conv + ".bias"] = b.contiguous();
}

}  // namespace

ParamMap fold_resnet_int8(const models::ResNetConfig& c, const ParamMap& P) {
  torch::NoGradGuard no_grad;
  ParamMap F;
  fold_conv_bn(P, F, "conv1", "bn1");
  for (std::size_t l = 0; l < c.layers.size(); ++l) {
    for (int j = 0; j < c.layers[l]; ++j) {
      const std::string blk = "layer" + std::to_string(l + 1) + "." + std::to_string(j);
      fold_conv_bn(P, F, blk + ".conv1", blk + ".bn1");
      fold_conv_bn(P, F, blk + ".conv2", blk + ".bn2");
      if (P.count(blk + ".downsample.0.weight"))
        fold_conv_bn(P, F, blk + ".downsample.0", blk + ".downsample.1");
    }
  }
  F["logits.weight"] = param(P, "fc.weight");
  F["logits.bias"] = param(P, "fc.bias");
  return F;
}

std::pair<int, int> lower_resnet_int8(QEmitter& e, const models::ResNetConfig& c,
                                      const ParamMap& F, tfl::TensorType io_type,
                                      const std::vector<float>& mean,
                                      const std::vector<float>& std) {
  const int S = c.img_size, C = c.in_chans;
  auto f = [&](const std::string& n) { return param(F, n); };
  const int image = e.input("image", {1, S, S, C}, io_type, pixel_param());
  int x = io_type == tfl::TensorType::INT8
              ? image
              : e.quantize(image, "image.int8", tfl::TensorType::INT8, pixel_param());
  if (!mean.empty()) {  // (x - m) / s = x * (1/s) + (-m/s), per channel (last axis)
    auto m = torch::tensor(mean), s = torch::tensor(std);
    x = e.normalize(x, 1.0f / s, -m / s);
  }
  auto conv = [&](int in, const std::string& name, int stride, int pad, Activation act) {
    return e.conv2d(in, f(name + ".weight"), f(name + ".bias"), stride, {pad, pad}, name, act);
  };
  if (c.stem == "imagenet") {
    x = conv(x, "conv1", 2, 3, Activation::kRelu);
    x = e.max_pool(x, 3, 2, 1, "maxpool");
  } else if (c.stem == "cifar") {
    x = conv(x, "conv1", 1, 1, Activation::kRelu);
  } else {
    throw Error("export int8: unknown ResNet stem '" + c.stem + "'");
  }
  for (std::size_t l = 0; l < c.layers.size(); ++l) {
    for (int j = 0; j < c.layers[l]; ++j) {
      const std::string blk = "layer" + std::to_string(l + 1) + "." + std::to_string(j);
      const int stride = (l > 0 && j == 0) ? 2 : 1;
      int out = conv(x, blk + ".conv1", stride, 1, Activation::kRelu);
      out = conv(out, blk + ".conv2", 1, 1, Activation::kNone);
      int shortcut = x;
      if (F.count(blk + ".downsample.0.weight"))
        shortcut = conv(x, blk + ".downsample.0", stride, 0, Activation::kNone);
      x = e.add(out, shortcut, blk, Activation::kRelu);
    }
  }
  x = e.mean(x, {1, 2}, false, "avgpool");  // (1, C)
  const int logits = e.fully_connected(x, f("logits.weight"), f("logits.bias"), "logits", false);
  return {image, logits};
}

}  // namespace tinyvit::exporter
