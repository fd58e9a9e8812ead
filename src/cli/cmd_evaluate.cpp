// tinyvit evaluate --model CKPT --data PATH   validation accuracy and confusion matrix
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "models/checkpoint.h"
#include "pipeline/stage.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace tinyvit::cli {

void register_evaluate_command(CLI::App& app) {
  struct Args {
    std::string model;
    pipeline::DataConfig data;
    int threads = 0;
    std::string device = "cpu";
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("evaluate", "Accuracy of a checkpoint on the validation split");
  cmd->add_option("--model", a->model, "Checkpoint")->required()->check(CLI::ExistingFile);
  add_data_options(cmd, a->data);
  add_runtime_options(cmd, a->threads, a->device, a->seed);
  cmd->callback([a] {
    train::configure_threads(a->threads);
    auto m = models::load_checkpoint(a->model);
    const auto d = pipeline::prepare_data(a->data);
    auto lo = pipeline::loader_options(d, a->data, 256, m.model->config().img_size(), false, {}, 0);
    // Normalize with the statistics the checkpoint was trained with.
    if (m.meta.contains("mean")) lo.mean = m.meta["mean"].get<std::array<float, 3>>();
    if (m.meta.contains("std")) lo.std = m.meta["std"].get<std::array<float, 3>>();
    data::BatchLoader val(d.dataset, d.val, lo);
    const auto device = train::parse_device(a->device);
    m.model->to(device);
    auto r = train::evaluate(*m.model, val, device);
    std::cout << fmt::format("{}: {} validation images, accuracy {:.2f}%, loss {:.4f}\n", a->model,
                             r.count, 100.0 * r.accuracy, r.loss);
    const int K = r.num_classes;
    std::cout << "confusion (rows = true class, columns = predicted):\n";
    for (int i = 0; i < K; ++i) {
      for (int j = 0; j < K; ++j) std::cout << fmt::format("{:6}", r.confusion[i * K + j]);
      std::cout << "\n";
    }
  });
}

}  // namespace tinyvit::cli
