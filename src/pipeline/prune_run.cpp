#include "pipeline/prune_run.h"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "common/atomic_file.h"
#include "common/error.h"
#include "models/checkpoint.h"
#include "prune/fold.h"
#include "prune/measure.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace tinyvit::pipeline {
namespace {

std::array<float, 3> meta_array(const nlohmann::json& meta, const char* key,
                                std::array<float, 3> fallback) {
  return meta.contains(key) ? meta[key].get<std::array<float, 3>>() : fallback;
}

}  // namespace

PruneJob::PruneJob() {
  stage.train.epochs = 0;
  stage.train.lr = 5e-4;
  stage.train.warmup_epochs = 0.2;
  stage.train.checkpoint_minutes = 0;
}

bool prune_complete(const std::string& path) {
  if (!std::filesystem::exists(path)) return false;
  try {
    const auto m = models::load_checkpoint(path);
    return m.meta.contains("prune") && m.meta["prune"].contains("plan");
  } catch (const std::exception&) {
    return false;
  }
}

nlohmann::json prune_checkpoint(const PruneJob& a, const PreparedData* d, const DataConfig& dc) {
  const auto crit = prune::parse_criterion(a.criterion);
  const bool recover = a.stage.train.epochs > 0;
  if ((crit == prune::Criterion::kTaylor || recover) && !d)
    throw Error(std::string(recover ? "recovery (recover epochs > 0)" : "criterion taylor") +
                " needs data");
  const auto device = train::parse_device(a.device);
  auto src = models::load_checkpoint(a.model);
  const auto& mc = src.model->config();
  if (mc.family != "vit")
    throw Error("'" + a.model + "' is a " + mc.family + "; only ViT students can be pruned");
  std::cerr << fmt::format("[prune] {} ({}), criterion {}{}, {} thread(s)\n", a.model, mc.name,
                           a.criterion, a.opt.global ? " (global)" : " (per layer)",
                           torch::get_num_threads());

  // Data (optional): calibration batches from the training part, evaluation on the validation
  // part, normalized with the statistics the checkpoint was trained with.
  std::unique_ptr<data::BatchLoader> calib_loader, val_loader;
  if (d) {
    auto lo = loader_options(*d, dc, a.calib_batch_size, mc.img_size(), false, {}, a.seed);
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

  // The teacher of recovery: job.teacher, else the unpruned student itself.
  const std::string teacher = a.teacher.empty() ? a.model : a.teacher;
  StageConfig stage = a.stage;
  stage.distill_token = mc.vit.distill_token;
  stage.train.device = a.device;
  stage.train.seed = a.seed;
  stage.train.stage = "prune-recover";
  const std::string stem = a.out.size() > 3 && a.out.substr(a.out.size() - 3) == ".pt"
                               ? a.out.substr(0, a.out.size() - 3)
                               : a.out;
  // Recovery trains into <stem>.recover.pt, never into `out`: `out` appears only once complete.
  const std::string recover_path = stem + ".recover.pt";
  const std::string metrics = a.metrics.empty() ? stem + ".recover.metrics.jsonl" : a.metrics;
  nlohmann::json meta = src.meta;
  meta["prune"] = {{"source", a.model},        {"criterion", a.criterion},
                   {"heads", a.opt.heads},     {"mlp", a.opt.mlp},
                   {"blocks", a.opt.blocks},   {"global", a.opt.global},
                   {"steps", a.steps},         {"recover_epochs", stage.train.epochs},
                   {"teacher", recover ? teacher : ""}};

  double recover_seconds = 0;
  nlohmann::json recovered_meta;
  auto recover_fn = [&](models::ClassifierPtr pruned, int step) -> models::ClassifierPtr {
    const std::string tag = a.steps > 1 ? fmt::format("step {}/{}", step, a.steps) : "pruned";
    record(tag + (recover ? " (before recovery)" : ""), *pruned, accuracy(*pruned));
    if (!recover) return pruned;
    const std::string pruned_path = fmt::format("{}.step{}.pruned.pt", stem, step);
    const std::string out_path =
        step == a.steps ? recover_path : fmt::format("{}.step{}.pt", stem, step);
    models::save_checkpoint(pruned_path, *pruned, meta);
    auto sc = stage;
    sc.init = pruned_path;
    const auto r = run_stage(*d, dc, sc, teacher, out_path, metrics, /*resume=*/false);
    recover_seconds += r.seconds;
    auto back = models::load_checkpoint(out_path);
    recovered_meta = back.meta;
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
    nlohmann::json m2 = recovered_meta;
    m2["prune"] = meta["prune"];
    meta = m2;
  }
  models::save_checkpoint(a.out, *final_model, meta);
  report["recover_epochs"] = stage.train.epochs;
  report["recover_seconds"] = recover_seconds;
  const std::string report_path = a.report.empty() ? stem + ".prune.json" : a.report;
  write_text_atomic(report_path, report.dump(2) + "\n");
  report["report"] = report_path;
  return report;
}

}  // namespace tinyvit::pipeline
