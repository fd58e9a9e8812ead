#include "pipeline/pipeline.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <streambuf>

#include "common/atomic_file.h"
#include "common/error.h"
#include "export/tflite_export.h"
#include "export/verify.h"
#include "models/checkpoint.h"
#include "models/info.h"
#include "pipeline/prune_run.h"
#include "pipeline/quantize_run.h"
#include "pipeline/samples.h"
#include "report/inference.h"
#include "train/evaluate.h"

namespace tinyvit::pipeline {
namespace {

// Copies everything written to one stream into a second one (stderr -> pipeline.log).
class TeeBuf : public std::streambuf {
 public:
  TeeBuf(std::streambuf* a, std::streambuf* b) : a_(a), b_(b) {}

 protected:
  int overflow(int c) override {
    if (c == EOF) return !EOF;
    const int r1 = a_->sputc(static_cast<char>(c)), r2 = b_->sputc(static_cast<char>(c));
    return (r1 == EOF || r2 == EOF) ? EOF : c;
  }
  int sync() override { return (a_->pubsync() == 0 && b_->pubsync() == 0) ? 0 : -1; }

 private:
  std::streambuf *a_, *b_;
};

class ScopedTee {
 public:
  ScopedTee(std::ostream& os, const std::string& path)
      : os_(os), file_(path, std::ios::app), tee_(os.rdbuf(), file_.rdbuf()) {
    old_ = os_.rdbuf(&tee_);
  }
  ~ScopedTee() {
    os_.flush();
    os_.rdbuf(old_);
  }

 private:
  std::ostream& os_;
  std::ofstream file_;
  TeeBuf tee_;
  std::streambuf* old_;
};

nlohmann::json stage_summary(const std::string& ckpt, const PreparedData& d, const DataConfig& dc,
                             double seconds) {
  auto m = models::load_checkpoint(ckpt);
  const auto info = models::model_info(m.model->config());
  data::BatchLoader val(d.dataset, d.val,
                        loader_options(d, dc, 256, m.model->config().img_size(), false, {}, 0));
  auto ev = train::evaluate(*m.model, val, torch::kCPU);
  nlohmann::json j = {{"checkpoint", std::filesystem::path(ckpt).filename().string()},
          {"model", m.model->config().name},
          {"params", info.params},
          {"macs", info.macs},
          {"val_accuracy", ev.accuracy},
          {"val_loss", ev.loss},
          {"val_images", ev.count},
          {"epochs", m.meta.value("epochs_done", 0)},
          {"train_seconds_this_run", seconds},
          {"confusion", ev.confusion}};
  // Scored by the trainer with flip+shift TTA ([teacher] eval_tta); the plain score stays above.
  if (m.meta.contains("val_accuracy_tta")) j["val_accuracy_tta"] = m.meta["val_accuracy_tta"];
  return j;
}

// Exports `ckpt` to `tflite` and verifies it in LiteRT.js on the validation pixels.
nlohmann::json export_and_verify(const std::string& ckpt, const std::string& tflite,
                                 const ExportConfig& ec, const PreparedData& d,
                                 const DataConfig& dc) {
  auto m = models::load_checkpoint(ckpt);
  exporter::ExportOptions o;
  o.target = exporter::parse_export_target(ec.target);
  o.mean = m.meta.at("mean").get<std::vector<float>>();
  o.std = m.meta.at("std").get<std::vector<float>>();
  o.class_names = models::stored_class_names(m.meta);
  const auto r = exporter::export_tflite(*m.model, o);
  exporter::write_tflite(tflite, r.bytes);
  auto [pixels, labels] = validation_pixels(d, dc, m.model->config().img_size());
  if (ec.verify_images > 0 && ec.verify_images < pixels.size(0)) {
    pixels = pixels.slice(0, 0, ec.verify_images);
    labels = labels.slice(0, 0, ec.verify_images);
  }
  const auto v = exporter::verify_tflite(*m.model, tflite, pixels, labels, o.mean, o.std);
  std::cerr << fmt::format("[export] {} ({} ops, {:.1f} KB, params {:.1f} KB, {:.2f} s)\n", tflite,
                           r.num_ops, r.bytes.size() / 1024.0, r.parameter_bytes / 1024.0,
                           r.seconds)
            << "[verify] " << exporter::format_verify(v);
  nlohmann::json j = exporter::to_json(v);
  j["file"] = std::filesystem::path(tflite).filename().string();
  j["file_bytes"] = r.bytes.size();
  j["parameter_bytes"] = r.parameter_bytes;
  j["target"] = ec.target;
  j["checkpoint"] = std::filesystem::path(ckpt).filename().string();
  return j;
}

// [prune]: student.pt -> pruned.pt (recovered by distillation from student.pt). Skipped when
// pruned.pt is complete (prune_run.h: it is written only then, with the plan in its metadata).
nlohmann::json prune_stage(const PipelineConfig& c, const PreparedData& d,
                           const std::function<std::string(const char*)>& path) {
  double seconds = 0;
  nlohmann::json report;
  if (prune_complete(path("pruned.pt"))) {
    std::cerr << fmt::format("[prune] '{}' is already complete\n", path("pruned.pt"));
    if (std::filesystem::exists(path("pruned.prune.json")))
      report = nlohmann::json::parse(read_file_bytes(path("pruned.prune.json")));
  } else {
    PruneJob job = c.prune.job;
    job.model = path("student.pt");
    job.out = path("pruned.pt");
    job.report = path("pruned.prune.json");
    job.metrics = path("metrics.jsonl");
    job.device = c.device;
    job.seed = c.seed;
    report = prune_checkpoint(job, &d, c.data);
    seconds = report.value("recover_seconds", 0.0);
  }
  nlohmann::json j = stage_summary(path("pruned.pt"), d, c.data, seconds);
  const auto& o = c.prune.job.opt;
  j["prune"] = {{"criterion", c.prune.job.criterion}, {"heads", o.heads}, {"mlp", o.mlp},
                {"blocks", o.blocks},                 {"steps", c.prune.job.steps},
                {"recover_epochs", c.prune.job.stage.train.epochs},
                {"report", "pruned.prune.json"}};
  if (report.contains("models") && !report["models"].empty()) {
    const auto& m0 = report["models"].front();
    j["prune"]["params_before"] = m0["params"];
    j["prune"]["macs_before"] = m0["macs"];
    j["prune"]["val_accuracy_before"] = m0["val_accuracy"];
    for (const auto& m : report["models"])
      if (m["what"].get<std::string>().find("before recovery") != std::string::npos)
        j["prune"]["val_accuracy_before_recovery"] = m["val_accuracy"];
  }
  return j;
}

// Identity of a checkpoint file for "is this output up to date": name, size and modification
// time (checkpoints are only rewritten when their stage trains).
nlohmann::json file_fingerprint(const std::string& file) {
  namespace fs = std::filesystem;
  return {{"name", fs::path(file).filename().string()},
          {"bytes", static_cast<int64_t>(fs::file_size(file))},
          {"mtime_ns", static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                           fs::last_write_time(file).time_since_epoch()).count())}};
}

