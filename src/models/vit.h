#pragma once
// Vision Transformer (timm VisionTransformer layout and parameter names, pre-norm, exact GELU).
#include <torch/torch.h>

#include "models/model.h"

namespace tinyvit::models {

// Multi-head self-attention with H heads of width hd (H*hd may differ from D after pruning).
//   x: (B, T, D) -> qkv: (B, T, 3*H*hd) -> q, k, v: (B, H, T, hd)
//   a = softmax(q k^T / sqrt(hd)) : (B, H, T, T);  out = proj((a v) as (B, T, H*hd)) : (B, T, D)
class VitAttentionImpl : public torch::nn::Module {
 public:
  VitAttentionImpl(int dim, int heads, int head_dim, float proj_drop);
  torch::Tensor forward(const torch::Tensor& x);
  int heads, head_dim;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::Dropout proj_drop{nullptr};
};
TORCH_MODULE(VitAttention);

// fc1 (D -> M), GELU (erf form), fc2 (M -> D).
class VitMlpImpl : public torch::nn::Module {
 public:
  VitMlpImpl(int dim, int hidden, float drop);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(VitMlp);

// x = x + drop_path(attn(norm1(x)));  x = x + drop_path(mlp(norm2(x)))
class VitBlockImpl : public torch::nn::Module {
 public:
  VitBlockImpl(int dim, int heads, int head_dim, int mlp_hidden, double eps, float drop,
               float drop_path);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  VitAttention attn{nullptr};
  VitMlp mlp{nullptr};
  float drop_path_rate;
};
TORCH_MODULE(VitBlock);

// Optional convolutional tokenizer (CCT): per stem width c_j,
//   x = max_pool_2x2(relu(conv3x3_pad1(x)))  : (B, c_j, S_j / 2, S_j / 2)
// then non-overlapping patches: Conv2d(c, D, k=p, s=p), named "proj" as in timm's PatchEmbed.
class VitPatchEmbedImpl : public torch::nn::Module {
 public:
  VitPatchEmbedImpl(int in_chans, int dim, int patch, const std::vector<int>& stem_channels = {});
  // x: (B, C, S, S) -> (B, (S / (2^n p))^2, D), patches in row-major order
  torch::Tensor forward(torch::Tensor x);
  torch::nn::ModuleList stem{nullptr};  // Conv2d layers; null without a tokenizer
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(VitPatchEmbed);

class VisionTransformer : public Classifier {
 public:
  explicit VisionTransformer(ModelConfig config);
  torch::Tensor forward(torch::Tensor x) override;
  std::pair<torch::Tensor, torch::Tensor> forward_train(torch::Tensor x) override;
  const ModelConfig& config() const override { return config_; }

  // x: (B, 3, S, S) -> tokens after the final norm: (B, T, D)
  torch::Tensor forward_features(torch::Tensor x);

  VitPatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token, dist_token, pos_embed;
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr}, head_dist{nullptr};

 private:
  ModelConfig config_;
};

}  // namespace tinyvit::models
