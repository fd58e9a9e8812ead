// FastCnn (models/cnn.h) -> TFLite ops, eval semantics. Shapes are NHWC.
//   whiten: CONV_2D 2x2 VALID + bias -> GELU
//   block:  CONV_2D 3x3 -> MAX_POOL_2D 2x2 -> BatchNorm -> GELU -> CONV_2D 3x3 (+BN) -> GELU
//   MAX_POOL_2D over the whole map -> FULLY_CONNECTED (weights * logit_scale)
// norm2 folds into conv2. norm1 follows the pool: y = k * max(x) + b equals max(k * x + b) per
// channel when k > 0, so it folds into conv1 when every k > 0 (and is emitted as MUL + ADD after
// the pool otherwise).
#include "common/error.h"
#include "export/lower.h"

namespace tinyvit::exporter {

void lower_cnn(Emitter& e, const models::CnnConfig& c, const ParamMap& P, const LowerOptions& o) {
  const int S = c.img_size, C = c.in_chans;
  const int image = e.input("image", {1, S, S, C});
  // The stem has no padding, so normalization could fold into it; kept explicit like the
  // other families so the file states its input convention in ops.
  int x = normalize_input(e, image, o);
  x = e.conv2d(x, param(P, "whiten.weight", {c.whiten_width, C, 2, 2}),
               param(P, "whiten.bias", {c.whiten_width}), 1, {0, 0}, "whiten");
  x = e.gelu(x, "whiten.gelu", o.gelu_tanh);
  for (std::size_t i = 0; i < c.widths.size(); ++i) {
    const std::string b = "blocks." + std::to_string(i);
    const int64_t co = c.widths[i];
    const torch::Tensor w1 = param(P, b + ".conv1.weight");
    auto [k1, b1] = batch_norm_affine(P, b + ".norm1", co);
    const bool fold = k1.min().item<float>() > 0.f;
    x = fold ? e.conv2d(x, w1 * k1.view({co, 1, 1, 1}), b1, 1, {1, 1}, b + ".conv1")
             : e.conv2d(x, w1, torch::zeros({co}), 1, {1, 1}, b + ".conv1");
    x = e.max_pool_nonneg(x, 2, 2, 0, b + ".pool");  // no padding: exact for any sign
    if (!fold) {
      x = e.mul(x, e.constant(b + ".norm1.scale", k1), b + ".norm1.scaled");
      x = e.add(x, e.constant(b + ".norm1.shift", b1), b + ".norm1");
    }
    x = e.gelu(x, b + ".gelu1", o.gelu_tanh);
    auto [k2, b2] = batch_norm_affine(P, b + ".norm2", co);
    x = e.conv2d(x, param(P, b + ".conv2.weight") * k2.view({co, 1, 1, 1}), b2, 1, {1, 1},
                 b + ".conv2");
    x = e.gelu(x, b + ".gelu2", o.gelu_tanh);
  }
  const auto& s = e.shape(x);  // (1, h, w, C)
  if (s[1] != s[2]) throw Error("export: the cnn's last feature map must be square");
  x = e.max_pool_nonneg(x, s[1], s[1], 0, "pool");  // (1, 1, 1, C); FC flattens it to (1, C)
  const int logits = e.fully_connected(
      x, param(P, "head.weight", {c.num_classes, s[3]}) * c.logit_scale, torch::Tensor(),
      "logits", false);
  finish_graph(e, image, logits);
}

}  // namespace tinyvit::exporter
