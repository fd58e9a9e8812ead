// bf16 mixed precision (train/precision.h) against LibTorch itself and the kernel's CPU flags:
// which hardware `auto` picks, what the autocast scope turns on and off, and that a bf16
// training step computes the float32 step's loss and gradients up to bf16 rounding.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "common/error.h"
#include "models/registry.h"
#include "train/losses.h"
#include "train/precision.h"

using namespace tinyvit;
using train::Precision;

namespace {

// The CPU flags Linux reports: the reference for cpu_has_native_bf16.
bool proc_cpuinfo_has(const std::string& flag) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    for (std::string w; words >> w;)
      if (w == flag) return true;
    return false;
  }
  return false;
}

struct Step {
  torch::Tensor loss;
  std::vector<torch::Tensor> grads;
};

// One training step's loss and gradients (label-smoothed CE on float32 logits, as the trainer).
Step step(models::Classifier& m, const torch::Tensor& x, const torch::Tensor& y, bool bf16) {
  m.zero_grad();
  torch::Tensor logits;
  {
    train::AutocastScope autocast(torch::kCPU, bf16);
    logits = m.forward_train(x).first;
  }
  EXPECT_EQ(logits.scalar_type(), bf16 ? torch::kBFloat16 : torch::kFloat);
  Step s;
  s.loss = train::cross_entropy(logits.to(torch::kFloat), y, 0.1);
  s.loss.backward();
  for (auto& p : m.parameters())
    if (p.grad().defined()) s.grads.push_back(p.grad().clone());
  return s;
}

void expect_bf16_step_tracks_fp32(models::ModelConfig cfg) {
  torch::manual_seed(0);
  auto m = models::build_model(cfg);
  m->train();
  auto x = torch::rand({16, 3, 32, 32});
  auto y = torch::randint(0, 10, {16}, torch::kLong);
  torch::manual_seed(1);  // same dropout / drop-path draws in both steps (none configured here)
  const Step f = step(*m, x, y, false);
  torch::manual_seed(1);
  const Step b = step(*m, x, y, true);
  // bf16 keeps 8 significant bits (relative rounding <= 2^-9 = 0.2 % per value). The rounding
  // errors of the ~10 matmuls/convolutions average out in the mean loss: measured 0.022 % off
  // float32's for both models; one bf16 rounding step (0.2 %) is the bound.
  const double lf = f.loss.item<double>(), lb = b.loss.item<double>();
  EXPECT_NEAR(lb, lf, 0.002 * lf) << cfg.name;
  ASSERT_EQ(f.grads.size(), b.grads.size());
  std::vector<torch::Tensor> gf, gb;
  for (size_t i = 0; i < f.grads.size(); ++i) {
    // Master weights stay float32, so their gradients do too.
    EXPECT_EQ(b.grads[i].scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::isfinite(b.grads[i]).all().item<bool>());
    gf.push_back(f.grads[i].flatten());
    gb.push_back(b.grads[i].flatten());
  }
  // The whole gradient points the same way: cosine similarity of the concatenated gradients.
  // Measured 0.99999 (ViT) and 0.9974 (CNN: BatchNorm divides by batch statistics of rounded
  // activations); 0.99 leaves room for other CPUs' accumulation order.
  const auto a = torch::cat(gf), c = torch::cat(gb);
  const double cos = (a * c).sum().item<double>() / (a.norm() * c.norm()).item<double>();
  EXPECT_GT(cos, 0.99) << cfg.name;
}

}  // namespace

TEST(Precision, NamesResolvePerDevice) {
  const torch::Device cpu(torch::kCPU);
  EXPECT_EQ(train::resolve_precision("fp32", cpu), Precision::kFloat32);
  EXPECT_EQ(train::resolve_precision("bf16", cpu), Precision::kBFloat16);
  const bool native = proc_cpuinfo_has("avx512_bf16") || proc_cpuinfo_has("amx_bf16");
  EXPECT_EQ(train::cpu_has_native_bf16(), native);
  EXPECT_EQ(train::resolve_precision("auto", cpu),
            native ? Precision::kBFloat16 : Precision::kFloat32);
  EXPECT_STREQ(train::precision_name(Precision::kBFloat16), "bf16");
  try {
    train::resolve_precision("fp16", cpu);
    FAIL() << "fp16 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("got \"fp16\""), std::string::npos) << e.what();
  }
}

// Inside the scope LibTorch's autocast runs linear in bf16, exactly as on explicitly cast
// operands; elementwise ops keep their dtype; a disabled inner scope turns it off; each exit
// restores the state before it.
TEST(Precision, AutocastScopeCastsMatmulsAndRestores) {
  torch::manual_seed(0);
  torch::nn::Linear lin(16, 8);
  auto x = torch::randn({4, 16});
  const auto explicit_bf16 = torch::linear(x.to(torch::kBFloat16), lin->weight.to(torch::kBFloat16),
                                           lin->bias.to(torch::kBFloat16));
  EXPECT_EQ(lin(x).scalar_type(), torch::kFloat);
  {
    train::AutocastScope on(torch::kCPU, true);
    const auto y = lin(x);
    EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
    EXPECT_TRUE(torch::equal(y, explicit_bf16));
    EXPECT_EQ((x + x).scalar_type(), torch::kFloat);
    {
      train::AutocastScope off(torch::kCPU, false);
      EXPECT_EQ(lin(x).scalar_type(), torch::kFloat);
    }
    EXPECT_EQ(lin(x).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(lin(x).scalar_type(), torch::kFloat);
}

TEST(Precision, Bf16StepTracksFloat32StepVit) {
  auto c = models::model_config("vit_micro_patch4_32", 10);
  c.vit.embed_dim = 64;
  c.vit.depth = 2;
  c.vit.num_heads = 2;
  expect_bf16_step_tracks_fp32(c);
}

TEST(Precision, Bf16StepTracksFloat32StepCnn) {
  auto c = models::model_config("cnn_fast_cifar", 10);
  c.cnn.widths = {8, 16, 12};
  expect_bf16_step_tracks_fp32(c);
}
