#include "models/vit.h"

#include <cmath>

namespace tinyvit::models {
namespace {

// timm's trunc_normal_(std=.02): normal, truncated at +-2 std (re-drawn there; clamping is
// a close enough stand-in for an init and keeps LibTorch 1.13 compatibility).
void trunc_normal_(torch::Tensor t, double std) {
  torch::NoGradGuard g;
  t.normal_(0.0, std).clamp_(-2.0 * std, 2.0 * std);
}

void init_linear(torch::nn::Linear& l) {
  trunc_normal_(l->weight, 0.02);
  if (l->bias.defined()) torch::nn::init::zeros_(l->bias);
}

// Stochastic depth: drop whole residual branches per sample, scale survivors by 1/(1-p).
torch::Tensor drop_path(const torch::Tensor& x, float p, bool training) {
  if (p <= 0.f || !training) return x;
  const double keep = 1.0 - p;
  auto mask = torch::empty({x.size(0), 1, 1}, x.options()).bernoulli_(keep);
  return x * mask / keep;
}

}  // namespace

VitAttentionImpl::VitAttentionImpl(int dim, int heads_, int head_dim_, float drop)
    : heads(heads_), head_dim(head_dim_) {
  qkv = register_module("qkv", torch::nn::Linear(dim, 3 * heads * head_dim));
  proj = register_module("proj", torch::nn::Linear(heads * head_dim, dim));
  proj_drop = register_module("proj_drop", torch::nn::Dropout(drop));
  init_linear(qkv);
  init_linear(proj);
}

torch::Tensor VitAttentionImpl::forward(const torch::Tensor& x) {
  const auto B = x.size(0), T = x.size(1);
  // (B, T, 3*H*hd) -> q, k, v: (B, T, H*hd) slices of the last dimension -> (B, H, T, hd) views.
  // The same values as timm's reshape (B, T, 3, H, hd) + permute + unbind, but the backward is
  // one concatenation along the last dimension instead of a stack of permuted gradients (or,
  // indexing t[0..2], three zero-filled (3, B, H, T, hd) tensors summed): vit_micro's training
  // step ~6 % faster than with t[0..2] (docs/benchmarks.md, "Session 11").
  const auto qkv_split = qkv(x).split(heads * head_dim, -1);
  auto per_head = [&](const torch::Tensor& t) {
    return t.reshape({B, T, heads, head_dim}).transpose(1, 2);
  };
  auto q = per_head(qkv_split[0]) * (1.0 / std::sqrt(static_cast<double>(head_dim)));
  auto k = per_head(qkv_split[1]), v = per_head(qkv_split[2]);
  auto a = torch::softmax(torch::matmul(q, k.transpose(-2, -1)), -1);  // (B, H, T, T)
  auto o = torch::matmul(a, v).transpose(1, 2).reshape({B, T, heads * head_dim});
  return proj_drop(proj(o));
}

VitMlpImpl::VitMlpImpl(int dim, int hidden, float p) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
  drop = register_module("drop", torch::nn::Dropout(p));
  init_linear(fc1);
  init_linear(fc2);
}

torch::Tensor VitMlpImpl::forward(const torch::Tensor& x) {
  return drop(fc2(drop(torch::gelu(fc1(x)))));
}

VitBlockImpl::VitBlockImpl(int dim, int heads, int head_dim, int mlp_hidden, double eps,
                           float drop, float dp)
    : drop_path_rate(dp) {
  norm1 = register_module(
      "norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps)));
  attn = register_module("attn", VitAttention(dim, heads, head_dim, drop));
  norm2 = register_module(
      "norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps)));
  mlp = register_module("mlp", VitMlp(dim, mlp_hidden, drop));
}

torch::Tensor VitBlockImpl::forward(torch::Tensor x) {
  x = x + drop_path(attn(norm1(x)), drop_path_rate, is_training());
  x = x + drop_path(mlp(norm2(x)), drop_path_rate, is_training());
  return x;
}

VitPatchEmbedImpl::VitPatchEmbedImpl(int in_chans, int dim, int patch,
                                     const std::vector<int>& stem_channels) {
  // Registered only with a tokenizer: a patch ViT's module tree (and so its checkpoints)
  // stays exactly timm's, and checkpoints written before the tokenizer existed still load.
  if (!stem_channels.empty()) stem = register_module("stem", torch::nn::ModuleList());
  int c = in_chans;
  for (int w : stem_channels) {
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(c, w, 3).padding(1));
    torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanIn, torch::kReLU);  // as CCT
    torch::nn::init::zeros_(conv->bias);
    stem->push_back(conv);
    c = w;
  }
  proj = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, dim, patch).stride(patch)));
}

torch::Tensor VitPatchEmbedImpl::forward(torch::Tensor x) {
  if (stem)
    for (const auto& conv : *stem)
      x = torch::max_pool2d(torch::relu(conv->as<torch::nn::Conv2d>()->forward(x)), 2, 2);
  return proj(x).flatten(2).transpose(1, 2);  // (B, D, g, g) -> (B, g*g, D)
}

VisionTransformer::VisionTransformer(ModelConfig config) : config_(std::move(config)) {
  validate(config_);
  const VitConfig& c = config_.vit;
  const int D = c.embed_dim;
  patch_embed = register_module(
      "patch_embed", VitPatchEmbed(c.in_chans, D, c.patch_size, c.stem_channels));

  cls_token = register_parameter("cls_token", torch::zeros({1, 1, D}));
  if (c.distill_token) dist_token = register_parameter("dist_token", torch::zeros({1, 1, D}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, c.num_tokens(), D}));
  {
    torch::NoGradGuard g;
    cls_token.normal_(0.0, 1e-6);
    if (dist_token.defined()) trunc_normal_(dist_token, 0.02);
    trunc_normal_(pos_embed, 0.02);
  }

  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < c.depth; ++i) {
    const float dp = c.depth > 1 ? c.drop_path * static_cast<float>(i) / (c.depth - 1) : 0.f;
    blocks->push_back(VitBlock(D, c.heads_of(i), c.head_dim_resolved(), c.mlp_of(i), c.ln_eps,
                               c.dropout, dp));
  }
  norm = register_module("norm",
                         torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(c.ln_eps)));
  head = register_module("head", torch::nn::Linear(D, c.num_classes));
  init_linear(head);
  if (c.distill_token) {
    head_dist = register_module("head_dist", torch::nn::Linear(D, c.num_classes));
    init_linear(head_dist);
  }
}

torch::Tensor VisionTransformer::forward_features(torch::Tensor x) {
  const auto B = x.size(0);
  x = patch_embed(x);  // (B, N, D)
  std::vector<torch::Tensor> parts{cls_token.expand({B, -1, -1})};
  if (dist_token.defined()) parts.push_back(dist_token.expand({B, -1, -1}));
  parts.push_back(x);
  x = torch::cat(parts, 1) + pos_embed;  // (B, T, D)
  for (const auto& blk : *blocks) x = blk->as<VitBlock>()->forward(x);
  return norm(x);
}

std::pair<torch::Tensor, torch::Tensor> VisionTransformer::forward_train(torch::Tensor x) {
  auto f = forward_features(x);
  auto logits = head(f.select(1, 0));
  if (!head_dist) return {logits, torch::Tensor()};
  return {logits, head_dist(f.select(1, 1))};
}

torch::Tensor VisionTransformer::forward(torch::Tensor x) {
  auto [cls, dist] = forward_train(std::move(x));
  return dist.defined() ? (cls + dist) * 0.5 : cls;
}

}  // namespace tinyvit::models
