#include "quantize/calibrate.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "export/quant_params.h"

namespace tinyvit::quantize {

CalibMethod parse_calib_method(const std::string& name) {
  if (name == "minmax") return CalibMethod::kMinMax;
  if (name == "percentile") return CalibMethod::kPercentile;
  if (name == "mse") return CalibMethod::kMse;
  throw Error("quantize: unknown calibration method '" + name +
              "' (expected minmax, percentile or mse)");
}

const char* calib_method_name(CalibMethod m) {
  switch (m) {
    case CalibMethod::kMinMax: return "minmax";
    case CalibMethod::kPercentile: return "percentile";
    case CalibMethod::kMse: return "mse";
  }
  return "?";
}

RangeObserver::RangeObserver(int64_t per_call, uint64_t seed)
    : per_call_(per_call), gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

void RangeObserver::observe(const std::string& name, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  auto flat = x.detach().to(torch::kCPU, torch::kFloat32).reshape({-1});
  if (flat.numel() == 0) return;
  if (!torch::isfinite(flat).all().item<bool>())
    throw Error("quantize: calibration saw non-finite values in '" + name + "'");
  const double lo = flat.min().item<double>(), hi = flat.max().item<double>();
  auto it = stats_.find(name);
  if (it == stats_.end()) {
    it = stats_.emplace(name, Stats{}).first;
    it->second.min = lo;
    it->second.max = hi;
  } else {
    it->second.min = std::min(it->second.min, lo);
    it->second.max = std::max(it->second.max, hi);
  }
  if (flat.numel() > per_call_) {
    auto idx = torch::randperm(flat.numel(), gen_, torch::TensorOptions().dtype(torch::kLong))
                   .slice(0, 0, per_call_);
    flat = flat.index_select(0, idx);
  }
  it->second.samples.push_back(flat.clone());
}

std::vector<std::string> RangeObserver::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : stats_) out.push_back(k);
  return out;
}

const RangeObserver::Stats& RangeObserver::stats(const std::string& name) const {
  auto it = stats_.find(name);
  if (it == stats_.end())
    throw Error("quantize: tensor '" + name + "' was never observed during calibration");
  return it->second;
}

double RangeObserver::min(const std::string& name) const { return stats(name).min; }
double RangeObserver::max(const std::string& name) const { return stats(name).max; }

std::pair<double, double> mse_range(const torch::Tensor& v, double lo, double hi) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  auto err = [&](double a, double b) {
    const auto p = exporter::int8_params(a, b);
    return (exporter::fake_quant(v, p) - v).pow(2).mean().item<double>();
  };
  double best_lo = lo, best_hi = hi, best = err(lo, hi);
  auto try_range = [&](double a, double b) {
    const double e = err(a, b);
    if (e < best) {
      best = e;
      best_lo = a;
      best_hi = b;
    }
  };
  // 1) shrink both ends together; 2) refine the upper end, 3) then the lower end.
  for (int i = 1; i < 80; ++i) {
    const double f = 1.0 - i / 100.0;
    try_range(lo * f, hi * f);
  }
  const double l0 = best_lo, h0 = best_hi;
  for (int i = -20; i <= 20; ++i) try_range(l0, h0 * (1.0 + i / 100.0));
  const double h1 = best_hi;
  for (int i = -20; i <= 20; ++i) try_range(l0 * (1.0 + i / 100.0), h1);
  return {std::max(best_lo, lo), std::min(best_hi, hi)};
}

std::pair<double, double> RangeObserver::range(const std::string& name, CalibMethod method,
                                               double percentile) const {
  const Stats& s = stats(name);
  if (method == CalibMethod::kMinMax) return {s.min, s.max};
  torch::NoGradGuard no_grad;
  auto v = torch::cat(s.samples);
  if (method == CalibMethod::kPercentile) {
    if (!(percentile > 50 && percentile <= 100))
      throw Error("quantize: percentile must be in (50, 100]");
    auto sorted = std::get<0>(v.sort());
    const int64_t n = sorted.numel();
    const double frac = percentile / 100.0;
    const auto hi_i = std::min<int64_t>(n - 1, static_cast<int64_t>(std::ceil(frac * (n - 1))));
    const auto lo_i = std::max<int64_t>(0, static_cast<int64_t>(std::floor((1 - frac) * (n - 1))));
    // never wider than the exact min/max
    return {std::max(s.min, sorted[lo_i].item<double>()),
            std::min(s.max, sorted[hi_i].item<double>())};
  }
  return mse_range(v, s.min, s.max);
}

}  // namespace tinyvit::quantize
