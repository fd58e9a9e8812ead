#pragma once
// Lookahead with a slow exponential average of the weights (hlb-cifar10 / airbench94). After
// optimizer step n (n >= start, n % every == 0), over every floating-point parameter and
// buffer (BatchNorm running statistics included):
//   slow <- rho_n * slow + (1 - rho_n) * fast,   fast <- slow,
//   rho_n = base^every * (n / total)^power
// so early on the weights follow the optimizer (rho ~ 0) and at the end each sync keeps
// base^every = 0.77 of the average. The first qualifying step only takes the snapshot.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace tinyvit::train {

class Lookahead {
 public:
  Lookahead(int64_t start_step, int64_t total_steps, int every = 5, double base = 0.95,
            double power = 3.0);

  // Call after each optimizer step with the number of steps done so far.
  void after_step(torch::nn::Module& model, int64_t step);
  // fast <- slow (no-op before the snapshot). Called at the end of every epoch.
  void sync(torch::nn::Module& model);
  bool started() const { return !slow_.empty(); }
  double rho(int64_t step) const;

  void save(torch::serialize::OutputArchive& ar) const;
  // Restores a saved state onto the devices of `model`'s tensors.
  void load(torch::serialize::InputArchive& ar, torch::nn::Module& model);

 private:
  static std::vector<torch::Tensor> tracked(torch::nn::Module& model);
  int64_t start_, total_;
  int every_;
  double base_, power_;
  std::vector<torch::Tensor> slow_;  // same order as tracked(model)
};

}  // namespace tinyvit::train
