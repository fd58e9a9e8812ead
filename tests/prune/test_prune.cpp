// Structured pruning: exactness on zeroed units (heads, MLP units, blocks; per-layer and global;
// L1, L2 and Taylor), planning rules, the iterative schedule, pruned configs passing the
// automatic model checks, checkpoint round trip, LayerNorm folding.
//
// Tolerance for "unchanged outputs": max |logit diff| <= 1e-5. Removing a unit whose weights
// are exactly zero removes only exact zeros from dot products (qkv rows, fc1 rows, proj / fc2
// columns), so the remaining sums differ by summation order at most: ~1e-7 on O(1) logits.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.h"
#include "models/checkpoint.h"
#include "models/info.h"
#include "models/model.h"
#include "prune/fold.h"
#include "prune/measure.h"
#include "prune/prune.h"

using namespace tinyvit;

namespace {

// 16x16 input, 4x4 patches (17 tokens), D = 32, 3 blocks of 4 heads x hd 8, MLP 64.
models::ModelConfig small_vit(bool distill = false) {
  models::ModelConfig c;
  c.name = "test_prune_vit";
  c.family = "vit";
  auto& v = c.vit;
  v.img_size = 16;
  v.patch_size = 4;
  v.num_classes = 10;
  v.embed_dim = 32;
  v.depth = 3;
  v.num_heads = 4;
  v.head_dim = 8;
  v.mlp_ratio = 2.f;
  v.distill_token = distill;
  return c;
}

// Seeded random weights at O(0.1..1) so no part of the model is trivial.
models::ClassifierPtr make_model(const models::ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  auto m = models::build_model(c);
  torch::NoGradGuard g;
  for (auto& p : m->named_parameters()) p.value().add_(torch::randn_like(p.value()) * 0.1);
  m->eval();
  return m;
}

models::VisionTransformer& vit(const models::ClassifierPtr& m) {
  return dynamic_cast<models::VisionTransformer&>(*m);
}

torch::Tensor param(const models::ClassifierPtr& m, const std::string& name) {
  return *m->named_parameters().find(name);
}

// Zeroes everything head h of block b owns: its q, k, v rows (+bias) and proj columns.
void zero_head(const models::ClassifierPtr& m, int b, int h) {
  torch::NoGradGuard g;
  const auto& c = m->config().vit;
  const int64_t hd = c.head_dim_resolved(), A = c.heads_of(b) * hd;
  const std::string p = "blocks." + std::to_string(b) + ".attn.";
  for (int64_t part = 0; part < 3; ++part) {
    param(m, p + "qkv.weight").slice(0, part * A + h * hd, part * A + (h + 1) * hd).zero_();
    param(m, p + "qkv.bias").slice(0, part * A + h * hd, part * A + (h + 1) * hd).zero_();
  }
  param(m, p + "proj.weight").slice(1, h * hd, (h + 1) * hd).zero_();
}

// Zeroes MLP unit u of block b: fc1 row and bias, fc2 column.
void zero_unit(const models::ClassifierPtr& m, int b, int64_t u) {
  torch::NoGradGuard g;
  const std::string p = "blocks." + std::to_string(b) + ".mlp.";
  param(m, p + "fc1.weight")[u].zero_();
  param(m, p + "fc1.bias")[u].zero_();
  param(m, p + "fc2.weight").select(1, u).zero_();
}

// Zeroes all attention and MLP weights of block b (the block becomes the identity).
void zero_block(const models::ClassifierPtr& m, int b) {
  torch::NoGradGuard g;
  for (auto& p : m->named_parameters()) {
    const std::string pre = "blocks." + std::to_string(b) + ".";
    if (p.key().rfind(pre, 0) == 0 && p.key().find("norm") == std::string::npos) p.value().zero_();
  }
}

torch::Tensor inputs(const models::ModelConfig& c, int n = 4) {
  torch::manual_seed(123);
  return torch::randn({n, 3, c.img_size(), c.img_size()});
}

double max_diff(const models::ClassifierPtr& a, const models::ClassifierPtr& b,
                const torch::Tensor& x) {
  torch::NoGradGuard g;
  return (a->forward(x) - b->forward(x)).abs().max().item<double>();
}

// Calibration: two seeded random batches with labels.
prune::BatchSource random_batches(const models::ModelConfig& c) {
  return [c](const prune::BatchVisitor& visit) {
    torch::manual_seed(7);
    for (int i = 0; i < 2; ++i)
      visit(torch::randn({8, 3, c.img_size(), c.img_size()}), torch::arange(8) % c.num_classes());
  };
}

// The automatic model checks of tests/models (registry): output shape, finite loss, a nonzero
// gradient on every parameter, analytic parameter count == LibTorch's.
void check_trainable(const models::ClassifierPtr& m) {
  const auto& c = m->config();
  m->train();
  m->zero_grad();
  auto x = inputs(c, 2);
  auto [cls, dist] = m->forward_train(x);
  ASSERT_EQ(cls.sizes(), (std::vector<int64_t>{2, c.num_classes()}));
  auto y = torch::arange(2) % c.num_classes();
  auto loss = torch::nn::functional::cross_entropy(cls, y);
  if (dist.defined()) loss = loss + torch::nn::functional::cross_entropy(dist, y);
  ASSERT_TRUE(std::isfinite(loss.item<double>()));
  loss.backward();
  int64_t n = 0;
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << "no gradient for " << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << "zero gradient: " << p.key();
    n += p.value().numel();
  }
  EXPECT_EQ(models::model_info(c).params, n);
  m->eval();
}

