// FastCnn's data-dependent stem: after init_from_data, the 2x2 conv (as LibTorch's conv2d
// computes it, independent of the unfold order init_from_data uses) decorrelates the patches.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/cnn.h"
#include "models/registry.h"

using namespace tinyvit;

TEST(FastCnn, WhiteningStemDecorrelatesPatches) {
  torch::manual_seed(3);
  auto m = models::build_model(models::model_config("cnn_fast_cifar", 10));
  auto* cnn = dynamic_cast<models::FastCnn*>(m.get());
  ASSERT_NE(cnn, nullptr);
  // The pipeline calls init_from_data for the models that say they need it: this one only.
  EXPECT_TRUE(m->needs_data_init());
  for (const char* other : {"resnet18_cifar", "vit_micro_patch4_32"})
    EXPECT_FALSE(models::build_model(models::model_config(other, 10))->needs_data_init()) << other;
  // Correlated "images": neighbouring pixels share noise (2x2 box filter) and channels mix, as in
  // natural images.
  auto x = torch::avg_pool2d(torch::randn({96, 3, 33, 33}), 2, 1);  // (96, 3, 32, 32)
  const auto mix = torch::tensor({1.0f, 0.8f, 0.6f, 0.0f, 0.6f, 0.5f, 0.0f, 0.0f, 0.4f}).view({3, 3});
  x = torch::einsum("oc,nchw->nohw", {mix, x});
  m->init_from_data(x);

  const auto w = cnn->whiten->weight;  // (24, 3, 2, 2)
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{24, 3, 2, 2}));
  // Filters 12..23 are the negations of 0..11 (GELU then sees both signs of every feature).
  EXPECT_TRUE(torch::equal(w.slice(0, 12), -w.slice(0, 0, 12)));

  auto y = torch::conv2d(x.to(torch::kFloat64), w.slice(0, 0, 12).to(torch::kFloat64));
  y = y.permute({0, 2, 3, 1}).reshape({-1, 12});
  y = y - y.mean(0, true);
  const auto cov = y.t().mm(y) / static_cast<double>(y.size(0));
  // Expected: W Sigma W^T = diag(l / (l + eps)), eps = 5e-4, l = eigenvalues of the patch
  // covariance Sigma, computed here through conv2d with 12 one-hot 2x2 filters (not unfold).
  // Tolerance 1e-5: the filters are stored in float32 (~1e-7 relative) and the smallest l is
  // ~5e-3, whose direction the filters amplify ~14x.
  auto onehot = torch::eye(12, torch::kFloat64).view({12, 3, 2, 2});
  auto p = torch::conv2d(x.to(torch::kFloat64), onehot).permute({0, 2, 3, 1}).reshape({-1, 12});
  p = p - p.mean(0, true);
  const auto l = torch::linalg_eigvalsh(p.t().mm(p) / static_cast<double>(p.size(0)), "L");
  const auto expected = l / (l + 5e-4);  // ascending, as l is
  const auto diag = cov.diagonal();
  const auto got = std::get<0>(diag.sort());
  EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5) << got << expected;
  EXPECT_LE(diag.max().item<double>(), 1.0);
  const auto off = cov - torch::diag(diag);
  EXPECT_LT(off.abs().max().item<double>(), 1e-5);

  // A plain random stem does not decorrelate (the test can fail).
  auto fresh = models::build_model(models::model_config("cnn_fast_cifar", 10));
  auto* f = dynamic_cast<models::FastCnn*>(fresh.get());
  auto z = torch::conv2d(x.to(torch::kFloat64), f->whiten->weight.slice(0, 0, 12).to(torch::kFloat64));
  z = z.permute({0, 2, 3, 1}).reshape({-1, 12});
  z = z - z.mean(0, true);
  const auto cz = z.t().mm(z) / static_cast<double>(z.size(0));
  EXPECT_GT((cz - torch::diag(cz.diagonal())).abs().max().item<double>(), 1e-2);
}

TEST(FastCnn, ConfigRoundTripsAndRejectsBadWidths) {
  auto c = models::model_config("cnn_fast_cifar", 7);
  c.cnn.widths = {16, 32, 24};
  c.cnn.logit_scale = 0.25f;
  nlohmann::json j = c;
  const models::ModelConfig back = j.get<models::ModelConfig>();
  EXPECT_EQ(back.family, "cnn");
  EXPECT_EQ(back.cnn.widths, (std::vector<int>{16, 32, 24}));
  EXPECT_EQ(back.num_classes(), 7);
  EXPECT_FLOAT_EQ(back.cnn.logit_scale, 0.25f);
  c.cnn.widths = {16, 32};
  EXPECT_THROW(models::validate(c), std::exception);
  c = models::model_config("cnn_fast_cifar", 7);
  c.cnn.img_size = 8;  // 7 px after the stem: the third pool would leave nothing
  EXPECT_THROW(models::validate(c), std::exception);
}

// airbench's initialisation: the first min(in, out) filters of every 3x3 conv are identities,
// so conv1 passes its input through on those channels (checked with LibTorch's conv2d on
// random input), and the BatchNorm scales are fixed at 1 (not trained).
TEST(FastCnn, ConvsStartAsIdentitiesAndNormScalesAreFrozen) {
  torch::manual_seed(0);
  auto c = models::model_config("cnn_fast_cifar", 10);
  c.cnn.widths = {8, 16, 12};
  models::FastCnn net(c);
  int in = c.cnn.whiten_width;
  for (size_t i = 0; i < net.blocks->size(); ++i) {
    auto b = net.blocks[i]->as<models::FastCnnBlock>();
    const int out = c.cnn.widths[i];
    for (auto [conv, cin] : {std::pair{b->conv1, in}, std::pair{b->conv2, out}}) {
      const auto x = torch::randn({2, cin, 5, 5});
      const auto y = torch::conv2d(x, conv->weight, {}, 1, 1);
      const int keep = std::min(cin, out);
      EXPECT_TRUE(torch::allclose(y.narrow(1, 0, keep), x.narrow(1, 0, keep)));
      if (out > cin) {  // the other filters keep their random init
        EXPECT_GT(y.narrow(1, keep, out - keep).abs().max().item<float>(), 1e-3);
      }
    }
    for (auto* bn : {&b->norm1, &b->norm2}) {
      EXPECT_FALSE((*bn)->weight.requires_grad());
      EXPECT_TRUE((*bn)->bias.requires_grad());
      EXPECT_TRUE(torch::equal((*bn)->weight, torch::ones({out})));
    }
    in = out;
  }
}
