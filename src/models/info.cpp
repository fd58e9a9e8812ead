#include "models/info.h"

#include <fmt/format.h>

namespace tinyvit::models {
namespace {

void add(ModelInfo& m, std::string name, std::string kind, std::vector<int64_t> shape,
         int64_t params, int64_t macs) {
  m.layers.push_back({std::move(name), std::move(kind), std::move(shape), params, macs});
  m.params += params;
  m.macs += macs;
}

void vit_info(const VitConfig& c, ModelInfo& m) {
  const int64_t D = c.embed_dim, N = c.num_patches(), T = c.num_tokens(), p = c.patch_size;
  const int64_t hd = c.head_dim_resolved(), K = c.num_classes;
  int64_t cin = c.in_chans, hw = c.img_size;
  for (std::size_t j = 0; j < c.stem_channels.size(); ++j) {
    const int64_t w = c.stem_channels[j];
    const std::string n = "patch_embed.stem." + std::to_string(j);
    add(m, n, "Conv2d+ReLU", {1, w, hw, hw}, w * cin * 9 + w, hw * hw * w * cin * 9);
    hw /= 2;
    add(m, n + ".pool", "MaxPool2d", {1, w, hw, hw}, 0, 0);
    cin = w;
  }
  add(m, "patch_embed.proj", "Conv2d", {1, D, c.grid(), c.grid()}, D * cin * p * p + D,
      N * D * cin * p * p);
  add(m, "cls_token+pos_embed", "Embedding", {1, T, D}, D * c.num_prefix_tokens() + T * D, 0);
  for (int i = 0; i < c.depth; ++i) {
    const int64_t H = c.heads_of(i), M = c.mlp_of(i);
    const std::string b = "blocks." + std::to_string(i) + ".";
    add(m, b + "norm1", "LayerNorm", {1, T, D}, 2 * D, 0);
    add(m, b + "attn.qkv", "Linear", {1, T, 3 * H * hd}, D * 3 * H * hd + 3 * H * hd,
        T * D * 3 * H * hd);
    add(m, b + "attn.qk", "MatMul", {1, H, T, T}, 0, H * T * T * hd);
    add(m, b + "attn.av", "MatMul", {1, H, T, hd}, 0, H * T * T * hd);
    add(m, b + "attn.proj", "Linear", {1, T, D}, H * hd * D + D, T * H * hd * D);
    add(m, b + "norm2", "LayerNorm", {1, T, D}, 2 * D, 0);
    add(m, b + "mlp.fc1", "Linear", {1, T, M}, D * M + M, T * D * M);
    add(m, b + "mlp.fc2", "Linear", {1, T, D}, M * D + D, T * M * D);
  }
  add(m, "norm", "LayerNorm", {1, T, D}, 2 * D, 0);
  add(m, "head", "Linear", {1, K}, D * K + K, D * K);
  if (c.distill_token) add(m, "head_dist", "Linear", {1, K}, D * K + K, D * K);
}

int64_t conv_out(int64_t in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

void resnet_info(const ResNetConfig& c, ModelInfo& m) {
  int64_t hw = c.img_size;
  const bool imagenet = c.stem == "imagenet";
  const int k = imagenet ? 7 : 3, s = imagenet ? 2 : 1, p = imagenet ? 3 : 1;
  hw = conv_out(hw, k, s, p);
  add(m, "conv1", "Conv2d", {1, c.width, hw, hw}, int64_t(c.width) * c.in_chans * k * k,
      hw * hw * c.width * c.in_chans * k * k);
  add(m, "bn1", "BatchNorm2d", {1, c.width, hw, hw}, 2 * c.width, 0);
  if (imagenet) {
    hw = conv_out(hw, 3, 2, 1);
    add(m, "maxpool", "MaxPool2d", {1, c.width, hw, hw}, 0, 0);
  }
  int64_t in = c.width;
  for (int st = 0; st < 4; ++st) {
    const int64_t planes = int64_t(c.width) << st;
    for (int b = 0; b < c.layers[st]; ++b) {
      const int stride = (b == 0 && st > 0) ? 2 : 1;
      const std::string n = "layer" + std::to_string(st + 1) + "." + std::to_string(b) + ".";
      const int64_t out_hw = conv_out(hw, 3, stride, 1);
      add(m, n + "conv1", "Conv2d", {1, planes, out_hw, out_hw}, planes * in * 9,
          out_hw * out_hw * planes * in * 9);
      add(m, n + "bn1", "BatchNorm2d", {1, planes, out_hw, out_hw}, 2 * planes, 0);
      add(m, n + "conv2", "Conv2d", {1, planes, out_hw, out_hw}, planes * planes * 9,
          out_hw * out_hw * planes * planes * 9);
      add(m, n + "bn2", "BatchNorm2d", {1, planes, out_hw, out_hw}, 2 * planes, 0);
      if (stride != 1 || in != planes) {
        add(m, n + "downsample.0", "Conv2d", {1, planes, out_hw, out_hw}, planes * in,
            out_hw * out_hw * planes * in);
        add(m, n + "downsample.1", "BatchNorm2d", {1, planes, out_hw, out_hw}, 2 * planes, 0);
      }
      in = planes;
      hw = out_hw;
    }
  }
  add(m, "fc", "Linear", {1, c.num_classes}, in * c.num_classes + c.num_classes,
      in * c.num_classes);
}

void cnn_info(const CnnConfig& c, ModelInfo& m) {
  int64_t hw = c.img_size - 1, in = c.whiten_width;
  // The whitening weight is a buffer (computed, not trained): only its bias counts as a parameter.
  add(m, "whiten", "Conv2d", {1, in, hw, hw}, in, hw * hw * in * c.in_chans * 4);
  for (std::size_t i = 0; i < c.widths.size(); ++i) {
    const int64_t w = c.widths[i];
    const std::string n = "blocks." + std::to_string(i) + ".";
    add(m, n + "conv1", "Conv2d", {1, w, hw, hw}, w * in * 9, hw * hw * w * in * 9);
    hw /= 2;
    add(m, n + "pool", "MaxPool2d", {1, w, hw, hw}, 0, 0);
    add(m, n + "norm1", "BatchNorm2d", {1, w, hw, hw}, 2 * w, 0);
    add(m, n + "conv2", "Conv2d", {1, w, hw, hw}, w * w * 9, hw * hw * w * w * 9);
    add(m, n + "norm2", "BatchNorm2d", {1, w, hw, hw}, 2 * w, 0);
    in = w;
  }
  add(m, "pool", "MaxPool2d", {1, in}, 0, 0);
  add(m, "head", "Linear", {1, c.num_classes}, in * c.num_classes, in * c.num_classes);
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + ")";
}

}  // namespace

ModelInfo model_info(const ModelConfig& config) {
  ModelInfo m;
  if (config.family == "vit") vit_info(config.vit, m);
  else if (config.family == "cnn") cnn_info(config.cnn, m);
  else resnet_info(config.resnet, m);
  return m;
}

std::string format_model_info(const ModelConfig& config, const ModelInfo& info, bool per_layer) {
  std::string out;
  if (per_layer) {
    out += fmt::format("{:<28} {:<12} {:<20} {:>12} {:>14}\n", "layer", "kind", "output",
                       "params", "MACs");
    for (const auto& l : info.layers)
      out += fmt::format("{:<28} {:<12} {:<20} {:>12} {:>14}\n", l.name, l.kind,
                         shape_str(l.output_shape), l.params, l.macs);
    out += "\n";
  }
  out += fmt::format("model       {} ({}), input 3x{}x{}, {} classes\n", config.name,
                     config.family, config.img_size(), config.img_size(), config.num_classes());
  out += fmt::format("parameters  {} ({:.2f} M; {:.2f} MB float32, {:.2f} MB int8)\n",
                     info.params, info.params / 1e6, info.params * 4 / 1048576.0,
                     info.params / 1048576.0);
  out += fmt::format("MACs        {} ({:.1f} M per image)\n", info.macs, info.macs / 1e6);
  return out;
}

}  // namespace tinyvit::models