prune::PruneResult prune_with(const models::ClassifierPtr& m, const prune::PruneOptions& o,
                              prune::Criterion crit) {
  return prune::prune_vit(*m, o, crit, random_batches(m->config()));
}

}  // namespace

// Exactness: zeroed heads and MLP units are the lowest-ranked under every criterion, so the
// per-layer plan removes exactly them and the outputs stay the same.
TEST(PruneExact, ZeroHeadsAndUnitsPerLayerEveryCriterion) {
  for (auto crit : {prune::Criterion::kL1, prune::Criterion::kL2, prune::Criterion::kTaylor}) {
    SCOPED_TRACE(prune::criterion_name(crit));
    auto m = make_model(small_vit(), 1);
    // One head of four and 16 of 64 units per block.
    const int zh[3] = {2, 0, 3};
    for (int b = 0; b < 3; ++b) {
      zero_head(m, b, zh[b]);
      for (int64_t u = 0; u < 16; ++u) zero_unit(m, b, (u * 5 + b) % 64);
    }
    prune::PruneOptions o;
    o.heads = 0.25;
    o.mlp = 0.25;
    auto r = prune_with(m, o, crit);
    const auto& pc = r.model->config().vit;
    EXPECT_EQ(pc.block_heads, (std::vector<int>{3, 3, 3}));
    EXPECT_EQ(pc.block_mlp, (std::vector<int>{48, 48, 48}));
    for (int b = 0; b < 3; ++b)
      for (int64_t h : r.plan.heads[b]) EXPECT_NE(h, zh[b]);
    const double d = max_diff(m, r.model, inputs(m->config()));
    EXPECT_LE(d, 1e-5);
    std::cout << "[prune] " << prune::criterion_name(crit) << ": max |logit diff| " << d << "\n";
  }
}

// Global ranking: zeroed units spread unevenly over blocks are found wherever they are.
TEST(PruneExact, ZeroUnitsGlobalRankingUneven) {
  auto m = make_model(small_vit(true), 2);  // with a distillation token
  zero_head(m, 0, 1);
  zero_head(m, 0, 3);
  zero_head(m, 2, 0);  // 3 of 12 heads: block 0 loses two, block 1 none, block 2 one
  for (int64_t u = 0; u < 40; ++u) zero_unit(m, 1, u);  // 40 + 8 = 48 = 25% of 192 units
  for (int64_t u = 0; u < 8; ++u) zero_unit(m, 2, 63 - u);
  for (auto crit : {prune::Criterion::kL1, prune::Criterion::kTaylor}) {
    SCOPED_TRACE(prune::criterion_name(crit));
    prune::PruneOptions o;
    o.heads = 0.25;
    o.mlp = 0.25;
    o.global = true;
    auto r = prune_with(m, o, crit);
    const auto& pc = r.model->config().vit;
    EXPECT_EQ(pc.block_heads, (std::vector<int>{2, 4, 3}));
    EXPECT_EQ(pc.block_mlp, (std::vector<int>{64, 24, 56}));
    EXPECT_LE(max_diff(m, r.model, inputs(m->config())), 1e-5);
  }
}

// A block whose attention and MLP weights are zero is the identity; it is the one removed.
TEST(PruneExact, ZeroBlockIsRemoved) {
  for (auto crit : {prune::Criterion::kL1, prune::Criterion::kL2, prune::Criterion::kTaylor}) {
    SCOPED_TRACE(prune::criterion_name(crit));
    auto m = make_model(small_vit(), 3);
    zero_block(m, 1);
    prune::PruneOptions o;
    o.blocks = 1;
    auto r = prune_with(m, o, crit);
    EXPECT_EQ(r.plan.blocks, (std::vector<int>{0, 2}));
    EXPECT_EQ(r.model->config().vit.depth, 2);
    EXPECT_LE(max_diff(m, r.model, inputs(m->config())), 1e-5);
  }
}

