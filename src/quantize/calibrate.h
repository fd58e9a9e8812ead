#pragma once
// Calibration: statistics of every activation the int8 graph quantizes, collected from float
// forward passes of the simulated-quantization model (quant_sim.h), turned into int8 ranges by
// one of three methods, chosen globally or per tensor:
//   minmax      [min, max] over all calibration values
//   percentile  [q(1 - p), q(p)] of the values (p = 99.99% by default): clips rare outliers
//   mse         the clipping range [a lo', b hi'] (lo', hi' = the min-max range) minimising the
//               mean squared error between the values and their int8 fake-quantized copies;
//               searched on a grid of a = b first, then b and a separately
#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tinyvit::quantize {

enum class CalibMethod { kMinMax, kPercentile, kMse };
CalibMethod parse_calib_method(const std::string& name);  // minmax | percentile | mse
const char* calib_method_name(CalibMethod m);

// Per-tensor statistics: exact min/max, plus a seeded random sample of the values (at most
// `per_call` values from each observed batch) for the percentile and MSE methods.
class RangeObserver {
 public:
  explicit RangeObserver(int64_t per_call = 8192, uint64_t seed = 0);
  void observe(const std::string& name, const torch::Tensor& x);
  bool has(const std::string& name) const { return stats_.count(name) != 0; }
  std::vector<std::string> names() const;
  // The calibrated [lo, hi] of `name` (throws tinyvit::Error if never observed).
  std::pair<double, double> range(const std::string& name, CalibMethod method,
                                  double percentile = 99.99) const;
  double min(const std::string& name) const;
  double max(const std::string& name) const;

 private:
  struct Stats {
    double min = 0, max = 0;
    std::vector<torch::Tensor> samples;  // float32 1-D chunks
  };
  const Stats& stats(const std::string& name) const;
  int64_t per_call_;
  torch::Generator gen_;
  std::map<std::string, Stats> stats_;
};

// The MSE-optimal clipping range of `values` (1-D float32) inside [lo, hi].
std::pair<double, double> mse_range(const torch::Tensor& values, double lo, double hi);

}  // namespace tinyvit::quantize
