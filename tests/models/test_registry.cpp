// Every registered config (and a pruned-shape ViT) is built and checked automatically:
// output shape, finite loss, every parameter receives a gradient; info() counts match LibTorch.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"
#include "models/info.h"
#include "models/model.h"
#include "models/registry.h"

using namespace tinyvit;

namespace {

void check_trainable(const models::ModelConfig& c, int batch) {
  torch::manual_seed(0);
  auto m = models::build_model(c);
  m->train();
  const int s = c.img_size();
  auto x = torch::randn({batch, 3, s, s});
  auto [cls, dist] = m->forward_train(x);
  ASSERT_EQ(cls.sizes(), (std::vector<int64_t>{batch, c.num_classes()}));
  auto y = torch::arange(batch) % c.num_classes();
  auto loss = torch::nn::functional::cross_entropy(cls, y);
  if (dist.defined()) loss = loss + torch::nn::functional::cross_entropy(dist, y);
  ASSERT_TRUE(std::isfinite(loss.item<double>())) << c.name;
  loss.backward();
  for (const auto& p : m->named_parameters()) {
    if (!p.value().requires_grad()) continue;  // frozen by design (cnn: BatchNorm scales)
    ASSERT_TRUE(p.value().grad().defined()) << c.name << ": no gradient for " << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0)
        << c.name << ": zero gradient for " << p.key();
  }
  // Analytic parameter count (models/info.cpp) equals LibTorch's.
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  EXPECT_EQ(models::model_info(c).params, n) << c.name;
}

}  // namespace

TEST(Registry, EveryRegisteredConfigTrains) {
  for (const auto& name : models::registered_model_names()) {
    SCOPED_TRACE(name);
    auto c = models::model_config(name, 10);
    // The 224-px configs are checked at batch 1 to keep the test fast.
    check_trainable(c, c.img_size() >= 224 ? 1 : 2);
  }
}

TEST(Registry, DistillTokenAndPerBlockWidths) {
  auto c = models::model_config("vit_micro_patch4_32", 7);
  c.vit.distill_token = true;
  c.vit.block_heads = {4, 2, 1, 3, 4, 4};
  c.vit.block_mlp = {256, 64, 128, 8, 256, 32};
  check_trainable(c, 2);
}

TEST(Registry, UnknownNameListsKnownOnes) {
  try {
    models::model_config("vit_huge");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vit_micro_patch4_32"), std::string::npos);
  }
}

TEST(Registry, InvalidConfigsAreRejected) {
  auto c = models::model_config("vit_tiny_patch4_32");
  c.vit.patch_size = 5;
  EXPECT_THROW(models::validate(c), Error);
  c = models::model_config("vit_tiny_patch4_32");
  c.vit.block_heads = {3, 3};
  EXPECT_THROW(models::validate(c), Error);
  c = models::model_config("resnet18_cifar");
  c.resnet.stem = "mnist";
  EXPECT_THROW(models::validate(c), Error);
}

TEST(Registry, VitTinyHasTimmParameterCount) {
  // timm vit_tiny_patch16_224 with a 1000-class head has 5,717,416 parameters.
  auto c = models::model_config("vit_tiny_patch16_224", 1000);
  EXPECT_EQ(models::model_info(c).params, 5717416);
  // torchvision resnet18 (1000 classes) has 11,689,512 parameters.
  EXPECT_EQ(models::model_info(models::model_config("resnet18", 1000)).params, 11689512);
}
