// Training throughput (images/s) of our C++ trainer's step vs the same model and step in
// Python PyTorch (bench/bench_train.py), side by side in one run, same batch and threads.
//
//   build/bench/bench_train [--threads 2] [--batch 128] [--steps 8] [--warmup 2] [--rounds 2]
//                           [--layout auto|nchw|nhwc] [--mode train|eval]
//                           [--precision fp32|bf16|both] [models...]
//
// The C++ step is the one train/trainer.cpp runs: forward_train, label-smoothed CE, backward,
// gradient clipping, optimizer step (SGD+Nesterov for the CNNs, AdamW for the ViTs), on a fixed
// random batch so data loading is excluded (bench_loader measures it). --layout nhwc runs the
// model and batch channels-last (auto: only resnet18_cifar). --mode eval times the forward pass
// alone in eval mode without autograd: what a frozen distillation teacher costs per batch.
// --precision bf16 runs the forward under autocast as the trainer does (train/precision.h; the
// loss on float32 logits), and Python under torch.autocast("cpu", torch.bfloat16); --precision
// both times our step in fp32 and in bf16, alternating, instead of C++ vs Python.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/registry.h"
#include "train/losses.h"
#include "train/precision.h"

namespace {

struct Setup {
  int threads = 2, batch = 128, steps = 8, warmup = 2, rounds = 2;
  std::string layout = "auto", mode = "train", precision = "fp32";
};

bool channels_last(const Setup& o, const std::string& name) {
  return o.layout == "nhwc" || (o.layout == "auto" && name == "resnet18_cifar");
}

double cpp_images_per_second(const std::string& name, const Setup& o) {
  torch::manual_seed(0);
  auto m = tinyvit::models::build_model(tinyvit::models::model_config(name, 10));
  const bool nhwc = channels_last(o, name);
  if (nhwc) {
    torch::NoGradGuard g;
    for (auto& p : m->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
  auto x = torch::randn({o.batch, 3, 32, 32});
  if (nhwc) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  const bool bf16 = o.precision == "bf16";
  auto t0 = std::chrono::steady_clock::now();
  if (o.mode == "eval") {  // as the trainer runs a teacher: eval mode, no autograd
    m->eval();
    torch::NoGradGuard g;
    for (int i = 0; i < o.warmup + o.steps; ++i) {
      if (i == o.warmup) t0 = std::chrono::steady_clock::now();
      tinyvit::train::AutocastScope autocast(torch::kCPU, bf16);
      m->forward(x);
    }
  } else {
    std::unique_ptr<torch::optim::Optimizer> opt;
    if (m->config().family != "vit") {  // the CNN teachers train with SGD
      opt = std::make_unique<torch::optim::SGD>(
          m->parameters(),
          torch::optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(5e-4));
    } else {
      opt = std::make_unique<torch::optim::AdamW>(
          m->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(0.05));
    }
    m->train();
    auto y = torch::randint(0, 10, {o.batch}, torch::kLong);
    for (int i = 0; i < o.warmup + o.steps; ++i) {
      if (i == o.warmup) t0 = std::chrono::steady_clock::now();
      opt->zero_grad();
      torch::Tensor logits;
      {
        tinyvit::train::AutocastScope autocast(torch::kCPU, bf16);
        logits = m->forward_train(x).first;
      }
      auto loss = tinyvit::train::cross_entropy(logits.to(torch::kFloat), y, 0.1);
      loss.backward();
      torch::nn::utils::clip_grad_norm_(m->parameters(), 1.0);
      opt->step();
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return o.batch * o.steps / s;
}

// 0 when Python or the script fails (printed as such; the C++ side still runs).
double python_images_per_second(const std::string& name, const Setup& o) {
  const std::string cmd = "/usr/bin/python3 " TINYVIT_SOURCE_DIR "/bench/bench_train.py " + name +
                          " " + std::to_string(o.batch) + " " + std::to_string(o.threads) + " " +
                          std::to_string(o.warmup) + " " + std::to_string(o.steps) + " " +
                          o.layout + " " + o.mode + " " + o.precision;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  char buf[256] = {0};
  std::string out;
  while (fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  const auto sp = out.rfind(' ');
  return sp == std::string::npos ? 0.0 : std::atof(out.c_str() + sp + 1);
}

}  // namespace

int main(int argc, char** argv) {
  Setup o;
  std::vector<std::string> names = {"resnet18_cifar", "cnn_fast_cifar", "cnn_fast_cifar_wide",
                                    "vit_micro_patch4_32", "vit_tiny_patch4_32"};
  CLI::App app{"Training (or teacher forward) images/s: our C++ step vs Python PyTorch's",
               "bench_train"};
  app.add_option("--threads", o.threads)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch", o.batch)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--steps", o.steps, "Timed steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "Untimed steps first")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rounds", o.rounds, "C++ / Python alternations; each side's best is kept")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--layout", o.layout, "auto (channels-last for resnet18_cifar only) | nchw | nhwc")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "nchw", "nhwc"}));
  app.add_option("--mode", o.mode, "train (the training step) | eval (forward only, no autograd)")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "eval"}));
  app.add_option("--precision", o.precision,
                 "fp32 | bf16 (autocast forward) | both (our step in fp32 vs bf16, no Python)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "both"}));
  app.add_option("models", names, "Registered model names")->capture_default_str();
  try {
    app.parse(argc, argv);
    torch::set_num_threads(o.threads);
    std::printf("%s images/s, batch %d, %d threads, layout %s, %s, %d timed steps after %d "
                "warm-up, best of %d\n",
                o.mode == "eval" ? "forward (eval)" : "training", o.batch, o.threads,
                o.layout.c_str(), o.precision.c_str(), o.steps, o.warmup, o.rounds);
    const bool both = o.precision == "both";
    if (both)
      std::printf("%-22s %12s %12s %9s\n", "model", "fp32 img/s", "bf16 img/s", "bf16/fp32");
    else
      std::printf("%-22s %12s %12s %8s\n", "model", "C++ img/s", "Python img/s", "C++/Py");
    for (const auto& n : names) {
      tinyvit::models::model_config(n, 10);  // an unknown name fails here, before timing
      // Alternate the two sides (C++ / Python, or fp32 / bf16) and keep each one's best, so
      // both see the same load.
      double a = 0, b = 0;
      Setup fp32 = o, bf16 = o;
      fp32.precision = "fp32";
      bf16.precision = "bf16";
      for (int r = 0; r < o.rounds; ++r) {
        a = std::max(a, cpp_images_per_second(n, both ? fp32 : o));
        b = std::max(b, both ? cpp_images_per_second(n, bf16) : python_images_per_second(n, o));
      }
      if (both)
        std::printf("%-22s %12.1f %12.1f %9.2f\n", n.c_str(), a, b, b / a);
      else
        std::printf("%-22s %12.1f %12.1f %8.2f\n", n.c_str(), a, b, b > 0 ? a / b : 0.0);
      std::fflush(stdout);
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "bench_train: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