// Slicing is exact for arbitrary kept indices: the pruned model equals the original with the
// removed units zeroed (a mask), checked without relying on any importance scores.
TEST(PruneExact, ApplyPlanEqualsMaskedOriginal) {
  auto m = make_model(small_vit(), 4);
  prune::PrunePlan plan = prune::full_plan(m->config());
  plan.heads[0] = {0, 3};
  plan.heads[2] = {1};
  plan.mlp[1] = {1, 2, 3, 10, 40, 63};
  auto pruned = prune::apply_plan(*m, plan);
  auto masked = make_model(small_vit(), 4);
  zero_head(masked, 0, 1);
  zero_head(masked, 0, 2);
  for (int h : {0, 2, 3}) zero_head(masked, 2, h);
  for (int64_t u = 0; u < 64; ++u)
    if (std::find(plan.mlp[1].begin(), plan.mlp[1].end(), u) == plan.mlp[1].end())
      zero_unit(masked, 1, u);
  EXPECT_LE(max_diff(masked, pruned, inputs(m->config())), 1e-5);
  // Physically smaller, with its own per-block config.
  const auto& pc = pruned->config().vit;
  EXPECT_EQ(pc.block_heads, (std::vector<int>{2, 4, 1}));
  EXPECT_EQ(pc.block_mlp, (std::vector<int>{64, 6, 64}));
  EXPECT_EQ(param(pruned, "blocks.2.attn.qkv.weight").sizes(), (std::vector<int64_t>{24, 32}));
  EXPECT_EQ(param(pruned, "blocks.2.attn.proj.weight").sizes(), (std::vector<int64_t>{32, 8}));
  EXPECT_EQ(param(pruned, "blocks.1.mlp.fc2.weight").sizes(), (std::vector<int64_t>{32, 6}));
}

TEST(PrunePlan, PerLayerRoundingFloorsAndMultiples) {
  auto m = make_model(small_vit(), 5);
  prune::PruneOptions o;
  o.heads = 1.0 / 3.0;  // round(4/3) = 1 head per block
  o.mlp = 0.75;         // 64 -> 16
  auto r = prune_with(m, o, prune::Criterion::kL1);
  EXPECT_EQ(r.model->config().vit.block_heads, (std::vector<int>{3, 3, 3}));
  EXPECT_EQ(r.model->config().vit.block_mlp, (std::vector<int>{16, 16, 16}));
  o.heads = 0.9;        // would leave 0 heads: min_heads = 1
  o.mlp = 0.8;          // 64 - round(51.2) = 13 -> rounded up to a multiple of 8 = 16
  o.mlp_multiple = 8;
  r = prune_with(m, o, prune::Criterion::kL2);
  EXPECT_EQ(r.model->config().vit.block_heads, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(r.model->config().vit.block_mlp, (std::vector<int>{16, 16, 16}));
}

TEST(PrunePlan, BadOptionsAreReadableErrors) {
  auto m = make_model(small_vit(), 6);
  prune::PruneOptions o;
  o.heads = 1.0;
  EXPECT_THROW(prune_with(m, o, prune::Criterion::kL1), Error);
  o = {};
  o.blocks = 3;
  EXPECT_THROW(prune_with(m, o, prune::Criterion::kL1), Error);
  EXPECT_THROW(prune::parse_criterion("l3"), Error);
  // Taylor without data.
  EXPECT_THROW(prune::prune_vit(*m, {}, prune::Criterion::kTaylor), Error);
  // Not a ViT.
  models::ModelConfig rc;
  rc.name = "r";
  rc.family = "resnet";
  rc.resnet.width = 8;
  auto rn = models::build_model(rc);
  try {
    prune::prune_vit(*rn, {}, prune::Criterion::kL1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("only ViT"), std::string::npos);
  }
}

// k rounds of the iterative schedule end at exactly the one-shot sizes (heads, units, blocks),
// and the composed plan maps back to original indices (identity recovery keeps outputs equal
// to a one-shot apply of that plan).
TEST(PruneIterative, EndsAtOneShotSizes) {
  auto m = make_model(small_vit(), 7);
  prune::PruneOptions o;
  o.heads = 0.5;
  o.mlp = 0.5;
  o.blocks = 1;
  const auto one = prune_with(m, o, prune::Criterion::kL1);
  for (bool global : {false, true}) {
    o.global = global;
    int rounds = 0;
    auto it = prune::prune_iterative(
        *m, o, 3, prune::Criterion::kL1, {},
        [&](models::ClassifierPtr p, int) { ++rounds; return p; });
    EXPECT_EQ(rounds, 3);
    auto sum = [](const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), 0); };
    EXPECT_EQ(it.model->config().vit.depth, one.model->config().vit.depth);
    EXPECT_EQ(sum(it.model->config().vit.block_heads), sum(one.model->config().vit.block_heads));
    EXPECT_EQ(sum(it.model->config().vit.block_mlp), sum(one.model->config().vit.block_mlp));
    auto again = prune::apply_plan(*m, it.plan);
    EXPECT_LE(max_diff(again, it.model, inputs(m->config())), 1e-6);
  }
}