// quantize.json of an earlier run when it was made from this very checkpoint (same
// fingerprint) and model_int8.tflite is still the file it describes (same size); else null.
// The run directory's configuration cannot have changed (run_pipeline refuses that).
nlohmann::json up_to_date_quantize_report(const std::string& ckpt,
                                          const std::function<std::string(const char*)>& path) {
  namespace fs = std::filesystem;
  const std::string report = path("quantize.json"), file = path("model_int8.tflite");
  if (!fs::exists(report) || !fs::exists(file)) return nullptr;
  try {
    auto rep = nlohmann::json::parse(read_file_bytes(report));
    if (rep.value("checkpoint_fingerprint", nlohmann::json()) != file_fingerprint(ckpt) ||
        rep.at("file").at("bytes").get<int64_t>() != static_cast<int64_t>(fs::file_size(file)))
      return nullptr;
    return rep;
  } catch (const std::exception&) {
    return nullptr;  // unreadable or older report: redo the stage
  }
}

// Quantizes `ckpt` into model_int8.tflite, writes quantize.json, returns its report.
nlohmann::json quantize_file(const PipelineConfig& c, const PreparedData& d, const std::string& ckpt,
                             const std::function<std::string(const char*)>& path) {
  const auto& q = c.quantize;
  QuantizeJob job;
  job.ptq.calib.method = quantize::parse_calib_method(q.method);
  job.ptq.calib.percentile = q.percentile;
  job.ptq.calib.seed = c.seed;
  job.ptq.io = exporter::parse_int8_io(q.io);
  job.ptq.litert_images = q.litert_images;
  job.ptq.rotate = q.rotate;
  job.ptq.qat_steps = q.qat_steps;
  job.ptq.qat_augment = q.qat_augment;
  job.ptq.qat_lr = q.qat_lr;
  job.ptq.qat_alpha = q.qat_alpha;
  job.qat_images = q.qat_images;
  job.calib_size = q.calib_size;
  job.eval_images = q.eval_images;
  const auto r = quantize_checkpoint(ckpt, d, c.data, job, path("model_int8.tflite"));
  nlohmann::json rep = r.report;
  rep["file"]["path"] = "model_int8.tflite";
  rep["checkpoint"] = std::filesystem::path(ckpt).filename().string();
  rep["checkpoint_fingerprint"] = file_fingerprint(ckpt);
  write_text_atomic(path("quantize.json"), rep.dump(2) + "\n");
  std::cerr << "[quantize] " << quantize::format_report(rep);
  return rep;
}

