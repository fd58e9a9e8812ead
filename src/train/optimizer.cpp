#include "train/optimizer.h"

#include <functional>

#include "common/error.h"

namespace tinyvit::train {
namespace {

// Weight decay applies to weight matrices / kernels only: not to 1-D parameters (norm scales,
// biases) nor to cls/dist tokens and pos_embed (as in timm / DeiT).
bool decays(const std::string& name, const torch::Tensor& p) {
  if (p.dim() <= 1) return false;
  return name != "cls_token" && name != "dist_token" && name != "pos_embed";
}

// A norm layer's bias (".../norm1.bias", "norm.bias"): the group norm_bias_lr_scale applies to.
bool is_norm_bias(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot != std::string::npos && name.substr(dot) == ".bias" &&
         name.find("norm") != std::string::npos;
}

// The groups of optimizer.h; `make(wd)` builds one group's options with weight decay wd.
using MakeOptions = std::function<std::unique_ptr<torch::optim::OptimizerOptions>(double)>;
std::vector<torch::optim::OptimizerParamGroup> param_groups(models::Classifier& model,
                                                            const TrainOptions& o,
                                                            const MakeOptions& make) {
  std::vector<torch::Tensor> decay, no_decay, norm_bias;
  const bool split_norm_bias = o.norm_bias_lr_scale != 1.0;
  for (const auto& item : model.named_parameters()) {
    if (split_norm_bias && is_norm_bias(item.key())) norm_bias.push_back(item.value());
    else if (o.decay_norms_and_biases || decays(item.key(), item.value())) decay.push_back(item.value());
    else no_decay.push_back(item.value());
  }
  // With decay_norms_and_biases, the norm-bias group's coefficient is divided by its lr scale
  // so its per-step decay lr x wd equals that of the other groups (airbench's wd / lr_biases).
  const double norm_bias_wd = o.decay_norms_and_biases ? o.weight_decay / o.norm_bias_lr_scale : 0.0;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, make(o.weight_decay));
  groups.emplace_back(no_decay, make(0.0));
  if (split_norm_bias) groups.emplace_back(norm_bias, make(norm_bias_wd));
  return groups;
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(models::Classifier& model,
                                                        const TrainOptions& o) {
  if (o.optimizer == "adamw") {
    const auto adamw = torch::optim::AdamWOptions(o.lr);
    auto make = [&](double wd) {
      return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(adamw).weight_decay(wd));
    };
    return std::make_unique<torch::optim::AdamW>(param_groups(model, o, make), adamw);
  }
  if (o.optimizer == "sgd") {
    const auto sgd = torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.momentum > 0);
    auto make = [&](double wd) {
      return std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(sgd).weight_decay(wd));
    };
    return std::make_unique<torch::optim::SGD>(param_groups(model, o, make), sgd);
  }
  throw Error("unknown optimizer '" + o.optimizer + "' (use adamw or sgd)");
}

void set_lr(torch::optim::Optimizer& opt, const TrainOptions& o, double lr) {
  auto& groups = opt.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    const double g_lr = i == 2 ? lr * o.norm_bias_lr_scale : lr;
    if (o.optimizer == "adamw") static_cast<torch::optim::AdamWOptions&>(groups[i].options()).lr(g_lr);
    else static_cast<torch::optim::SGDOptions&>(groups[i].options()).lr(g_lr);
  }
}

void move_optimizer_state(torch::optim::Optimizer& opt, const torch::Device& device) {
  auto move = [&](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  for (auto& entry : opt.state()) {
    torch::optim::OptimizerParamState* state = entry.second.get();
    if (auto* a = dynamic_cast<torch::optim::AdamWParamState*>(state)) {
      a->exp_avg(move(a->exp_avg()));
      a->exp_avg_sq(move(a->exp_avg_sq()));
      a->max_exp_avg_sq(move(a->max_exp_avg_sq()));
    } else if (auto* g = dynamic_cast<torch::optim::SGDParamState*>(state)) {
      g->momentum_buffer(move(g->momentum_buffer()));
    } else {
      throw Error("move_optimizer_state: unsupported optimizer state type");
    }
  }
}

}  // namespace tinyvit::train
