// ViT pieces against LibTorch's own implementations (not ours).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "models/registry.h"
#include "models/vit.h"

using namespace tinyvit;

// Our attention (fused qkv, (B, T, D) layout) vs torch::nn::MultiheadAttention with the same
// weights. Tolerance 1e-5: float32 with a different summation order.
TEST(Vit, AttentionMatchesLibTorchMultiheadAttention) {
  torch::manual_seed(1);
  const int D = 24, H = 3, T = 7, B = 2;
  models::VitAttention ours(D, H, D / H, 0.f);
  torch::nn::MultiheadAttention ref(torch::nn::MultiheadAttentionOptions(D, H));
  {
    torch::NoGradGuard g;
    ref->in_proj_weight.copy_(ours->qkv->weight);
    ref->in_proj_bias.copy_(ours->qkv->bias);
    ref->out_proj->weight.copy_(ours->proj->weight);
    ref->out_proj->bias.copy_(ours->proj->bias);
  }
  ours->eval();
  ref->eval();
  auto x = torch::randn({B, T, D});
  auto y = ours->forward(x);
  auto xt = x.transpose(0, 1);  // MHA wants (T, B, D)
  auto y_ref = std::get<0>(ref->forward(xt, xt, xt)).transpose(0, 1);
  EXPECT_TRUE(torch::allclose(y, y_ref, 1e-5, 1e-5)) << (y - y_ref).abs().max().item<float>();
}

// A whole block equals the textbook formula written with LibTorch functional ops.
TEST(Vit, BlockIsPreNormResidual) {
  torch::manual_seed(2);
  const int D = 16;
  models::VitBlock blk(D, 2, 8, 40, 1e-6, 0.f, 0.f);
  blk->eval();
  auto x = torch::randn({3, 5, D});
  namespace F = torch::nn::functional;
  auto ln = [&](const torch::Tensor& t, torch::nn::LayerNorm& n) {
    return F::layer_norm(t, F::LayerNormFuncOptions({D}).weight(n->weight).bias(n->bias).eps(1e-6));
  };
  torch::nn::MultiheadAttention mha(torch::nn::MultiheadAttentionOptions(D, 2));
  {
    torch::NoGradGuard g;
    mha->in_proj_weight.copy_(blk->attn->qkv->weight);
    mha->in_proj_bias.copy_(blk->attn->qkv->bias);
    mha->out_proj->weight.copy_(blk->attn->proj->weight);
    mha->out_proj->bias.copy_(blk->attn->proj->bias);
  }
  mha->eval();
  auto h = ln(x, blk->norm1).transpose(0, 1);
  auto r = x + std::get<0>(mha->forward(h, h, h)).transpose(0, 1);
  auto m = F::linear(torch::gelu(F::linear(ln(r, blk->norm2), blk->mlp->fc1->weight, blk->mlp->fc1->bias)),
                     blk->mlp->fc2->weight, blk->mlp->fc2->bias);
  auto expect = r + m;
  auto got = blk->forward(x);
  EXPECT_TRUE(torch::allclose(got, expect, 1e-5, 1e-5)) << (got - expect).abs().max().item<float>();
}

// Parameter names are timm's (issue #2 lists them): a pretrained timm state dict maps 1:1.
TEST(Vit, ParameterNamesAreTimms) {
  auto c = models::model_config("vit_tiny_patch16_224", 1000);
  auto m = models::build_model(c);
  std::set<std::string> names;
  for (const auto& p : m->named_parameters()) names.insert(p.key());
  std::set<std::string> expect = {"cls_token", "pos_embed", "patch_embed.proj.weight",
                                  "patch_embed.proj.bias", "norm.weight", "norm.bias",
                                  "head.weight", "head.bias"};
  for (int i = 0; i < 12; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    for (const char* s : {"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias",
                          "attn.proj.weight", "attn.proj.bias", "norm2.weight", "norm2.bias",
                          "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"})
      expect.insert(b + s);
  }
  EXPECT_EQ(names, expect);
  auto pe = m->named_parameters()["pos_embed"];
  EXPECT_EQ(pe.sizes(), (std::vector<int64_t>{1, 197, 192}));
}

// Patch order: token k (after the class token) covers the k-th patch in row-major order.
TEST(Vit, PatchEmbeddingIsRowMajorConv) {
  torch::manual_seed(3);
  models::VitPatchEmbed pe(3, 8, 4);
  auto x = torch::randn({1, 3, 8, 8});
  auto t = pe->forward(x);  // (1, 4, 8)
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{1, 4, 8}));
  // Patch (row 1, col 0) = token 2: dot product of the kernel with that 4x4 window + bias.
  auto win = x.index({0, torch::indexing::Slice(), torch::indexing::Slice(4, 8),
                      torch::indexing::Slice(0, 4)});
  auto manual = (pe->proj->weight * win.unsqueeze(0)).sum({1, 2, 3}) + pe->proj->bias;
  EXPECT_TRUE(torch::allclose(t[0][2], manual, 1e-5, 1e-5));
}
