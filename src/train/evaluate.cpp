#include "train/evaluate.h"

namespace tinyvit::train {

torch::Tensor tta_logits(models::Classifier& model, const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  auto mirror = [&](const torch::Tensor& v) {
    return 0.5 * (model.forward(v) + model.forward(v.flip({-1})));
  };
  const int64_t h = x.size(-2), w = x.size(-1);
  const auto padded = F::pad(x, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReflect));
  const auto up_left = padded.narrow(-2, 0, h).narrow(-1, 0, w);     // s_{-1}
  const auto down_right = padded.narrow(-2, 2, h).narrow(-1, 2, w);  // s_{+1}
  return 0.5 * mirror(x) + 0.25 * (mirror(up_left) + mirror(down_right));
}

EvalResult evaluate(models::Classifier& model, data::BatchLoader& loader, torch::Device device,
                    bool tta) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  EvalResult r;
  r.num_classes = model.config().num_classes();
  const int K = r.num_classes;
  r.confusion.assign(static_cast<size_t>(K) * K, 0);
  double loss_sum = 0.0;
  int64_t correct = 0;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    auto x = batch->images.to(device);
    auto y = batch->labels.to(device);
    auto logits = tta ? tta_logits(model, x) : model.forward(x);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    auto pred = logits.argmax(1).to(torch::kCPU);
    auto yc = y.to(torch::kCPU);
    correct += pred.eq(yc).sum().item<int64_t>();
    auto p = pred.accessor<int64_t, 1>();
    auto t = yc.accessor<int64_t, 1>();
    for (int64_t i = 0; i < p.size(0); ++i) ++r.confusion[t[i] * K + p[i]];
    r.count += p.size(0);
  }
  if (r.count > 0) {
    r.loss = loss_sum / r.count;
    r.accuracy = static_cast<double>(correct) / r.count;
  }
  model.train(was_training);
  return r;
}

}  // namespace tinyvit::train
