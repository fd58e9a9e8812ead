// ViT pieces against LibTorch's own implementations (not ours).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "common/error.h"
#include "models/config.h"
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

// Without a tokenizer the patch embedding holds `proj` and nothing else, as timm's PatchEmbed
// and as every checkpoint written before the tokenizer existed: LibTorch's loader needs every
// registered submodule, even an empty one, in the file ("No such serialized submodule").
TEST(Vit, PatchEmbeddingWithoutTokenizerHasOnlyProj) {
  models::VitPatchEmbed pe(3, 8, 4);
  std::vector<std::string> children;
  for (const auto& c : pe->named_children()) children.push_back(c.key());
  EXPECT_EQ(children, (std::vector<std::string>{"proj"}));
  models::VitPatchEmbed tok(3, 8, 1, std::vector<int>{4});
  children.clear();
  for (const auto& c : tok->named_children()) children.push_back(c.key());
  EXPECT_EQ(children, (std::vector<std::string>{"stem", "proj"}));
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

// The convolutional tokenizer is conv3x3(pad 1) -> ReLU -> MaxPool 2x2 per stem layer, then the
// patch projection: compared with the same layers as LibTorch's own modules in a Sequential.
TEST(Vit, ConvTokenizerMatchesLibTorchSequential) {
  torch::manual_seed(4);
  models::VitPatchEmbed pe(3, 16, 2, std::vector<int>{8, 12});
  namespace nn = torch::nn;
  nn::Sequential ref(nn::Conv2d(nn::Conv2dOptions(3, 8, 3).padding(1)), nn::ReLU(),
                     nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                     nn::Conv2d(nn::Conv2dOptions(8, 12, 3).padding(1)), nn::ReLU(),
                     nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                     nn::Conv2d(nn::Conv2dOptions(12, 16, 2).stride(2)));
  {
    torch::NoGradGuard g;
    auto src = pe->named_parameters();
    auto dst = ref->named_parameters();
    const std::vector<std::pair<std::string, std::string>> map = {
        {"stem.0.weight", "0.weight"}, {"stem.0.bias", "0.bias"}, {"stem.1.weight", "3.weight"},
        {"stem.1.bias", "3.bias"},     {"proj.weight", "6.weight"}, {"proj.bias", "6.bias"}};
    ASSERT_EQ(src.size(), map.size());
    for (const auto& [ours, theirs] : map) dst[theirs].copy_(src[ours]);
  }
  auto x = torch::randn({2, 3, 16, 16});
  auto got = pe->forward(x);
  auto expect = ref->forward(x).flatten(2).transpose(1, 2);  // 16 -> 8 -> 4 px -> 2 x 2 tokens
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, 4, 16}));
  // float32, same kernels in the same order: equal up to rounding of the summation order
  EXPECT_TRUE(torch::allclose(got, expect, 1e-5, 1e-5)) << (got - expect).abs().max().item<float>();
}

// The registered convolutional-tokenizer student: 8 x 8 tokens from 32 px, like 4 px patches,
// its config survives the checkpoint's JSON, and a size the stem cannot halve is refused.
TEST(Vit, ConvTokenizerConfig) {
  auto c = models::model_config("vit_micro_convtok_32", 10);
  EXPECT_EQ(c.vit.grid(), 8);
  EXPECT_EQ(c.vit.num_tokens(), 65);
  nlohmann::json j = c;
  auto back = j.get<models::ModelConfig>();
  EXPECT_EQ(back.vit.stem_channels, (std::vector<int>{32, 64}));
  auto m = models::build_model(back);
  std::set<std::string> names;
  for (const auto& p : m->named_parameters()) names.insert(p.key());
  for (const char* n : {"patch_embed.stem.0.weight", "patch_embed.stem.1.bias",
                        "patch_embed.proj.weight", "cls_token", "pos_embed"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_EQ(m->named_parameters()["patch_embed.proj.weight"].sizes(),
            (std::vector<int64_t>{128, 64, 1, 1}));
  c.vit.img_size = 36;  // 36 -> 18 -> 9 px, patch 1: 9 x 9 tokens
  EXPECT_NO_THROW(models::validate(c));
  c.vit.img_size = 34;  // 34 -> 17 px: the second pool cannot halve it
  try {
    models::validate(c);
    FAIL() << "img_size 34 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2^(stem layers) * patch_size (4)"), std::string::npos)
        << e.what();
  }
}
