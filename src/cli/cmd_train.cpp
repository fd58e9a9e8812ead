// tinyvit train   --model NAME --data PATH -o CKPT [...]        cross-entropy training
// tinyvit distill --teacher CKPT --student NAME --data PATH -o CKPT [...]
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/error.h"
#include "pipeline/stage.h"
#include "train/trainer.h"

namespace tinyvit::cli {
namespace {

struct TrainArgs {
  pipeline::DataConfig data;
  pipeline::StageConfig stage;
  std::string teacher, out, metrics;
  bool resume = false;
  int threads = 0;
  std::string device = "cpu";
  uint64_t seed = 0;
};

void run(TrainArgs& a) {
  if (a.stage.model.empty() && a.stage.init.empty())
    throw Error("name a model (--model / --student NAME) or a checkpoint to start from (--init)");
  pipeline::validate_stage(a.stage, a.stage.train.stage == "distill",
                           "tinyvit " + a.stage.train.stage + ":");
  const int threads = train::configure_threads(a.threads);
  train::install_stop_handlers();
  a.stage.train.device = a.device;
  a.stage.train.seed = a.seed;
  if (a.metrics.empty()) a.metrics = a.out + ".metrics.jsonl";
  std::cerr << fmt::format("[{}] {} -> {} ({} threads, {})\n", a.stage.train.stage, a.stage.model,
                           a.out, threads, a.device);
  const auto d = pipeline::prepare_data(a.data);
  auto r = pipeline::run_stage(d, a.data, a.stage, a.teacher, a.out, a.metrics, a.resume);
  std::cout << fmt::format("{}: validation accuracy {:.2f}% (best {:.2f}%) after {} epochs\n",
                           a.out, 100.0 * r.final_val_accuracy, 100.0 * r.best_val_accuracy,
                           r.epochs_done);
}

void add_common(CLI::App* cmd, TrainArgs& a) {
  add_data_options(cmd, a.data);
  cmd->add_option("-o,--out", a.out, "Checkpoint to write (written atomically every epoch)")
      ->required();
  cmd->add_option("--metrics", a.metrics, "JSON-lines metrics file (default: <out>.metrics.jsonl)");
  cmd->add_flag("--resume", a.resume, "Continue from --out if it exists (after a kill)");
  add_runtime_options(cmd, a.threads, a.device, a.seed);
}

}  // namespace

void register_train_command(CLI::App& app) {
  {
    auto a = std::make_shared<TrainArgs>();
    a->stage.train.stage = "train";
    auto* cmd = app.add_subcommand("train", "Train a model with cross-entropy (e.g. the teacher)");
    cmd->add_option("--model", a->stage.model,
                    "Registered model name (see `tinyvit info --list`); or give --init");
    add_common(cmd, *a);
    add_stage_options(cmd, a->stage, /*student=*/false);
    cmd->callback([a] { run(*a); });
  }
  {
    auto a = std::make_shared<TrainArgs>();
    a->stage.train.stage = "distill";
    auto* cmd = app.add_subcommand(
        "distill",
        "Distill a student from a teacher: alpha*T^2*KL(teacher||student) + (1-alpha)*CE");
    cmd->add_option("--teacher", a->teacher, "Teacher checkpoint (frozen, eval mode)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--student", a->stage.model, "Registered student model name; or give --init");
    add_common(cmd, *a);
    add_stage_options(cmd, a->stage, /*student=*/true);
    cmd->callback([a] { run(*a); });
  }
}

}  // namespace tinyvit::cli
