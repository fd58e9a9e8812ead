// The pieces of the airbench recipe (configs/full.toml's teacher), each against values
// computed by hand or by LibTorch: the norm-bias learning-rate group, Lookahead, and the
// 6-view flip+shift test-time augmentation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "models/cnn.h"
#include "models/registry.h"
#include "train/evaluate.h"
#include "train/lookahead.h"
#include "train/optimizer.h"

using namespace tinyvit;

namespace {

models::ModelConfig tiny_cnn() {
  auto c = models::model_config("cnn_fast_cifar", 10);
  c.cnn.widths = {8, 16, 12};
  return c;
}

// The first SGD step with Nesterov momentum m (buffer = gradient, step = (1 + m) x gradient):
// w' = w - (1 + m) lr (g + wd w) for conv/linear kernels, b' = b - (1 + m) 64 lr g for norm
// biases (no decay), other biases b - (1 + m) lr g; the frozen BatchNorm scales and the
// whitening buffer do not move. With decay_norms_and_biases (airbench) every trained
// parameter decays by the same (1 + m) lr wd w per step: the norm biases' coefficient is wd/64.
void check_first_sgd_step(bool decay_all) {
  torch::manual_seed(0);
  auto model = models::build_model(tiny_cnn());
  model->train();
  train::TrainOptions o;
  o.optimizer = "sgd";
  o.momentum = 0.5;
  o.weight_decay = 0.01;
  o.norm_bias_lr_scale = 64;
  o.decay_norms_and_biases = decay_all;
  auto opt = train::make_optimizer(*model, o);
  ASSERT_EQ(opt->param_groups().size(), 3u);
  const double lr = 0.05;
  train::set_lr(*opt, o, lr);

  auto x = torch::randn({4, 3, 32, 32});
  auto loss = model->forward(x).pow(2).mean();
  opt->zero_grad();
  loss.backward();
  std::map<std::string, torch::Tensor> before, grad;
  for (const auto& p : model->named_parameters()) {
    before[p.key()] = p.value().detach().clone();
    if (p.value().grad().defined()) grad[p.key()] = p.value().grad().clone();
  }
  const auto whiten_before = model->named_buffers()["whiten.weight"].clone();
  opt->step();

  int norm_biases = 0, kernels = 0, other = 0;
  for (const auto& p : model->named_parameters()) {
    const std::string& k = p.key();
    const auto& w0 = before[k];
    torch::Tensor want;
    if (!p.value().requires_grad()) {
      want = w0;  // BatchNorm scale: frozen
    } else if (k.find("norm") != std::string::npos && k.size() > 5 && k.substr(k.size() - 5) == ".bias") {
      want = w0 - 1.5 * 64 * lr * (grad[k] + (decay_all ? 0.01 / 64 : 0.0) * w0);
      ++norm_biases;
    } else if (w0.dim() > 1) {
      want = w0 - 1.5 * lr * (grad[k] + 0.01 * w0);
      ++kernels;
    } else {
      want = w0 - 1.5 * lr * (grad[k] + (decay_all ? 0.01 : 0.0) * w0);
      ++other;
    }
    EXPECT_TRUE(torch::allclose(p.value(), want, 1e-5, 1e-6)) << k;
  }
  EXPECT_EQ(norm_biases, 6);  // 3 blocks x 2 norms
  EXPECT_EQ(kernels, 7);      // 6 convs + head
  EXPECT_EQ(other, 1);        // whiten.bias
  EXPECT_TRUE(torch::equal(model->named_buffers()["whiten.weight"], whiten_before));
}

}  // namespace

TEST(Optimizer, NormBiasesStepAtTheirOwnLearningRate) {
  check_first_sgd_step(/*decay_all=*/false);
  // Scale 1 keeps the two historical groups (older checkpoints' optimizer state loads).
  auto model = models::build_model(tiny_cnn());
  train::TrainOptions o;
  o.optimizer = "sgd";
  EXPECT_EQ(train::make_optimizer(*model, o)->param_groups().size(), 2u);
}

TEST(Optimizer, DecayNormsAndBiasesDecaysEveryParameterAlikePerStep) {
  check_first_sgd_step(/*decay_all=*/true);
}

// A checkpoint holds the optimizer state on the CPU and a run moves it to its device after
// loading: move_optimizer_state must reach every state tensor LibTorch's optimizers keep. The
// meta device stands in for a GPU (CI has none): after the move, each trained parameter's
// state is there, and the state's count and shapes are LibTorch's own.
TEST(Optimizer, MoveOptimizerStateReachesEveryStateTensor) {
  for (const std::string name : {"adamw", "sgd"}) {
    SCOPED_TRACE(name);
    torch::manual_seed(0);
    auto model = models::build_model(tiny_cnn());
    model->train();
    train::TrainOptions o;
    o.optimizer = name;
    o.momentum = 0.9;
    auto opt = train::make_optimizer(*model, o);
    for (int step = 0; step < 2; ++step) {
      opt->zero_grad();
      model->forward(torch::randn({4, 3, 32, 32})).pow(2).mean().backward();
      opt->step();
    }
    int64_t trained = 0;
    for (const auto& p : model->parameters()) trained += p.requires_grad() ? 1 : 0;
    ASSERT_EQ(static_cast<int64_t>(opt->state().size()), trained);

    auto state_tensors = [&] {
      std::vector<torch::Tensor> out;
      for (auto& entry : opt->state()) {
        if (auto* a = dynamic_cast<torch::optim::AdamWParamState*>(entry.second.get())) {
          out.push_back(a->exp_avg());
          out.push_back(a->exp_avg_sq());
        } else if (auto* g = dynamic_cast<torch::optim::SGDParamState*>(entry.second.get())) {
          out.push_back(g->momentum_buffer());
        }
      }
      return out;
    };
    const auto before = state_tensors();
    ASSERT_EQ(static_cast<int64_t>(before.size()), trained * (name == "adamw" ? 2 : 1));
    train::move_optimizer_state(*opt, torch::kMeta);
    const auto after = state_tensors();
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_TRUE(after[i].is_meta()) << i;
      EXPECT_EQ(after[i].sizes(), before[i].sizes()) << i;
    }
  }
}

