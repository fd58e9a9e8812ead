#include "models/cnn.h"

#include "common/error.h"

namespace tinyvit::models {
namespace {

// 3x3 conv whose first min(in, out) filters start as identities (dirac): each block begins
// close to a pass-through of its input, an implicit residual (airbench).
torch::nn::Conv2d conv3x3(int in, int out) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
  torch::NoGradGuard g;
  torch::nn::init::dirac_(conv->weight.narrow(0, 0, std::min(in, out)));
  return conv;
}

// BatchNorm with its scale fixed at 1 (only the shift is trained; the next conv absorbs any
// scale) and fast running statistics: running = 0.6 * running + 0.4 * batch.
torch::nn::BatchNorm2d batch_norm(int channels) {
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(channels).momentum(0.4));
  bn->weight.requires_grad_(false);
  return bn;
}

}  // namespace

FastCnnBlockImpl::FastCnnBlockImpl(int in, int out) {
  conv1 = register_module("conv1", conv3x3(in, out));
  norm1 = register_module("norm1", batch_norm(out));
  conv2 = register_module("conv2", conv3x3(out, out));
  norm2 = register_module("norm2", batch_norm(out));
}

torch::Tensor FastCnnBlockImpl::forward(const torch::Tensor& x) {
  auto y = torch::gelu(norm1(torch::max_pool2d(conv1(x), 2)));  // (B, out, H/2, W/2)
  return torch::gelu(norm2(conv2(y)));
}

PatchWhitenImpl::PatchWhitenImpl(int in_chans, int width) {
  // Until init_from_data: a seeded random init, so the model is usable (tests, smoke runs).
  weight = register_buffer("weight", torch::randn({width, in_chans, 2, 2}) * 0.5);
  bias = register_parameter("bias", torch::zeros({width}));
}

torch::Tensor PatchWhitenImpl::forward(const torch::Tensor& x) {
  return torch::conv2d(x, weight, bias);  // (B, width, S-1, S-1)
}

FastCnn::FastCnn(ModelConfig config) : config_(std::move(config)) {
  validate(config_);
  const CnnConfig& c = config_.cnn;
  whiten = register_module("whiten", PatchWhiten(c.in_chans, c.whiten_width));
  blocks = register_module("blocks", torch::nn::ModuleList());
  int in = c.whiten_width;
  for (int w : c.widths) {
    blocks->push_back(FastCnnBlock(in, w));
    in = w;
  }
  head = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(in, c.num_classes).bias(false)));
}

torch::Tensor FastCnn::forward(torch::Tensor x) {
  x = torch::gelu(whiten(x));
  for (const auto& b : *blocks) x = b->as<FastCnnBlock>()->forward(x);
  x = std::get<0>(x.flatten(2).max(2));  // global max pool: (B, C)
  return head(x) * config_.cnn.logit_scale;
}

void FastCnn::init_from_data(const torch::Tensor& images) {
  const int C = config_.cnn.in_chans;
  TORCH_CHECK(images.dim() == 4 && images.size(1) == C, "whitening: images must be (N, ", C,
              ", H, W)");
  torch::NoGradGuard g;
  // (N, C, H-1, W-1, 2, 2) -> rows of 4C values ordered (c, kh, kw), as a conv weight is.
  auto p = images.to(torch::kFloat64).unfold(2, 2, 1).unfold(3, 2, 1);
  p = p.permute({0, 2, 3, 1, 4, 5}).reshape({-1, C * 4});
  p = p - p.mean(0, true);
  const auto cov = p.t().mm(p) / static_cast<double>(p.size(0));
  const auto eig = torch::linalg_eigh(cov, "L");
  const auto& evals = std::get<0>(eig);   // (4C,), ascending
  const auto& evecs = std::get<1>(eig);   // (4C, 4C), columns
  auto w = (evecs / torch::sqrt(evals + 5e-4)).t().reshape({C * 4, C, 2, 2});
  whiten->weight.copy_(torch::cat({w, -w}).to(torch::kFloat32));
}

}  // namespace tinyvit::models
