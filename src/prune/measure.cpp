#include "prune/measure.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "models/info.h"

namespace tinyvit::prune {

ModelCost model_cost(models::Classifier& model, int latency_runs) {
  ModelCost c;
  const auto info = models::model_info(model.config());
  c.params = info.params;
  c.macs = info.macs;
  for (const auto& p : model.parameters())
    c.int8_weight_bytes += p.dim() >= 2 ? p.numel() : 4 * p.numel();
  if (latency_runs > 0) {
    const bool was_training = model.is_training();
    model.eval();
    torch::NoGradGuard g;
    const int s = model.config().img_size();
    torch::manual_seed(0);
    auto x = torch::randn({1, 3, s, s});
    for (int i = 0; i < 3; ++i) model.forward(x);
    std::vector<double> ms;
    for (int i = 0; i < latency_runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      model.forward(x);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    c.latency_ms = ms[ms.size() / 2];
    c.latency_min_ms = ms.front();
    model.train(was_training);
  }
  return c;
}

std::string format_cost(const ModelCost& c) {
  std::string s = fmt::format("{:.3f} M params, {:.2f} M MACs, {:.1f} KiB int8 weights",
                              c.params / 1e6, c.macs / 1e6, c.int8_weight_bytes / 1024.0);
  if (c.latency_ms > 0)
    s += fmt::format(", {:.2f} ms median / {:.2f} ms min (LibTorch, batch 1)", c.latency_ms,
                     c.latency_min_ms);
  return s;
}

}  // namespace tinyvit::prune
