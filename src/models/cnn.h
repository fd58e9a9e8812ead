#pragma once
// FastCnn: the "cnn" family (models/config.h, CnnConfig), a CNN teacher built for few-epoch
// training: a frozen patch-whitening stem and three conv blocks (airbench94's layout).
#include <torch/torch.h>

#include "models/model.h"

namespace tinyvit::models {

// conv1 (3x3) -> max pool 2 -> norm1 -> GELU -> conv2 (3x3) -> norm2 -> GELU
class FastCnnBlockImpl : public torch::nn::Module {
 public:
  FastCnnBlockImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d norm1{nullptr}, norm2{nullptr};
};
TORCH_MODULE(FastCnnBlock);

// The whitening stem: y = conv2d(x, weight, bias), 2x2 kernel, no padding. `weight` is a
// buffer (set by init_from_data, saved in checkpoints, never trained); `bias` is trained.
class PatchWhitenImpl : public torch::nn::Module {
 public:
  PatchWhitenImpl(int in_chans, int width);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
};
TORCH_MODULE(PatchWhiten);

class FastCnn : public Classifier {
 public:
  explicit FastCnn(ModelConfig config);
  torch::Tensor forward(torch::Tensor x) override;
  const ModelConfig& config() const override { return config_; }
  // Whitening filters from the 2x2 patches of `images` (N, C, S, S), normalized:
  //   Sigma = cov(patches) (4C x 4C) = V diag(l) V^T,  w_k = v_k / sqrt(l_k + eps)
  // The stem holds [w; -w] (8C filters), so after it the patch features are decorrelated with
  // unit variance and GELU sees both signs. eps = 5e-4 keeps near-null directions bounded.
  bool needs_data_init() const override { return true; }
  void init_from_data(const torch::Tensor& images) override;

  PatchWhiten whiten{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  ModelConfig config_;
};

}  // namespace tinyvit::models
