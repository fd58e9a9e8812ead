// tinyvit prune --model CKPT --heads R --mlp R --blocks N [--criterion l1|l2|taylor] [--global]
//               [--data|--calib DATA] [--recover-epochs E [--teacher T]] [--steps K] -o OUT
// Structured pruning of a ViT checkpoint into a physically smaller one (docs/pruning.md).
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "models/checkpoint.h"
#include "pipeline/stage.h"
#include "prune/fold.h"
#include "prune/measure.h"
#include "prune/prune.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace tinyvit::cli {
namespace {

struct PruneArgs {
  std::string model, out, calib, teacher, criterion = "l1", report;
  prune::PruneOptions opt;
  pipeline::DataConfig data;
  int calib_batches = 16;
  int64_t calib_batch_size = 64;
  int steps = 1;
  int latency_runs = 50;
  bool fold = false;
  // Recovery (distillation fine-tuning) after each pruning step.
  pipeline::StageConfig stage;
  int threads = 0;
  std::string device = "cpu";
  uint64_t seed = 0;
};

std::array<float, 3> meta_array(const nlohmann::json& meta, const char* key,
                                std::array<float, 3> fallback) {
  return meta.contains(key) ? meta[key].get<std::array<float, 3>>() : fallback;
}

void run(PruneArgs& a) {
  if (a.data.path.empty()) a.data.path = a.calib;
  const auto crit = prune::parse_criterion(a.criterion);
  const bool recover = a.stage.train.epochs > 0;
  if ((crit == prune::Criterion::kTaylor || recover) && a.data.path.empty())
    throw Error(std::string(recover ? "recovery (--recover-epochs)" : "--criterion taylor") +
                " needs data: give --data (or --calib) PATH");
  const int threads = train::configure_threads(a.threads);
  train::install_stop_handlers();
  const auto device = train::parse_device(a.device);
  auto src = models::load_checkpoint(a.model);
  const auto& mc = src.model->config();
  if (mc.family != "vit")
    throw Error("'" + a.model + "' is a " + mc.family + "; only ViT students can be pruned");
  std::cerr << fmt::format("[prune] {} ({}), criterion {}{}, {} thread(s)\n", a.model, mc.name,
                           a.criterion, a.opt.global ? " (global)" : " (per layer)", threads);

  // Data (optional): calibration batches from the training part, evaluation on the validation
  // part, normalized with the statistics the checkpoint was trained with.
  std::unique_ptr<pipeline::PreparedData> d;
  std::unique_ptr<data::BatchLoader> calib_loader, val_loader;
  if (!a.data.path.empty()) {
    d = std::make_unique<pipeline::PreparedData>(pipeline::prepare_data(a.data));
    auto lo = pipeline::loader_options(*d, a.data, a.calib_batch_size, mc.img_size(), false, {},
                                       a.seed);
    lo.shuffle = true;  // a seeded random sample of the training part, not the first classes
    lo.mean = meta_array(src.meta, "mean", d->mean);
    lo.std = meta_array(src.meta, "std", d->std);
    calib_loader = std::make_unique<data::BatchLoader>(d->dataset, d->train, lo);
    auto vo = lo;
    vo.shuffle = false;
    vo.batch_size = 256;
    val_loader = std::make_unique<data::BatchLoader>(d->dataset, d->val, vo);
  }
  prune::BatchSource batches;
  if (calib_loader) {
    batches = [&](const prune::BatchVisitor& visit) {
      calib_loader->start_epoch(0);
      for (int i = 0; i < a.calib_batches; ++i) {
        auto b = calib_loader->next();
        if (!b) break;
        visit(b->images, b->labels);
      }
    };
  }
  auto accuracy = [&](models::Classifier& m) {
    if (!val_loader) return -1.0;
    m.to(device);
    const double acc = train::evaluate(m, *val_loader, device).accuracy;
    m.to(torch::kCPU);
    return acc;
  };

  nlohmann::json report;
  auto record = [&](const std::string& what, models::Classifier& m, double acc) {
    const auto cost = prune::model_cost(m, a.latency_runs);
    std::cerr << fmt::format("[prune] {}: {}{}\n", what, prune::format_cost(cost),
                             acc >= 0 ? fmt::format(", val accuracy {:.2f}%", 100 * acc) : "");
    report["models"].push_back({{"what", what},
                                {"config", m.config()},
                                {"params", cost.params},
                                {"macs", cost.macs},
                                {"int8_weight_bytes", cost.int8_weight_bytes},
                                {"latency_ms", cost.latency_ms},
                                {"latency_min_ms", cost.latency_min_ms},
                                {"val_accuracy", acc}});
  };
  record("original", *src.model, accuracy(*src.model));

  // The teacher of recovery: --teacher, else the unpruned student itself.
  const std::string teacher = a.teacher.empty() ? a.model : a.teacher;
  a.stage.distill_token = mc.vit.distill_token;
  a.stage.train.device = a.device;
  a.stage.train.seed = a.seed;
  a.stage.train.stage = "prune-recover";
  const std::string stem = a.out.size() > 3 && a.out.substr(a.out.size() - 3) == ".pt"
                               ? a.out.substr(0, a.out.size() - 3)
                               : a.out;
  nlohmann::json meta = src.meta;
  meta["prune"] = {{"source", a.model},        {"criterion", a.criterion},
                   {"heads", a.opt.heads},     {"mlp", a.opt.mlp},
                   {"blocks", a.opt.blocks},   {"global", a.opt.global},
                   {"steps", a.steps},         {"recover_epochs", a.stage.train.epochs},
                   {"teacher", recover ? teacher : ""}};

  auto recover_fn = [&](models::ClassifierPtr pruned, int step) -> models::ClassifierPtr {
    const std::string tag = a.steps > 1 ? fmt::format("step {}/{}", step, a.steps) : "pruned";
    record(tag + (recover ? " (before recovery)" : ""), *pruned, accuracy(*pruned));
    if (!recover) return pruned;
    const std::string pruned_path = fmt::format("{}.step{}.pruned.pt", stem, step);
    const std::string out_path = step == a.steps ? a.out : fmt::format("{}.step{}.pt", stem, step);
    models::save_checkpoint(pruned_path, *pruned, meta);
    auto sc = a.stage;
    sc.init = pruned_path;
    const auto r = pipeline::run_stage(*d, a.data, sc, teacher, out_path,
                                       stem + ".recover.metrics.jsonl", /*resume=*/false);
    auto back = models::load_checkpoint(out_path);
    std::cerr << fmt::format("[prune] recovery: {} epochs, {:.0f} s\n", r.epochs_done, r.seconds);
    record(tag + " (after recovery)", *back.model, accuracy(*back.model));
    return back.model;
  };

  auto result = a.steps > 1 ? prune::prune_iterative(*src.model, a.opt, a.steps, crit, batches,
                                                     recover_fn, device)
                            : prune::prune_vit(*src.model, a.opt, crit, batches, device);
  if (a.steps == 1) result.model = recover_fn(result.model, 1);
  std::cerr << "[prune] plan (indices into the original model):\n"
            << prune::describe_plan(mc, result.plan);

  auto final_model = result.model;
  if (a.fold) {
    auto* v = dynamic_cast<models::VisionTransformer*>(final_model.get());
    std::cerr << "[prune] " << prune::fold_layernorm_affine(*v).summary << "\n";
  }
  // The recovered checkpoint's meta comes from the trainer; restore the pruning record.
  meta["prune"]["plan"] = prune::describe_plan(mc, result.plan);
  if (recover) {
    auto back = models::load_checkpoint(a.out);
    nlohmann::json m2 = back.meta;
    m2["prune"] = meta["prune"];
    meta = m2;
  }
  models::save_checkpoint(a.out, *final_model, meta);
  const std::string report_path = a.report.empty() ? stem + ".prune.json" : a.report;
  write_file_atomic(report_path, [&](std::ostream& os) { os << report.dump(2) << "\n"; });
  const auto cost0 = report["models"][0], cost1 = report["models"].back();
  std::cout << fmt::format(
      "{}: params {:.3f} M -> {:.3f} M, MACs {:.2f} M -> {:.2f} M ({:.0f}%), int8 weights "
      "{:.1f} KiB{}; report {}\n",
      a.out, cost0["params"].get<double>() / 1e6, cost1["params"].get<double>() / 1e6,
      cost0["macs"].get<double>() / 1e6, cost1["macs"].get<double>() / 1e6,
      100.0 * cost1["macs"].get<double>() / cost0["macs"].get<double>(),
      cost1["int8_weight_bytes"].get<double>() / 1024.0,
      cost1["val_accuracy"].get<double>() >= 0
          ? fmt::format(", val accuracy {:.2f}% -> {:.2f}%",
                        100 * cost0["val_accuracy"].get<double>(),
                        100 * cost1["val_accuracy"].get<double>())
          : "",
      report_path);
}

}  // namespace

