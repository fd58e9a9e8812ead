// Training throughput (images/s) of our C++ trainer's step vs the same model and step in
// Python PyTorch (bench/bench_train.py), side by side in one run, same batch and threads.
//
//   build/bench/bench_train [--threads 2] [--batch 128] [--steps 8] [--warmup 2] [models...]
//
// The C++ step is the one train/trainer.cpp runs: forward_train, label-smoothed CE, backward,
// gradient clipping, optimizer step (SGD+Nesterov with channels-last for the ResNet, AdamW for
// the ViTs), on a fixed random batch so data loading is excluded (bench_loader measures it).
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/registry.h"
#include "train/losses.h"

namespace {

double cpp_images_per_second(const std::string& name, int batch, int warmup, int steps) {
  torch::manual_seed(0);
  auto m = tinyvit::models::build_model(tinyvit::models::model_config(name, 10));
  const bool resnet = m->config().family == "resnet";
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (resnet) {
    torch::NoGradGuard g;
    for (auto& p : m->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
  if (resnet || m->config().family == "cnn") {  // the CNN teachers train with SGD
    opt = std::make_unique<torch::optim::SGD>(
        m->parameters(),
        torch::optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(5e-4));
  } else {
    opt = std::make_unique<torch::optim::AdamW>(m->parameters(),
                                                torch::optim::AdamWOptions(1e-3).weight_decay(0.05));
  }
  m->train();
  auto x = torch::randn({batch, 3, 32, 32});
  if (resnet) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  auto y = torch::randint(0, 10, {batch}, torch::kLong);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < warmup + steps; ++i) {
    if (i == warmup) t0 = std::chrono::steady_clock::now();
    opt->zero_grad();
    auto loss = tinyvit::train::cross_entropy(m->forward_train(x).first, y, 0.1);
    loss.backward();
    torch::nn::utils::clip_grad_norm_(m->parameters(), 1.0);
    opt->step();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return batch * steps / s;
}

double python_images_per_second(const std::string& name, int batch, int threads, int warmup,
                                int steps) {
  const std::string cmd = "/usr/bin/python3 " TINYVIT_SOURCE_DIR "/bench/bench_train.py " + name +
                          " " + std::to_string(batch) + " " + std::to_string(threads) + " " +
                          std::to_string(warmup) + " " + std::to_string(steps);
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
  int threads = 2, batch = 128, steps = 8, warmup = 2;
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--threads") threads = next();
    else if (a == "--batch") batch = next();
    else if (a == "--steps") steps = next();
    else if (a == "--warmup") warmup = next();
    else names.push_back(a);
  }
  if (names.empty()) names = {"resnet18_cifar", "cnn_fast_cifar", "vit_micro_patch4_32", "vit_tiny_patch4_32"};
  torch::set_num_threads(threads);
  std::printf("training throughput, batch %d, %d threads, %d timed steps after %d warm-up\n",
              batch, threads, steps, warmup);
  std::printf("%-22s %12s %12s %8s\n", "model", "C++ img/s", "Python img/s", "C++/Py");
  for (const auto& n : names) {
    // Alternate C++ / Python twice and keep each side's best, so both see the same load.
    double c = 0, py = 0;
    for (int r = 0; r < 2; ++r) {
      c = std::max(c, cpp_images_per_second(n, batch, warmup, steps));
      py = std::max(py, python_images_per_second(n, batch, threads, warmup, steps));
    }
    std::printf("%-22s %12.1f %12.1f %8.2f\n", n.c_str(), c, py, py > 0 ? c / py : 0.0);
    std::fflush(stdout);
  }
  return 0;
}
