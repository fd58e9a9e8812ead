#include "pipeline/pipeline.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <streambuf>

#include "common/atomic_file.h"
#include "common/error.h"
#include "export/tflite_export.h"
#include "export/verify.h"
#include "models/checkpoint.h"
#include "models/info.h"
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
  return {{"checkpoint", std::filesystem::path(ckpt).filename().string()},
          {"model", m.model->config().name},
          {"params", info.params},
          {"macs", info.macs},
          {"val_accuracy", ev.accuracy},
          {"val_loss", ev.loss},
          {"val_images", ev.count},
          {"epochs", m.meta.value("epochs_done", 0)},
          {"train_seconds_this_run", seconds},
          {"confusion", ev.confusion}};
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
  return j;
}

}  // namespace

nlohmann::json run_pipeline(const PipelineConfig& c) {
  namespace fs = std::filesystem;
  fs::create_directories(c.out);
  const std::string resolved = to_toml(c);
  const std::string cfg_path = (fs::path(c.out) / "config.toml").string();
  // The stored config is re-parsed, so keys added by newer versions (with their defaults) do
  // not count as a change.
  if (fs::exists(cfg_path) &&
      to_toml(parse_pipeline_config(read_file_bytes(cfg_path), cfg_path)) != resolved) {
    throw Error(fmt::format(
        "run directory '{}' holds a run with a different configuration (see its config.toml); "
        "choose another --out or delete the directory",
        c.out));
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
        {"student", export_and_verify(path("student.pt"), path("model_f32.tflite"), c.exporting, d, c.data)},
        {"teacher", export_and_verify(path("teacher.pt"), path("teacher_f32.tflite"), c.exporting, d, c.data)}};
    write_text_atomic(path("verify.json"), verify.dump(2) + "\n");
    summary["student"]["tflite"] = verify["student"];
    summary["teacher"]["tflite"] = verify["teacher"];
  }
  write_text_atomic(path("summary.json"), summary.dump(2) + "\n");
  std::cerr << fmt::format(
      "[pipeline] teacher {} validation accuracy: {:.2f}% ({} images)\n"
      "[pipeline] student {} validation accuracy: {:.2f}% ({} images)\n"
      "[pipeline] results in {}\n",
      summary["teacher"]["model"].get<std::string>(),
      100.0 * summary["teacher"]["val_accuracy"].get<double>(),
      summary["teacher"]["val_images"].get<int64_t>(),
      summary["student"]["model"].get<std::string>(),
      100.0 * summary["student"]["val_accuracy"].get<double>(),
      summary["student"]["val_images"].get<int64_t>(), c.out);
  return summary;
}

}  // namespace tinyvit::pipeline
