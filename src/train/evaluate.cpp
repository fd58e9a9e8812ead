#include "train/evaluate.h"

namespace tinyvit::train {

EvalResult evaluate(models::Classifier& model, data::BatchLoader& loader, torch::Device device) {
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
    auto logits = model.forward(x);
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
