#include "quantize/qat.h"

#include "common/error.h"
#include "quantize/quantize.h"

namespace tinyvit::quantize {

QatResult qat_finetune(QuantSim& sim, const torch::Tensor& pixels, const torch::Tensor& labels,
                       const QatOptions& o) {
  if (sim.table.empty()) throw Error("qat: calibrate the simulator first (empty table)");
  if (pixels.size(0) != labels.size(0)) throw Error("qat: pixels and labels differ in count");
  const auto teacher = sim_logits(sim, pixels, SimMode::kFloat);  // fixed float targets
  std::vector<torch::Tensor> trainable;
  for (auto& [name, t] : sim.params()) {
    if (t.dim() == 0) continue;
    t = t.detach().clone().set_requires_grad(true);
    trainable.push_back(t);
  }
  torch::optim::AdamW opt(trainable, torch::optim::AdamWOptions(o.lr).weight_decay(0.0));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const int64_t n = pixels.size(0);
  const double T = o.temperature;
  sim.mode = SimMode::kQuant;
  sim.ste = true;
  QatResult r;
  for (int step = 0; step < o.steps; ++step) {
    auto idx = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong))
                   .slice(0, 0, std::min(n, o.batch_size));
    auto x = pixels.index_select(0, idx);
    auto y = labels.index_select(0, idx);
    auto t = teacher.index_select(0, idx);
    auto s = sim.forward(x);
    auto kd = torch::kl_div(torch::log_softmax(s / T, 1), torch::log_softmax(t / T, 1),
                            at::Reduction::Mean, /*log_target=*/true) * s.size(1);
    auto loss = o.alpha * T * T * kd + (1 - o.alpha) * torch::cross_entropy_loss(s, y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    r.losses.push_back(loss.item<double>());
    if (o.on_step) o.on_step(step + 1, r.losses.back());
  }
  sim.ste = false;
  sim.mode = SimMode::kFloat;
  for (auto& [name, t] : sim.params()) t = t.detach();
  return r;
}

}  // namespace tinyvit::quantize
