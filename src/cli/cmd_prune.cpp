// tinyvit prune --model CKPT --heads R --mlp R --blocks N [--criterion l1|l2|taylor] [--global]
//               [--data|--calib DATA] [--recover-epochs E [--teacher T]] [--steps K] -o OUT
// Structured pruning of a ViT checkpoint into a physically smaller one (docs/pruning.md).
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/error.h"
#include "pipeline/prune_run.h"
#include "train/trainer.h"

namespace tinyvit::cli {
namespace {

struct PruneArgs {
  pipeline::PruneJob job;
  std::string calib;
  pipeline::DataConfig data;
  int threads = 0;
};

void run(PruneArgs& a) {
  auto& job = a.job;
  if (a.data.path.empty()) a.data.path = a.calib;
  const auto crit = prune::parse_criterion(job.criterion);
  const bool recover = job.stage.train.epochs > 0;
  if ((crit == prune::Criterion::kTaylor || recover) && a.data.path.empty())
    throw Error(std::string(recover ? "recovery (--recover-epochs)" : "--criterion taylor") +
                " needs data: give --data (or --calib) PATH");
  train::configure_threads(a.threads);
  train::install_stop_handlers();
  std::unique_ptr<pipeline::PreparedData> d;
  if (!a.data.path.empty())
    d = std::make_unique<pipeline::PreparedData>(pipeline::prepare_data(a.data));
  const auto report = pipeline::prune_checkpoint(job, d.get(), a.data);
  const auto cost0 = report["models"][0], cost1 = report["models"].back();
  std::cout << fmt::format(
      "{}: params {:.3f} M -> {:.3f} M, MACs {:.2f} M -> {:.2f} M ({:.0f}%), int8 weights "
      "{:.1f} KiB{}; report {}\n",
      job.out, cost0["params"].get<double>() / 1e6, cost1["params"].get<double>() / 1e6,
      cost0["macs"].get<double>() / 1e6, cost1["macs"].get<double>() / 1e6,
      100.0 * cost1["macs"].get<double>() / cost0["macs"].get<double>(),
      cost1["int8_weight_bytes"].get<double>() / 1024.0,
      cost1["val_accuracy"].get<double>() >= 0
          ? fmt::format(", val accuracy {:.2f}% -> {:.2f}%",
                        100 * cost0["val_accuracy"].get<double>(),
                        100 * cost1["val_accuracy"].get<double>())
          : "",
      report["report"].get<std::string>());
}

}  // namespace

void register_prune_command(CLI::App& app) {
  auto a = std::make_shared<PruneArgs>();
  auto* cmd = app.add_subcommand(
      "prune",
      "Structured pruning of a ViT: remove heads, MLP units and blocks (a smaller model, not a "
      "mask); optional recovery by distillation");
  cmd->add_option("--model", a->job.model, "ViT checkpoint to prune")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--out", a->job.out, "Pruned (and recovered) checkpoint")->required();
  cmd->add_option("--heads", a->job.opt.heads, "Fraction of attention heads to remove, [0, 1)")
      ->capture_default_str();
  cmd->add_option("--mlp", a->job.opt.mlp, "Fraction of MLP hidden units to remove, [0, 1)")
      ->capture_default_str();
  cmd->add_option("--blocks", a->job.opt.blocks, "Whole blocks to remove")->capture_default_str();
  cmd->add_option("--criterion", a->job.criterion,
                  "Importance: l1 | l2 (weight magnitude) | taylor (|w*grad| on --calib data)")
      ->check(CLI::IsMember({"l1", "l2", "taylor"}))
      ->capture_default_str();
  cmd->add_flag("--global", a->job.opt.global,
                "Rank units across all blocks (uneven widths) instead of per block");
  cmd->add_option("--min-heads", a->job.opt.min_heads, "Fewest heads a block keeps")
      ->capture_default_str();
  cmd->add_option("--min-mlp", a->job.opt.min_mlp, "Fewest MLP units a block keeps")
      ->capture_default_str();
  cmd->add_option("--mlp-multiple", a->job.opt.mlp_multiple,
                  "Round kept MLP widths up to a multiple of this")
      ->capture_default_str();
  cmd->add_option("--steps", a->job.steps,
                  "Iterative schedule: prune in K equal steps, recovering after each")
      ->capture_default_str();
  add_data_options(cmd, a->data);
  cmd->get_option("--data")->required(false);
  cmd->add_option("--calib", a->calib, "Calibration data for taylor (same as --data)");
  cmd->add_option("--calib-batches", a->job.calib_batches, "Calibration batches (taylor)")
      ->capture_default_str();
  cmd->add_option("--calib-batch-size", a->job.calib_batch_size)->capture_default_str();
  cmd->add_option("--recover-epochs", a->job.stage.train.epochs,
                  "Distillation fine-tuning epochs after each step (0 = none; needs --data)")
      ->capture_default_str();
  cmd->add_option("--teacher", a->job.teacher,
                  "Teacher of recovery (default: the unpruned --model itself)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--lr", a->job.stage.train.lr, "Recovery peak learning rate")->capture_default_str();
  cmd->add_option("--warmup-epochs", a->job.stage.train.warmup_epochs)->capture_default_str();
  cmd->add_option("--batch-size", a->job.stage.batch_size)->capture_default_str();
  add_precision_option(cmd, a->job.stage.train.precision);
  cmd->add_option("--alpha", a->job.stage.train.distill.alpha, "Weight of the teacher (KL) term")
      ->capture_default_str();
  cmd->add_option("--temperature", a->job.stage.train.distill.temperature)->capture_default_str();
  cmd->add_option("--max-steps-per-epoch", a->job.stage.train.max_steps_per_epoch,
                  "Cut recovery epochs short (tests)")
      ->capture_default_str();
  cmd->add_flag("--fold-layernorm", a->job.fold,
                "Fold LayerNorm affines into the next Linear (inference-only; exact)");
  cmd->add_option("--latency-runs", a->job.latency_runs, "Batch-1 LibTorch timing runs (0 = skip)")
      ->capture_default_str();
  cmd->add_option("--report", a->job.report, "JSON report (default: <out stem>.prune.json)");
  add_runtime_options(cmd, a->threads, a->job.device, a->job.seed);
  cmd->callback([a] { run(*a); });
}

}  // namespace tinyvit::cli
