#include "train/lookahead.h"

#include <cmath>
#include <string>

#include "common/error.h"

namespace tinyvit::train {

Lookahead::Lookahead(int64_t start_step, int64_t total_steps, int every, double base, double power)
    : start_(start_step), total_(std::max<int64_t>(1, total_steps)), every_(every), base_(base),
      power_(power) {}

std::vector<torch::Tensor> Lookahead::tracked(torch::nn::Module& model) {
  std::vector<torch::Tensor> out;
  for (auto& p : model.parameters()) out.push_back(p);
  for (auto& b : model.buffers())
    if (b.is_floating_point()) out.push_back(b);
  return out;
}

double Lookahead::rho(int64_t step) const {
  return std::pow(base_, every_) * std::pow(static_cast<double>(step) / total_, power_);
}

void Lookahead::after_step(torch::nn::Module& model, int64_t step) {
  if (step < start_ || step % every_ != 0) return;
  torch::NoGradGuard g;
  auto fast = tracked(model);
  if (slow_.empty()) {
    for (auto& t : fast) slow_.push_back(t.detach().clone());
    return;
  }
  const double r = rho(step);
  for (size_t i = 0; i < fast.size(); ++i) {
    slow_[i].lerp_(fast[i].detach(), 1.0 - r);
    fast[i].copy_(slow_[i]);
  }
}

void Lookahead::sync(torch::nn::Module& model) {
  if (slow_.empty()) return;
  torch::NoGradGuard g;
  auto fast = tracked(model);
  for (size_t i = 0; i < fast.size(); ++i) fast[i].copy_(slow_[i]);
}

void Lookahead::save(torch::serialize::OutputArchive& ar) const {
  ar.write("count", c10::IValue(static_cast<int64_t>(slow_.size())));
  for (size_t i = 0; i < slow_.size(); ++i) ar.write("t" + std::to_string(i), slow_[i].cpu());
}

void Lookahead::load(torch::serialize::InputArchive& ar, torch::nn::Module& model) {
  c10::IValue v;
  ar.read("count", v);
  auto fast = tracked(model);
  const int64_t n = v.toInt();
  if (n == 0) {
    slow_.clear();
    return;
  }
  if (n != static_cast<int64_t>(fast.size()))
    throw Error("checkpoint's lookahead state has " + std::to_string(n) + " tensors, the model " +
                std::to_string(fast.size()));
  slow_.clear();
  for (int64_t i = 0; i < n; ++i) {
    torch::Tensor t;
    ar.read("t" + std::to_string(i), t);
    if (!t.sizes().equals(fast[i].sizes()))
      throw Error("checkpoint's lookahead tensor " + std::to_string(i) + " has the wrong shape");
    slow_.push_back(t.to(fast[i].device()).contiguous(fast[i].suggest_memory_format()));
  }
}

}  // namespace tinyvit::train
