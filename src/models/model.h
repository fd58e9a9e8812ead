#pragma once
// Common interface of every classifier the toolkit trains, exports and prunes.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "models/config.h"

namespace tinyvit::models {

class Classifier : public torch::nn::Module {
 public:
  // x: (B, 3, S, S) float32, normalized -> logits (B, classes).
  // A ViT with a distillation token returns (head(cls) + head_dist(dist)) / 2 here.
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // Training with a distillation token: {logits of head(cls), logits of head_dist(dist)}.
  // Models without one return {forward(x), undefined}.
  virtual std::pair<torch::Tensor, torch::Tensor> forward_train(torch::Tensor x) {
    return {forward(x), torch::Tensor()};
  }
  virtual const ModelConfig& config() const = 0;
  // Data-dependent initialisation before training from scratch (the cnn family's whitening
  // stem); images (N, 3, S, S) normalized. needs_data_init() tells whether a model has one;
  // the others ignore the call.
  virtual bool needs_data_init() const { return false; }
  virtual void init_from_data(const torch::Tensor& /*images*/) {}
};

using ClassifierPtr = std::shared_ptr<Classifier>;

// Builds the (randomly initialised, seeded by the caller via torch::manual_seed) model.
ClassifierPtr build_model(const ModelConfig& config);

}  // namespace tinyvit::models