// [quantize]: `ckpt` -> model_int8.tflite + quantize.json, skipped when both are up to date
// with the checkpoint (calibration, evaluation passes and, with QAT, fine-tuning cost minutes).
nlohmann::json quantize_stage(const PipelineConfig& c, const PreparedData& d,
                              const std::string& ckpt,
                              const std::function<std::string(const char*)>& path) {
  const auto& q = c.quantize;
  nlohmann::json rep = up_to_date_quantize_report(ckpt, path);
  if (!rep.is_null()) {
    std::cerr << fmt::format("[quantize] '{}' is up to date with {}; skipped\n",
                             path("model_int8.tflite"), rep["checkpoint"].get<std::string>());
  } else {
    rep = quantize_file(c, d, ckpt, path);
  }
  // The size ratio against the exported float32 file when there is one (else against the
  // float32 export run_ptq builds for the report).
  const int64_t bytes = rep["file"]["bytes"].get<int64_t>();
  int64_t f32 = rep["file"]["float32_bytes"].get<int64_t>();
  std::string f32_file = "(float32 export of " + rep["checkpoint"].get<std::string>() + ")";
  if (c.exporting.enabled && std::filesystem::exists(path("model_f32.tflite"))) {
    f32 = static_cast<int64_t>(std::filesystem::file_size(path("model_f32.tflite")));
    f32_file = "model_f32.tflite";
  }
  nlohmann::json j = {{"file", "model_int8.tflite"},
                      {"report", "quantize.json"},
                      {"checkpoint", rep["checkpoint"]},
                      {"method", q.method},
                      {"calib_images", rep["calibration"]["images"]},
                      {"io", q.io},
                      {"bytes", bytes},
                      {"float32_file", f32_file},
                      {"float32_bytes", f32},
                      {"size_ratio", static_cast<double>(bytes) / static_cast<double>(f32)},
                      {"eval_images", rep["eval_images"]},
                      {"float_accuracy", rep.value("float_accuracy", -1.0)},
                      {"int8_sim_accuracy", rep.value("int8_sim_accuracy", -1.0)},
                      {"accuracy_drop_points", rep.value("accuracy_drop_points", 0.0)},
                      {"top1_agreement", rep["int8_sim_vs_float_top1_agreement"]}};
  if (rep.contains("exact_sim")) {  // the file's own arithmetic (ViT)
    j["int8_exact_accuracy"] = rep["exact_sim"].value("accuracy", -1.0);
    j["exact_top1_agreement"] = rep["exact_sim"]["vs_float_top1_agreement"];
  }
  if (rep.contains("litert")) {
    const auto& l = rep["litert"];
    j["litert"] = {{"images", l["images"]},
                   {"top1_agreement_with_sim", l["top1_agreement_with_sim"]},
                   {"mean_abs_diff_steps", l["mean_abs_diff_steps"]},
                   {"max_abs_diff_steps", l["max_abs_diff_steps"]},
                   {"accuracy", l.value("accuracy", -1.0)}};
    if (l.contains("top1_agreement_with_exact_sim"))
      j["litert"]["top1_agreement_with_exact_sim"] = l["top1_agreement_with_exact_sim"];
  }
  return j;
}

}  // namespace