// Every pruned config passes the checks every registered config passes, incl. extremes
// (one head, 8 units, one block left) and a distillation token.
TEST(PrunedModels, PassAutomaticModelChecks) {
  struct Case { double heads, mlp; int blocks; bool distill; };
  for (const Case& k : {Case{0.25, 0.5, 0, false}, Case{0.5, 0.75, 1, true},
                        Case{0.9, 0.9, 2, false}}) {
    auto m = make_model(small_vit(k.distill), 8);
    prune::PruneOptions o;
    o.heads = k.heads;
    o.mlp = k.mlp;
    o.blocks = k.blocks;
    auto r = prune_with(m, o, prune::Criterion::kTaylor);
    SCOPED_TRACE(nlohmann::json(r.model->config()).dump());
    check_trainable(r.model);
  }
}

TEST(PrunedModels, CheckpointRoundTrip) {
  auto m = make_model(small_vit(true), 9);
  prune::PruneOptions o;
  o.heads = 0.5;
  o.mlp = 0.4;
  o.blocks = 1;
  auto r = prune_with(m, o, prune::Criterion::kL2);
  const auto path = (std::filesystem::temp_directory_path() /
                     ("tinyvit-prune-test-" + std::to_string(::getpid()) + ".pt")).string();
  const nlohmann::json meta = {{"mean", {0.1, 0.2, 0.3}}, {"class_names", {"a", "b"}},
                               {"input_size", 16}};
  models::save_checkpoint(path, *r.model, meta);
  auto back = models::load_checkpoint(path);
  std::filesystem::remove(path);
  EXPECT_EQ(nlohmann::json(back.model->config()), nlohmann::json(r.model->config()));
  EXPECT_EQ(back.meta, meta);
  EXPECT_EQ(max_diff(back.model, r.model, inputs(m->config())), 0.0);  // bit-identical
}

// LayerNorm affine folding leaves the outputs unchanged within float32 rounding.
TEST(Fold, LayerNormAffineIsExact) {
  for (bool distill : {false, true}) {
    auto m = make_model(small_vit(distill), 10);
    {
      torch::NoGradGuard g;  // LayerNorm gains far from 1, biases far from 0
      for (auto& p : m->named_parameters())
        if (p.key().find("norm") != std::string::npos) p.value().normal_(0.0, 1.0);
    }
    auto folded = make_model(small_vit(distill), 10);
    {
      torch::NoGradGuard g;
      auto src = m->named_parameters();
      for (auto& p : folded->named_parameters()) p.value().copy_(*src.find(p.key()));
    }
    auto rep = prune::fold_layernorm_affine(vit(folded));
    EXPECT_EQ(rep.layer_norms_folded, 7);
    EXPECT_TRUE(param(folded, "blocks.0.norm1.weight").eq(1).all().item<bool>());
    EXPECT_TRUE(param(folded, "norm.bias").eq(0).all().item<bool>());
    EXPECT_LE(max_diff(m, folded, inputs(m->config())), 1e-5);
  }
  auto c = prune::strip_training_only([] {
    auto c = small_vit();
    c.vit.dropout = 0.1f;
    c.vit.drop_path = 0.2f;
    return c;
  }());
  EXPECT_EQ(c.vit.dropout, 0.f);
  EXPECT_EQ(c.vit.drop_path, 0.f);
}

TEST(Measure, CostShrinksWithPruning) {
  auto m = make_model(small_vit(), 11);
  prune::PruneOptions o;
  o.heads = 0.5;
  o.mlp = 0.5;
  auto r = prune_with(m, o, prune::Criterion::kL1);
  const auto a = prune::model_cost(*m, 3), b = prune::model_cost(*r.model, 3);
  EXPECT_LT(b.params, a.params);
  EXPECT_LT(b.macs, a.macs);
  EXPECT_LT(b.int8_weight_bytes, a.int8_weight_bytes);
  EXPECT_GT(a.latency_ms, 0.0);
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  EXPECT_EQ(a.params, n);
}