// Lookahead on a module with one parameter and one float buffer, values by hand:
// start 5, total 20, every 5, base 0.95, power 3.
TEST(Lookahead, AveragesEveryFifthStepWithTheCubicSchedule) {
  struct M : torch::nn::Module {
    torch::Tensor w = register_parameter("w", torch::tensor({1.0, 2.0}, torch::kDouble));
    torch::Tensor r = register_buffer("r", torch::tensor({10.0}, torch::kDouble));
    torch::Tensor n = register_buffer("n", torch::tensor({7}, torch::kLong));  // not averaged
  } m;
  train::Lookahead la(5, 20);
  auto set = [&](double a, double b, double r) {
    torch::NoGradGuard g;
    m.w.copy_(torch::tensor({a, b}, torch::kDouble));
    m.r.fill_(r);
  };
  la.after_step(m, 4);  // before start: nothing
  EXPECT_FALSE(la.started());
  la.after_step(m, 5);  // snapshot: slow = (1, 2 | 10)
  EXPECT_TRUE(la.started());
  set(3, 6, 20);
  la.after_step(m, 7);  // not a multiple of 5
  EXPECT_DOUBLE_EQ(m.w[0].item<double>(), 3.0);
  la.after_step(m, 10);
  const double rho = std::pow(0.95, 5) * std::pow(10.0 / 20.0, 3);  // 0.0967226171875
  EXPECT_NEAR(la.rho(10), 0.0967226171875, 1e-15);
  EXPECT_NEAR(m.w[0].item<double>(), rho * 1 + (1 - rho) * 3, 1e-12);
  EXPECT_NEAR(m.w[1].item<double>(), rho * 2 + (1 - rho) * 6, 1e-12);
  EXPECT_NEAR(m.r[0].item<double>(), rho * 10 + (1 - rho) * 20, 1e-12);
  const double slow0 = m.w[0].item<double>();

  // sync puts the slow weights back; the saved state restores them on a fresh instance.
  set(-1, -1, -1);
  torch::serialize::OutputArchive out;
  la.save(out);
  std::stringstream ss;
  out.save_to(ss);
  la.sync(m);
  EXPECT_DOUBLE_EQ(m.w[0].item<double>(), slow0);
  EXPECT_EQ(m.n[0].item<int64_t>(), 7);
  set(-1, -1, -1);
  train::Lookahead back(5, 20);
  torch::serialize::InputArchive in;
  in.load_from(ss);
  back.load(in, m);
  back.sync(m);
  EXPECT_DOUBLE_EQ(m.w[0].item<double>(), slow0);
  EXPECT_NEAR(m.r[0].item<double>(), rho * 10 + (1 - rho) * 20, 1e-12);
}

// TTA with a linear "model" (logits = W vec(x)): the average of the 6 views' logits is W
// applied to the average view, built here with explicit index arithmetic for reflect padding.
TEST(Tta, SixViewAverageMatchesHandBuiltViews) {
  struct Linear : models::Classifier {
    models::ModelConfig c = models::model_config("cnn_fast_cifar", 3);
    torch::Tensor W = torch::randn({3, 2 * 5 * 4}, torch::kDouble);
    torch::Tensor forward(torch::Tensor x) override { return x.flatten(1).mm(W.t()); }
    const models::ModelConfig& config() const override { return c; }
  };
  torch::manual_seed(1);
  Linear model;
  const int C = 2, H = 5, Wd = 4;
  auto x = torch::randn({3, C, H, Wd}, torch::kDouble);
  auto refl = [](int i, int n) { return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i; };
  auto view = [&](int d, bool flip) {  // shift by d (both axes, reflect), then mirror columns
    auto v = torch::empty_like(x);
    auto a = x.accessor<double, 4>();
    auto o = v.accessor<double, 4>();
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < H; ++i)
          for (int j = 0; j < Wd; ++j) {
            const int jj = flip ? Wd - 1 - j : j;
            o[b][c][i][j] = a[b][c][refl(i + d, H)][refl(jj + d, Wd)];
          }
    return v;
  };
  auto mean_view = 0.25 * (view(0, false) + view(0, true)) +
                   0.125 * (view(-1, false) + view(-1, true) + view(1, false) + view(1, true));
  EXPECT_TRUE(torch::allclose(train::tta_logits(model, x), model.forward(mean_view), 1e-12, 1e-12));
}
