#include "quantize/qat.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <utility>

#include "common/error.h"
#include "quantize/quantize.h"

namespace tinyvit::quantize {
namespace {

// Per image: zero-pad by `pad` and crop back at a random offset, then flip horizontally with
// p = 0.5 (the training augmentation, on [0, 1] pixels). x: (B, C, S, S).
torch::Tensor augment(const torch::Tensor& x, int64_t pad, at::Generator& gen) {
  const int64_t B = x.size(0), S = x.size(3);
  auto padded = torch::constant_pad_nd(x, {pad, pad, pad, pad}, 0.0);
  auto off = torch::randint(0, 2 * pad + 1, {B, 2}, gen, torch::TensorOptions().dtype(torch::kLong));
  auto flip = torch::rand({B}, gen) < 0.5;
  std::vector<torch::Tensor> out;
  out.reserve(B);
  for (int64_t b = 0; b < B; ++b) {
    auto img = padded[b]
                   .narrow(1, off[b][0].item<int64_t>(), S)
                   .narrow(2, off[b][1].item<int64_t>(), S);
    out.push_back(flip[b].item<bool>() ? img.flip({2}) : img);
  }
  return torch::stack(out);
}

}  // namespace

QatResult qat_finetune(QuantSim& sim, const torch::Tensor& pixels, const torch::Tensor& labels,
                       const QatOptions& o) {
  if (sim.table.empty()) throw Error("qat: calibrate the simulator first (empty table)");
  if (pixels.size(0) != labels.size(0)) throw Error("qat: pixels and labels differ in count");
  if (o.steps < 0 || o.batch_size < 1) throw Error("qat: steps must be >= 0, batch size >= 1");
  // With augmentation the targets are computed per batch by the float model = the folded
  // weights before fine-tuning, kept aside; without, once for every image.
  exporter::ParamMap frozen;
  if (o.augment)
    for (const auto& [name, t] : sim.params()) frozen[name] = t.detach().clone();
  auto float_logits = [&](const torch::Tensor& x) {
    torch::NoGradGuard ng;
    std::swap(sim.params(), frozen);
    const auto saved = std::exchange(sim.mode, SimMode::kFloat);
    const bool saved_ste = std::exchange(sim.ste, false);
    auto y = sim.forward(x);
    sim.mode = saved;
    sim.ste = saved_ste;
    std::swap(sim.params(), frozen);
    return y;
  };
  torch::Tensor fixed_targets;
  if (!o.augment) fixed_targets = sim_logits(sim, pixels, SimMode::kFloat);

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
    // lr: constant, or cosine from lr to 0 over the steps
    const double lr =
        o.cosine ? o.lr * 0.5 * (1.0 + std::cos(M_PI * step / std::max(1, o.steps))) : o.lr;
    for (auto& g : opt.param_groups())
      g.options().set_lr(lr);
    auto idx = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong))
                   .slice(0, 0, std::min(n, o.batch_size));
    auto x = pixels.index_select(0, idx);
    auto y = labels.index_select(0, idx);
    torch::Tensor t;
    if (o.augment) {
      x = augment(x, 4, gen);
      t = float_logits(x);
    } else {
      t = fixed_targets.index_select(0, idx);
    }
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