void register_prune_command(CLI::App& app) {
  auto a = std::make_shared<PruneArgs>();
  a->stage.train.epochs = 0;
  a->stage.train.lr = 5e-4;
  a->stage.train.warmup_epochs = 0.2;
  a->stage.train.checkpoint_minutes = 0;
  auto* cmd = app.add_subcommand(
      "prune",
      "Structured pruning of a ViT: remove heads, MLP units and blocks (a smaller model, not a "
      "mask); optional recovery by distillation");
  cmd->add_option("--model", a->model, "ViT checkpoint to prune")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--out", a->out, "Pruned (and recovered) checkpoint")->required();
  cmd->add_option("--heads", a->opt.heads, "Fraction of attention heads to remove, [0, 1)")
      ->capture_default_str();
  cmd->add_option("--mlp", a->opt.mlp, "Fraction of MLP hidden units to remove, [0, 1)")
      ->capture_default_str();
  cmd->add_option("--blocks", a->opt.blocks, "Whole blocks to remove")->capture_default_str();
  cmd->add_option("--criterion", a->criterion,
                  "Importance: l1 | l2 (weight magnitude) | taylor (|w*grad| on --calib data)")
      ->check(CLI::IsMember({"l1", "l2", "taylor"}))
      ->capture_default_str();
  cmd->add_flag("--global", a->opt.global,
                "Rank units across all blocks (uneven widths) instead of per block");
  cmd->add_option("--min-heads", a->opt.min_heads, "Fewest heads a block keeps")
      ->capture_default_str();
  cmd->add_option("--min-mlp", a->opt.min_mlp, "Fewest MLP units a block keeps")
      ->capture_default_str();
  cmd->add_option("--mlp-multiple", a->opt.mlp_multiple,
                  "Round kept MLP widths up to a multiple of this")
      ->capture_default_str();
  cmd->add_option("--steps", a->steps,
                  "Iterative schedule: prune in K equal steps, recovering after each")
      ->capture_default_str();
  add_data_options(cmd, a->data);
  cmd->get_option("--data")->required(false);
  cmd->add_option("--calib", a->calib, "Calibration data for taylor (same as --data)");
  cmd->add_option("--calib-batches", a->calib_batches, "Calibration batches (taylor)")
      ->capture_default_str();
  cmd->add_option("--calib-batch-size", a->calib_batch_size)->capture_default_str();
  cmd->add_option("--recover-epochs", a->stage.train.epochs,
                  "Distillation fine-tuning epochs after each step (0 = none; needs --data)")
      ->capture_default_str();
  cmd->add_option("--teacher", a->teacher,
                  "Teacher of recovery (default: the unpruned --model itself)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--lr", a->stage.train.lr, "Recovery peak learning rate")->capture_default_str();
  cmd->add_option("--warmup-epochs", a->stage.train.warmup_epochs)->capture_default_str();
  cmd->add_option("--batch-size", a->stage.batch_size)->capture_default_str();
  cmd->add_option("--alpha", a->stage.train.distill.alpha, "Weight of the teacher (KL) term")
      ->capture_default_str();
  cmd->add_option("--temperature", a->stage.train.distill.temperature)->capture_default_str();
  cmd->add_option("--max-steps-per-epoch", a->stage.train.max_steps_per_epoch,
                  "Cut recovery epochs short (tests)")
      ->capture_default_str();
  cmd->add_flag("--fold-layernorm", a->fold,
                "Fold LayerNorm affines into the next Linear (inference-only; exact)");
  cmd->add_option("--latency-runs", a->latency_runs, "Batch-1 LibTorch timing runs (0 = skip)")
      ->capture_default_str();
  cmd->add_option("--report", a->report, "JSON report (default: <out stem>.prune.json)");
  add_runtime_options(cmd, a->threads, a->device, a->seed);
  cmd->callback([a] { run(*a); });
}

}  // namespace tinyvit::cli
