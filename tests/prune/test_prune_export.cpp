// A pruned ViT (uneven heads and MLP widths per block, a block removed) exports to float32
// TFLite and runs in LiteRT.js (a real TFLite runtime), matching LibTorch.
//
// Tolerance: max |logit diff| <= 1e-4, the same as tests/export's whole-model tests (float32
// ops differ from LibTorch by a few ulps each; see tests/export/test_export_models.cpp).
#include <gtest/gtest.h>

#include <iostream>

#include "../export/export_test_util.h"
#include "models/model.h"
#include "prune/fold.h"
#include "prune/prune.h"

using namespace tinyvit;

namespace {

const std::vector<float> kMean{0.4914f, 0.4822f, 0.4465f};
const std::vector<float> kStd{0.2470f, 0.2435f, 0.2616f};

models::ClassifierPtr pruned_model(bool distill) {
  models::ModelConfig c;
  c.name = "test_prune_export";
  c.family = "vit";
  c.vit.img_size = 16;
  c.vit.patch_size = 4;
  c.vit.embed_dim = 32;
  c.vit.depth = 3;
  c.vit.num_heads = 4;
  c.vit.head_dim = 8;
  c.vit.mlp_ratio = 2.f;
  c.vit.distill_token = distill;
  torch::manual_seed(21);
  auto m = models::build_model(c);
  {
    torch::NoGradGuard g;
    for (auto& p : m->named_parameters()) p.value().add_(torch::randn_like(p.value()) * 0.1);
  }
  prune::PruneOptions o;
  o.heads = 0.4;
  o.mlp = 0.6;
  o.blocks = 1;
  o.global = true;  // uneven widths per block
  auto r = prune::prune_vit(*m, o, prune::Criterion::kL1);
  r.model->eval();
  return r.model;
}

// Exports `m`, runs 16 seeded random images in LiteRT.js and LibTorch; max |logit diff|.
double export_and_compare(const models::ClassifierPtr& m, const std::string& name) {
  exporter::ExportOptions o;
  o.mean = kMean;
  o.std = kStd;
  const auto r = exporter::export_tflite(*m, o);
  const int S = m->config().img_size();
  torch::manual_seed(99);
  const torch::Tensor pixels = torch::rand({16, 1, S, S, 3});  // NHWC, [0, 1]
  const torch::Tensor got = exporter::testing::run_in_litert(
                                r.bytes, pixels, {1, m->config().num_classes()}, name)
                                .squeeze(1);
  torch::Tensor x = pixels.squeeze(1).permute({0, 3, 1, 2});
  x = (x - torch::tensor(kMean).view({1, 3, 1, 1})) / torch::tensor(kStd).view({1, 3, 1, 1});
  torch::NoGradGuard g;
  const torch::Tensor want = m->forward(x.contiguous());
  const double d = exporter::testing::max_abs_diff(got, want);
  std::cout << "[prune-export] " << name << ": " << r.bytes.size() << " bytes, " << r.num_ops
            << " ops, max |logit diff| " << d << "\n";
  EXPECT_TRUE(got.argmax(1).eq(want.argmax(1)).all().item<bool>());
  return d;
}

}  // namespace

TEST(PruneExport, PrunedVitRunsInLiteRtLikeLibTorch) {
  for (bool distill : {false, true}) {
    auto m = pruned_model(distill);
    const auto& v = m->config().vit;
    SCOPED_TRACE(nlohmann::json(m->config()).dump());
    EXPECT_EQ(v.depth, 2);
    EXPECT_LE(export_and_compare(m, distill ? "pruned_distill" : "pruned"), 1e-4);
  }
}

// The export-time simplification: LayerNorm affine folded, then exported; still matches the
// unfolded model.
TEST(PruneExport, FoldedPrunedVitMatches) {
  auto m = pruned_model(false);
  auto folded = models::build_model(m->config());
  {
    torch::NoGradGuard g;
    auto src = m->named_parameters();
    for (auto& p : folded->named_parameters()) p.value().copy_(*src.find(p.key()));
  }
  prune::fold_layernorm_affine(dynamic_cast<models::VisionTransformer&>(*folded));
  folded->eval();
  EXPECT_LE(export_and_compare(folded, "pruned_folded"), 1e-4);
}
