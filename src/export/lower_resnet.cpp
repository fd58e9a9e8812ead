// ResNet-18 (torchvision BasicBlock) -> TFLite ops, eval semantics: every BatchNorm folds into
// the convolution before it, ReLU fuses into the op before it. Shapes are NHWC.
#include "common/error.h"
#include "export/lower.h"

namespace tinyvit::exporter {
namespace {

// conv (no bias) + BatchNorm folded:  w' = w * g / sqrt(var + eps),  b' = beta - mean * g / sqrt(..)
int conv_bn(Emitter& e, const ParamMap& P, int x, const std::string& conv, const std::string& bn,
            int stride, int pad, Activation act) {
  const torch::Tensor w = param(P, conv + ".weight");
  const int64_t co = w.size(0);
  auto [k, b] = batch_norm_affine(P, bn, co);
  if (P.count(conv + ".bias")) b = b + param(P, conv + ".bias", {co}) * k;
  return e.conv2d(x, w * k.view({co, 1, 1, 1}), b, stride, {pad, pad}, conv, act);
}

}  // namespace

void lower_resnet(Emitter& e, const models::ResNetConfig& c, const ParamMap& P,
                  const LowerOptions& o) {
  const int S = c.img_size, C = c.in_chans;
  const int image = e.input("image", {1, S, S, C});
  // Normalization before the first (padded) conv: folding it into that conv would be wrong
  // at the border, where the conv pads the *normalized* input with zeros.
  int x = normalize_input(e, image, o);
  if (c.stem == "imagenet") {
    x = conv_bn(e, P, x, "conv1", "bn1", 2, 3, Activation::kRelu);
    x = e.max_pool_nonneg(x, 3, 2, 1, "maxpool");  // input >= 0 (after ReLU)
  } else if (c.stem == "cifar") {
    x = conv_bn(e, P, x, "conv1", "bn1", 1, 1, Activation::kRelu);
  } else {
    throw Error("export: unknown ResNet stem '" + c.stem + "' (expected cifar or imagenet)");
  }
  for (std::size_t l = 0; l < c.layers.size(); ++l) {
    for (int j = 0; j < c.layers[l]; ++j) {
      const std::string blk = "layer" + std::to_string(l + 1) + "." + std::to_string(j);
      const int stride = (l > 0 && j == 0) ? 2 : 1;
      // out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
      int out = conv_bn(e, P, x, blk + ".conv1", blk + ".bn1", stride, 1, Activation::kRelu);
      out = conv_bn(e, P, out, blk + ".conv2", blk + ".bn2", 1, 1, Activation::kNone);
      int shortcut = x;
      if (P.count(blk + ".downsample.0.weight"))
        shortcut = conv_bn(e, P, x, blk + ".downsample.0", blk + ".downsample.1", stride, 0,
                           Activation::kNone);
      x = e.add(out, shortcut, blk, Activation::kRelu);
    }
  }
  x = e.mean(x, {1, 2}, false, "avgpool");  // global average pool: (1, C)
  const int logits = e.fully_connected(x, param(P, "fc.weight"), param(P, "fc.bias"), "logits",
                                       false);
  finish_graph(e, image, logits);
}

}  // namespace tinyvit::exporter
