// Schedule and losses against hand-computed values and LibTorch's own functional losses.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "train/losses.h"
#include "train/schedule.h"

using namespace tinyvit::train;
namespace F = torch::nn::functional;

TEST(Schedule, WarmupThenCosine) {
  LrSchedule s{1.0, 0.0, 4, 14};
  EXPECT_DOUBLE_EQ(s.at(0), 0.25);  // (0+1)/4
  EXPECT_DOUBLE_EQ(s.at(3), 1.0);
  EXPECT_DOUBLE_EQ(s.at(4), 1.0);   // cos(0)
  EXPECT_NEAR(s.at(9), 0.5, 1e-12); // halfway through the 10 cosine steps
  EXPECT_NEAR(s.at(14), 0.0, 1e-12);
  LrSchedule f{0.1, 0.01, 0, 10};
  EXPECT_NEAR(f.at(5), 0.01 + 0.09 * 0.5, 1e-12);
}

// Triangular: 0.2 * base at step 0, base at the warmup end, min at the last step (values
// by hand for base 2, min 0.1, W = 4, T = 14).
TEST(Schedule, TriangularRisesFromAFifthThenFallsLinearly) {
  LrSchedule s{2.0, 0.1, 4, 14, "triangular"};
  EXPECT_DOUBLE_EQ(s.at(0), 0.4);            // 0.2 * 2
  EXPECT_NEAR(s.at(2), 1.2, 1e-12);          // 2 * (0.2 + 0.8 * 2/4)
  EXPECT_DOUBLE_EQ(s.at(4), 2.0);
  EXPECT_NEAR(s.at(9), 1.05, 1e-12);         // halfway from 2 to 0.1
  EXPECT_NEAR(s.at(14), 0.1, 1e-12);
  EXPECT_NEAR(s.at(20), 0.1, 1e-12);         // clamped past the end
}

// Smoothed CE by hand: -sum_k ((1-e) onehot_k + e/K) log p_k.
TEST(Losses, LabelSmoothingMatchesFormula) {
  torch::manual_seed(0);
  auto logits = torch::randn({5, 4}, torch::kDouble);
  auto y = torch::tensor({0, 3, 1, 1, 2}, torch::kLong);
  const double e = 0.1;
  auto logp = torch::log_softmax(logits, 1);
  auto target = F::one_hot(y, 4).to(torch::kDouble) * (1 - e) + e / 4;
  auto expect = -(target * logp).sum(1).mean();
  EXPECT_NEAR(cross_entropy(logits, y, e).item<double>(), expect.item<double>(), 1e-12);
}

// Our KD term vs LibTorch's kl_div (batchmean) times T^2; tolerance 1e-12 in double.
TEST(Losses, KdMatchesLibTorchKlDiv) {
  torch::manual_seed(1);
  auto s = torch::randn({6, 10}, torch::kDouble), t = torch::randn({6, 10}, torch::kDouble);
  const double T = 4.0;
  auto ref = F::kl_div(torch::log_softmax(s / T, 1), torch::softmax(t / T, 1),
                       F::KLDivFuncOptions().reduction(torch::kBatchMean)) *
             (T * T);
  EXPECT_NEAR(kd_kl(s, t, T).item<double>(), ref.item<double>(), 1e-12);
  EXPECT_NEAR(kd_kl(t, t, T).item<double>(), 0.0, 1e-12);  // identical outputs: no loss
}

TEST(Losses, DistillMixesTermsWithAlpha) {
  torch::manual_seed(2);
  auto s = torch::randn({3, 5}, torch::kDouble), t = torch::randn({3, 5}, torch::kDouble);
  auto y = torch::tensor({1, 4, 0}, torch::kLong);
  DistillLossOptions o;
  o.alpha = 0.3;
  o.temperature = 2.0;
  o.label_smoothing = 0.0;
  auto got = distill_loss(s, {}, t, y, {}, o).item<double>();
  auto expect = 0.3 * kd_kl(s, t, 2.0).item<double>() + 0.7 * F::cross_entropy(s, y).item<double>();
  EXPECT_NEAR(got, expect, 1e-12);
  // Hard (DeiT): 0.5 CE(cls, y) + 0.5 CE(dist, argmax teacher).
  o.hard = true;
  auto d = torch::randn({3, 5}, torch::kDouble);
  auto hard = distill_loss(s, d, t, y, {}, o).item<double>();
  auto hexp = 0.5 * F::cross_entropy(s, y).item<double>() +
              0.5 * F::cross_entropy(d, t.argmax(1)).item<double>();
  EXPECT_NEAR(hard, hexp, 1e-12);
}

TEST(Losses, SoftTargetsEqualHardOnOneHot) {
  torch::manual_seed(3);
  auto logits = torch::randn({4, 6}, torch::kDouble);
  auto y = torch::tensor({5, 0, 2, 2}, torch::kLong);
  auto soft = F::one_hot(y, 6).to(torch::kDouble);
  EXPECT_NEAR(soft_cross_entropy(logits, soft).item<double>(),
              F::cross_entropy(logits, y).item<double>(), 1e-12);
}
