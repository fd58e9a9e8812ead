#pragma once
// Model configurations: small named structs, serialised as JSON inside every checkpoint, so a
// checkpoint alone rebuilds its model (including pruned ones with per-block widths).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace tinyvit::models {

// Vision Transformer, parameter names identical to timm's VisionTransformer:
//   [patch_embed.stem.j.{weight,bias}  Conv2d(c_{j-1}, c_j, 3x3, pad 1) + ReLU + MaxPool 2x2/2,
//    j = 0..n-1, c_{-1} = in_chans: the convolutional tokenizer, when stem_channels is given]
//   patch_embed.proj.{weight,bias}  Conv2d(c_{n-1} or in_chans, D, k=patch, s=patch)
//   cls_token (1,1,D)   [dist_token (1,1,D) when distill_token]   pos_embed (1, T, D)
//   blocks.i.norm1, blocks.i.attn.qkv (Linear D -> 3*H_i*hd), blocks.i.attn.proj (H_i*hd -> D),
//   blocks.i.norm2, blocks.i.mlp.fc1 (D -> M_i), blocks.i.mlp.fc2 (M_i -> D)
//   norm, head (D -> classes)   [head_dist when distill_token]
// T = (img / (2^n patch))^2 + 1 (+1 with a distillation token). Pre-norm blocks, exact (erf)
// GELU. The tokenizer follows CCT (Hassani et al., "Escaping the Big Data Paradigm with Compact
// Transformers", 2021): conv + ReLU + pool layers give the tokens locality and translation
// equivariance that 4x4 patches lack, which is what small ViTs on small datasets miss most.
struct VitConfig {
  int img_size = 32;
  int patch_size = 4;
  int in_chans = 3;
  std::vector<int> stem_channels;  // convolutional tokenizer widths; empty = plain patches
  int num_classes = 10;
  int embed_dim = 192;
  int depth = 12;
  int num_heads = 3;        // default heads per block
  int head_dim = 0;         // 0 = embed_dim / num_heads; kept fixed when heads are pruned
  float mlp_ratio = 4.f;    // default MLP width = mlp_ratio * embed_dim
  std::vector<int> block_heads;  // per-block heads; empty = num_heads everywhere
  std::vector<int> block_mlp;    // per-block MLP hidden width; empty = mlp_ratio * embed_dim
  bool distill_token = false;    // DeiT distillation token + head_dist
  float drop_path = 0.f;         // stochastic depth, linearly increasing over blocks
  float dropout = 0.f;           // dropout after MLP / projection (training only)
  double ln_eps = 1e-6;          // timm's LayerNorm eps

  int stem_stride() const { return 1 << stem_channels.size(); }  // 2x2 pool per stem conv
  int proj_in_chans() const { return stem_channels.empty() ? in_chans : stem_channels.back(); }
  int grid() const { return img_size / (stem_stride() * patch_size); }
  int num_patches() const { return grid() * grid(); }
  int num_prefix_tokens() const { return distill_token ? 2 : 1; }
  int num_tokens() const { return num_patches() + num_prefix_tokens(); }
  int head_dim_resolved() const { return head_dim > 0 ? head_dim : embed_dim / num_heads; }
  int heads_of(int block) const;
  int mlp_of(int block) const;
};

// ResNet-18 (BasicBlock), parameter names identical to torchvision's resnet18:
//   conv1, bn1, layer{1..4}.{j}.{conv1,bn1,conv2,bn2,downsample.0,downsample.1}, fc
// stem "imagenet": conv1 7x7/2 pad 3 + maxpool 3x3/2; stem "cifar": conv1 3x3/1 pad 1, no pool.
struct ResNetConfig {
  std::string stem = "cifar";
  std::vector<int> layers{2, 2, 2, 2};
  int width = 64;           // channels of layer1 (doubles per stage)
  int in_chans = 3;
  int num_classes = 10;
  int img_size = 32;        // the input size the model is trained/exported at
};

// Fast-converging CNN teacher (the layout of Keller Jordan's airbench94, 2024): a frozen
// patch-whitening stem, three conv blocks, global max pool, linear head with a fixed scale.
//   whiten.{weight (buffer, 2C x 3 x 2 x 2), bias}     Conv2d 2x2, valid: 32 -> 31 px, GELU
//   blocks.i.conv1 (3x3, pad 1) -> MaxPool 2 -> blocks.i.norm1 -> GELU
//   blocks.i.conv2 (3x3, pad 1) -> blocks.i.norm2 -> GELU             31 -> 15 -> 7 -> 3 px
//   global max pool -> head (Linear, no bias) -> * logit_scale
// The whitening filters are computed from training images (data-dependent init), not trained.
struct CnnConfig {
  std::vector<int> widths{64, 256, 256};  // output channels of the blocks
  int whiten_width = 24;    // 2 x (in_chans * 2 * 2): every whitening filter and its negation
  int in_chans = 3;
  int num_classes = 10;
  int img_size = 32;
  float logit_scale = 1.f / 9;  // logits = head(x) * scale (calmer head under large SGD steps)
};

struct ModelConfig {
  std::string name;         // registry name it came from ("vit_tiny_patch4_32", ...)
  std::string family;       // "vit" | "resnet" | "cnn"
  VitConfig vit;            // valid when family == "vit"
  ResNetConfig resnet;      // valid when family == "resnet"
  CnnConfig cnn;            // valid when family == "cnn"

  int img_size() const {
    return family == "vit" ? vit.img_size : family == "cnn" ? cnn.img_size : resnet.img_size;
  }
  int num_classes() const {
    return family == "vit" ? vit.num_classes
                           : family == "cnn" ? cnn.num_classes : resnet.num_classes;
  }
  int in_chans() const {
    return family == "vit" ? vit.in_chans : family == "cnn" ? cnn.in_chans : resnet.in_chans;
  }
  void set_num_classes(int n) {
    (family == "vit" ? vit.num_classes : family == "cnn" ? cnn.num_classes : resnet.num_classes) = n;
  }
  void set_img_size(int s) {
    (family == "vit" ? vit.img_size : family == "cnn" ? cnn.img_size : resnet.img_size) = s;
  }
};

void to_json(nlohmann::json& j, const ModelConfig& c);
void from_json(const nlohmann::json& j, ModelConfig& c);  // throws tinyvit::Error on bad fields

// Throws tinyvit::Error with a readable reason if the config cannot be built
// (e.g. img_size not divisible by patch_size, non-positive widths).
void validate(const ModelConfig& c);

}  // namespace tinyvit::models
