#include "prune/fold.h"

#include <fmt/format.h>

namespace tinyvit::prune {
namespace {

// LN(g, b) -> Linear(W, c):  W' = W * g[None, :],  c' = c + W b;  then g = 1, b = 0.
// Computed in float64 and rounded once to float32.
void fold_into(torch::nn::LayerNorm& ln, const std::vector<torch::nn::Linear*>& next) {
  auto g = ln->weight.detach().to(torch::kFloat64);
  auto b = ln->bias.detach().to(torch::kFloat64);
  for (auto* lin : next) {
    auto& l = *lin;
    auto W = l->weight.detach().to(torch::kFloat64);  // (out, D)
    auto c = l->bias.detach().to(torch::kFloat64);    // (out,)
    auto c2 = c + torch::matmul(W, b);
    auto W2 = W * g.unsqueeze(0);
    l->weight.copy_(W2.to(l->weight.dtype()));
    l->bias.copy_(c2.to(l->bias.dtype()));
  }
  ln->weight.fill_(1.0);
  ln->bias.zero_();
}

}  // namespace

FoldReport fold_layernorm_affine(models::VisionTransformer& model) {
  torch::NoGradGuard no_grad;
  FoldReport r;
  for (const auto& m : *model.blocks) {
    auto* blk = m->as<models::VitBlock>();
    fold_into(blk->norm1, {&blk->attn->qkv});
    fold_into(blk->norm2, {&blk->mlp->fc1});
    r.layer_norms_folded += 2;
  }
  std::vector<torch::nn::Linear*> heads{&model.head};
  if (model.head_dist) heads.push_back(&model.head_dist);
  fold_into(model.norm, heads);
  r.layer_norms_folded += 1;
  r.summary = fmt::format("folded {} LayerNorm affines into the following Linear layers",
                          r.layer_norms_folded);
  return r;
}

models::ModelConfig strip_training_only(models::ModelConfig config) {
  config.vit.dropout = 0.f;
  config.vit.drop_path = 0.f;
  return config;
}

}  // namespace tinyvit::prune
