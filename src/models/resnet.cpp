#include "models/resnet.h"

#include <cmath>

namespace tinyvit::models {
namespace {

torch::nn::Conv2d conv(int in, int out, int k, int stride, int pad) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

}  // namespace

ResNetBasicBlockImpl::ResNetBasicBlockImpl(int in_planes, int planes, int stride) {
  conv1 = register_module("conv1", conv(in_planes, planes, 3, stride, 1));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  if (stride != 1 || in_planes != planes) {
    downsample = register_module(
        "downsample",
        torch::nn::Sequential(conv(in_planes, planes, 1, stride, 0), torch::nn::BatchNorm2d(planes)));
  }
}

torch::Tensor ResNetBasicBlockImpl::forward(const torch::Tensor& x) {
  // In-place ReLU and residual add, as torchvision (inplace=True): fewer temporaries, faster
  // training on CPU (bench_train).
  auto y = bn1(conv1(x)).relu_();
  y = bn2(conv2(y));
  y += downsample ? downsample->forward(x) : x;
  return y.relu_();
}

ResNet::ResNet(ModelConfig config) : config_(std::move(config)) {
  validate(config_);
  const ResNetConfig& c = config_.resnet;
  const bool imagenet = c.stem == "imagenet";
  conv1 = register_module("conv1", imagenet ? conv(c.in_chans, c.width, 7, 2, 3)
                                            : conv(c.in_chans, c.width, 3, 1, 1));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(c.width));
  int in = c.width;
  torch::nn::Sequential* layers[4] = {&layer1, &layer2, &layer3, &layer4};
  for (int s = 0; s < 4; ++s) {
    const int planes = c.width << s;
    torch::nn::Sequential seq;
    for (int b = 0; b < c.layers[s]; ++b) {
      seq->push_back(ResNetBasicBlock(in, planes, (b == 0 && s > 0) ? 2 : 1));
      in = planes;
    }
    *layers[s] = register_module("layer" + std::to_string(s + 1), seq);
  }
  fc = register_module("fc", torch::nn::Linear(in, c.num_classes));

  // torchvision's init: kaiming_normal (fan_out, relu) for convs, BN weight 1 / bias 0.
  torch::NoGradGuard g;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* cv = m->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(cv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    }
  }
}

torch::Tensor ResNet::forward(torch::Tensor x) {
  x = bn1(conv1(x)).relu_();
  if (config_.resnet.stem == "imagenet") x = torch::max_pool2d(x, 3, 2, 1);
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);  // (B, 8*width)
  return fc(x);
}

}  // namespace tinyvit::models