nlohmann::json run_pipeline(const PipelineConfig& c) {
  namespace fs = std::filesystem;
  fs::create_directories(c.out);
  const std::string resolved = to_toml(c);
  const std::string cfg_path = (fs::path(c.out) / "config.toml").string();
  // The stored config is re-parsed, so keys added by newer versions (with their defaults) do
  // not count as a change. Every stage's output needs teacher.pt: without it the directory
  // holds no work yet (e.g. a run that stopped at a data error) and takes the new config.
  if (fs::exists(cfg_path) &&
      to_toml(parse_pipeline_config(read_file_bytes(cfg_path), cfg_path)) != resolved) {
    if (fs::exists(fs::path(c.out) / "teacher.pt"))
      throw Error(fmt::format(
          "run directory '{}' holds a run with a different configuration (see its config.toml); "
          "choose another --out or delete the directory",
          c.out));
    std::cerr << fmt::format("[pipeline] {} has no checkpoint yet: replacing its config.toml\n",
                             c.out);
  }
  write_text_atomic(cfg_path, resolved);
  ScopedTee tee(std::cerr, (fs::path(c.out) / "pipeline.log").string());
  std::cerr << fmt::format("[pipeline] run '{}' in {} ({} threads, device {})\n", c.name, c.out,
                           train::configure_threads(c.threads), c.device);
  train::install_stop_handlers();

  auto path = [&](const char* f) { return (fs::path(c.out) / f).string(); };
  const PreparedData d = prepare_data(c.data);

  StageConfig teacher = c.teacher, student = c.student;
  for (StageConfig* s : {&teacher, &student}) {
    s->train.device = c.device;
    s->train.seed = c.seed;
  }
  teacher.train.stage = "teacher";
  student.train.stage = "student";

  auto t_teacher = run_stage(d, c.data, teacher, "", path("teacher.pt"), path("metrics.jsonl"), true);
  auto t_student = run_stage(d, c.data, student, path("teacher.pt"), path("student.pt"),
                             path("metrics.jsonl"), true);

  nlohmann::json summary = {{"name", c.name},
                            {"teacher", stage_summary(path("teacher.pt"), d, c.data, t_teacher.seconds)},
                            {"student", stage_summary(path("student.pt"), d, c.data, t_student.seconds)}};
  // The deployed model (exported, quantized): pruned.pt when [prune] is enabled.
  const bool pruned = c.prune.enabled;
  if (pruned) summary["pruned"] = prune_stage(c, d, path);
  const std::string final_ckpt = path(pruned ? "pruned.pt" : "student.pt");
  const char* final_key = pruned ? "pruned" : "student";
  {
    // The seed's verification view of the student: 32 seeded validation images.
    auto model = report::open_model(path("student.pt"));
    SamplesOptions so;
    so.seed = c.seed;
    so.title = fmt::format("run {}: student.pt ({})", c.name, summary["student"]["model"].get<std::string>());
    const auto r = write_samples_png(*model, d, c.data, so, path("samples.png"));
    summary["student"]["samples_png"] = {{"file", "samples.png"}, {"images", r.shown}, {"correct", r.correct}};
    std::cerr << fmt::format("[samples] {} ({} validation images, {} correct)\n", path("samples.png"),
                             r.shown, r.correct);
  }
  if (c.exporting.enabled) {
    // Cheap next to training, so always redone: the files always match the checkpoints.
    nlohmann::json verify = {
        {"student", export_and_verify(final_ckpt, path("model_f32.tflite"), c.exporting, d, c.data)},
        {"teacher", export_and_verify(path("teacher.pt"), path("teacher_f32.tflite"), c.exporting, d, c.data)}};
    write_text_atomic(path("verify.json"), verify.dump(2) + "\n");
    summary[final_key]["tflite"] = verify["student"];
    summary["teacher"]["tflite"] = verify["teacher"];
  }
  if (c.quantize.enabled) summary["int8"] = quantize_stage(c, d, final_ckpt, path);
  write_text_atomic(path("summary.json"), summary.dump(2) + "\n");
  std::cerr << fmt::format(
      "[pipeline] teacher {} validation accuracy: {:.2f}% ({} images)\n"
      "[pipeline] student {} validation accuracy: {:.2f}% ({} images)\n",
      summary["teacher"]["model"].get<std::string>(),
      100.0 * summary["teacher"]["val_accuracy"].get<double>(),
      summary["teacher"]["val_images"].get<int64_t>(),
      summary["student"]["model"].get<std::string>(),
      100.0 * summary["student"]["val_accuracy"].get<double>(),
      summary["student"]["val_images"].get<int64_t>());
  for (const char* stage : {"teacher", "student"})
    if (summary[stage].contains("val_accuracy_tta"))
      std::cerr << fmt::format("[pipeline] {} validation accuracy with flip+shift TTA: {:.2f}%\n",
                               stage, 100.0 * summary[stage]["val_accuracy_tta"].get<double>());
  if (pruned)
    std::cerr << fmt::format(
        "[pipeline] pruned {:.3f} M params, {:.2f} M MACs (student {:.3f} M, {:.2f} M), "
        "validation accuracy: {:.2f}%\n",
        summary["pruned"]["params"].get<double>() / 1e6, summary["pruned"]["macs"].get<double>() / 1e6,
        summary["student"]["params"].get<double>() / 1e6, summary["student"]["macs"].get<double>() / 1e6,
        100.0 * summary["pruned"]["val_accuracy"].get<double>());
  if (c.quantize.enabled) {
    const auto& q8 = summary["int8"];
    const bool exact = q8.contains("int8_exact_accuracy");
    std::cerr << fmt::format(
        "[pipeline] int8 {}: {} accuracy {:.2f}% (float {:.2f}%), top-1 agreement "
        "{:.2f}%, {:.3f} x the float32 file\n",
        q8["checkpoint"].get<std::string>(), exact ? "exact-simulation" : "simulated",
        100.0 * (exact ? q8["int8_exact_accuracy"] : q8["int8_sim_accuracy"]).get<double>(),
        100.0 * q8["float_accuracy"].get<double>(),
        100.0 * (exact ? q8["exact_top1_agreement"] : q8["top1_agreement"]).get<double>(),
        q8["size_ratio"].get<double>());
  }
  std::cerr << fmt::format("[pipeline] results in {}\n", c.out);
  return summary;
}

}  // namespace tinyvit::pipeline
