#include "models/registry.h"

#include <functional>
#include <map>
#include <vector>

#include "common/error.h"
#include "models/cnn.h"
#include "models/model.h"
#include "models/resnet.h"
#include "models/vit.h"

namespace tinyvit::models {
namespace {

ModelConfig vit(const std::string& name, int img, int patch, int dim, int depth, int heads,
                float mlp_ratio) {
  ModelConfig c;
  c.name = name;
  c.family = "vit";
  c.vit.img_size = img;
  c.vit.patch_size = patch;
  c.vit.embed_dim = dim;
  c.vit.depth = depth;
  c.vit.num_heads = heads;
  c.vit.mlp_ratio = mlp_ratio;
  return c;
}

ModelConfig resnet18(const std::string& name, const std::string& stem, int img) {
  ModelConfig c;
  c.name = name;
  c.family = "resnet";
  c.resnet.stem = stem;
  c.resnet.img_size = img;
  return c;
}

ModelConfig fast_cnn(const std::string& name, std::vector<int> widths = {64, 256, 256}) {
  ModelConfig c;
  c.name = name;
  c.family = "cnn";
  c.cnn.widths = std::move(widths);
  return c;
}

const std::map<std::string, std::function<ModelConfig()>>& registry() {
  static const std::map<std::string, std::function<ModelConfig()>> r = {
      // Teacher for time-to-accuracy: widths 64/256/256, 1.97M params, 118M MACs per image
      // (0.21x resnet18_cifar's), ~5x its training images/s here (docs/benchmarks.md).
      {"cnn_fast_cifar", [] { return fast_cnn("cnn_fast_cifar"); }},
      // airbench95's widths 128/384/384 (95.0 % in 15 epochs in its paper, vs 94.0 % in 9.9
      // for the 64/256/256 above): the next step up in accuracy, ~2.5x the MACs.
      {"cnn_fast_cifar_wide", [] { return fast_cnn("cnn_fast_cifar_wide", {128, 384, 384}); }},
      // The seed project's teacher: torchvision resnet18, ImageNet stem, 224 px.
      {"resnet18", [] { return resnet18("resnet18", "imagenet", 224); }},
      // CIFAR stem (3x3/1, no max-pool) at 32 px: the teacher we train from scratch.
      {"resnet18_cifar", [] { return resnet18("resnet18_cifar", "cifar", 32); }},
      // The seed project's student: timm vit_tiny_patch16_224 (5.7M params at 224 px).
      {"vit_tiny_patch16_224", [] { return vit("vit_tiny_patch16_224", 224, 16, 192, 12, 3, 4.f); }},
      // ViT-Tiny widths on CIFAR's native 32 px with 4 px patches: 64 patches + cls = 65 tokens.
      {"vit_tiny_patch4_32", [] { return vit("vit_tiny_patch4_32", 32, 4, 192, 12, 3, 4.f); }},
      // Microcontroller student: dim 128, depth 6, 4 heads, MLP 256 (ratio 2).
      // 0.81M params -> ~0.8 MB of int8 weights (< 1 MB flash); largest int8 activation
      // (attention scores, 4x65x65) is 17 KB. Trains at ~3.5x ViT-Tiny's speed here.
      {"vit_micro_patch4_32", [] { return vit("vit_micro_patch4_32", 32, 4, 128, 6, 4, 2.f); }},
      // vit_micro's transformer on a convolutional tokenizer (CCT): 3x3 convs of 32 and 64
      // channels, each + ReLU + 2x2 max pool (32 -> 16 -> 8 px), then a 1x1 projection to 128:
      // the same 64 + 1 tokens. +21K params, +5.7M MACs (+10 %); its largest int8 activation is
      // the first conv's 32x32x32 (32 KB).
      {"vit_micro_convtok_32",
       [] {
         auto c = vit("vit_micro_convtok_32", 32, 1, 128, 6, 4, 2.f);
         c.vit.stem_channels = {32, 64};
         return c;
       }},
  };
  return r;
}

}  // namespace

ModelConfig model_config(const std::string& name, int num_classes) {
  const auto& r = registry();
  auto it = r.find(name);
  if (it == r.end()) {
    std::string known;
    for (const auto& [k, v] : r) known += (known.empty() ? "" : ", ") + k;
    throw Error("unknown model '" + name + "' (registered: " + known + ")");
  }
  ModelConfig c = it->second();
  c.set_num_classes(num_classes);
  validate(c);
  return c;
}

std::vector<std::string> registered_model_names() {
  std::vector<std::string> names;
  for (const auto& [k, v] : registry()) names.push_back(k);
  return names;
}

ClassifierPtr build_model(const ModelConfig& config) {
  validate(config);
  if (config.family == "vit") return std::make_shared<VisionTransformer>(config);
  if (config.family == "cnn") return std::make_shared<FastCnn>(config);
  return std::make_shared<ResNet>(config);
}

}  // namespace tinyvit::models
