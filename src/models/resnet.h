#pragma once
// ResNet with BasicBlocks (torchvision resnet18 layout and parameter names).
#include <torch/torch.h>

#include "models/model.h"

namespace tinyvit::models {

// y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); shortcut = downsample (1x1 conv, bn)
// when the stride or the width changes, identity otherwise.
class ResNetBasicBlockImpl : public torch::nn::Module {
 public:
  ResNetBasicBlockImpl(int in_planes, int planes, int stride);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(ResNetBasicBlock);

class ResNet : public Classifier {
 public:
  explicit ResNet(ModelConfig config);
  torch::Tensor forward(torch::Tensor x) override;
  const ModelConfig& config() const override { return config_; }

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  ModelConfig config_;
};

}  // namespace tinyvit::models
