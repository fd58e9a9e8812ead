// tinyvit quantize --model CKPT --calib DATA -o model_int8.tflite
// Post-training full-integer int8: calibrate on a fixed, seeded subset of the training split,
// export the int8 .tflite, and report accuracy (float vs simulated int8 on the validation
// split), LiteRT.js vs the simulation, and optionally every calibration method and per-layer
// sensitivity.
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "data/loader.h"
#include "models/checkpoint.h"
#include "pipeline/stage.h"
#include "quantize/ptq.h"
#include "train/trainer.h"

namespace tinyvit::cli {
namespace {

// `n` training images, a seeded random subset of the training split: {pixels in [0, 1], labels}.
std::pair<torch::Tensor, torch::Tensor> calibration_pixels(const pipeline::PreparedData& d, const pipeline::DataConfig& dc,
                                 int input_size, int64_t n, uint64_t seed) {
  std::vector<int64_t> idx = d.train;
  if (idx.empty()) throw Error("the training split of '" + dc.path + "' is empty");
  auto perm = torch::randperm(static_cast<int64_t>(idx.size()),
                              at::make_generator<at::CPUGeneratorImpl>(seed),
                              torch::TensorOptions().dtype(torch::kLong));
  std::vector<int64_t> pick;
  for (int64_t i = 0; i < std::min<int64_t>(n, perm.size(0)); ++i)
    pick.push_back(idx[perm[i].item<int64_t>()]);
  auto lo = pipeline::loader_options(d, dc, 256, input_size, false, {}, 0);
  lo.mean = {0.f, 0.f, 0.f};  // identity normalization: x / 255
  lo.std = {1.f, 1.f, 1.f};
  lo.shuffle = false;
  data::BatchLoader loader(d.dataset, pick, lo);
  loader.start_epoch(0);
  std::vector<torch::Tensor> images, labels;
  while (auto b = loader.next()) {
    images.push_back(b->images);
    labels.push_back(b->labels);
  }
  return {torch::cat(images), torch::cat(labels)};
}

}  // namespace

void register_quantize_command(CLI::App& app) {
  using namespace tinyvit;
  struct Args {
    std::string model, out, method = "mse", per_tensor, io = "int8", report;
    double percentile = 99.99;
    int64_t calib_size = 512, eval_limit = 1000, litert = 500;
    bool compare = false, sensitivity = false;
    std::vector<std::string> keep_float;
    int keep_float_worst = 0;
    int qat_steps = 0;
    double qat_lr = 2e-5;
    pipeline::DataConfig data;
    int threads = 0;
    std::string device = "cpu";
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "quantize", "Post-training int8 quantization: calibrate, export an int8 .tflite, report");
  cmd->add_option("--model", a->model, "Checkpoint (ViT or ResNet)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--calib", a->data.path,
                  "Calibration/evaluation data (image folders, .tar.gz, CIFAR-10 .bin)")
      ->required();
  cmd->add_option("-o,--output", a->out, "Output int8 .tflite file")->required();
  cmd->add_option("--method", a->method, "Calibration: minmax | percentile | mse")
      ->check(CLI::IsMember({"minmax", "percentile", "mse"}))
      ->capture_default_str();
  cmd->add_option("--percentile", a->percentile, "Percentile for --method percentile")
      ->capture_default_str();
  cmd->add_option("--per-tensor", a->per_tensor,
                  "Per-tensor methods, e.g. '*.attn.scores=minmax,logits=minmax'");
  cmd->add_option("--calib-size", a->calib_size, "Calibration images (seeded training subset)")
      ->capture_default_str();
  cmd->add_option("--io", a->io, "int8 | uint8 | float32 (QUANTIZE/DEQUANTIZE at the edges)")
      ->check(CLI::IsMember({"int8", "uint8", "float32"}))
      ->capture_default_str();
  cmd->add_option("--eval-limit", a->eval_limit, "Validation images for the accuracy report")
      ->capture_default_str();
  cmd->add_option("--litert", a->litert, "Of those, images also run in LiteRT.js (0 = none)")
      ->capture_default_str();
  cmd->add_flag("--compare-methods", a->compare, "Report accuracy for every calibration method");
  cmd->add_flag("--sensitivity", a->sensitivity, "Per-layer sensitivity table");
  cmd->add_option("--keep-float", a->keep_float,
                  "ViT LayerNorms to keep in float32 (e.g. blocks.5.norm2 norm)");
  cmd->add_option("--keep-float-worst", a->keep_float_worst,
                  "Keep the K LayerNorms the sensitivity analysis ranks worst in float32")
      ->capture_default_str();
  cmd->add_option("--qat-steps", a->qat_steps,
                  "Quantization-aware fine-tuning steps with distillation (0 = PTQ only)")
      ->capture_default_str();
  cmd->add_option("--qat-lr", a->qat_lr, "QAT learning rate")->capture_default_str();
  cmd->add_option("--report", a->report, "JSON report (default: OUTPUT.json)");
  cmd->add_option("--val-size", a->data.val_size, "Validation images (class-stratified, seeded)")
      ->capture_default_str();
  cmd->add_option("--split-seed", a->data.split_seed, "Seed of the train/validation split")
      ->capture_default_str();
  cmd->add_option("--cache-dir", a->data.cache_dir, "Decoded-dataset cache ('' = none)")
      ->capture_default_str();
  cli::add_runtime_options(cmd, a->threads, a->device, a->seed);
  cmd->callback([a] {
    train::configure_threads(a->threads);
    auto m = models::load_checkpoint(a->model);
    quantize::PtqOptions o;
    o.calib.method = quantize::parse_calib_method(a->method);
    o.calib.percentile = a->percentile;
    o.calib.seed = a->seed;
    if (!a->per_tensor.empty()) o.calib.overrides = quantize::parse_overrides(a->per_tensor);
    o.io = exporter::parse_int8_io(a->io);
    o.litert_images = a->litert;
    o.compare_methods = a->compare;
    o.sensitivity = a->sensitivity;
    o.keep_float = a->keep_float;
    o.keep_float_worst = a->keep_float_worst;
    o.qat_steps = a->qat_steps;
    o.qat_lr = a->qat_lr;
    if (m.meta.contains("mean") && m.meta.contains("std")) {
      o.mean = m.meta["mean"].get<std::vector<float>>();
      o.std = m.meta["std"].get<std::vector<float>>();
    } else {
      std::cerr << "note: " << a->model << " stores no mean/std: the model sees [0,1] pixels\n";
    }
    if (a->eval_limit > 0) a->data.val_limit = a->eval_limit;
    const int S = m.model->config().img_size();
    const auto d = pipeline::prepare_data(a->data);
    const auto [calib, calib_labels] =
        calibration_pixels(d, a->data, S, a->calib_size, a->seed);
    const auto [pixels, labels] = pipeline::validation_pixels(d, a->data, S);
    const auto r = quantize::run_ptq(*m.model, calib, calib_labels, pixels, labels, a->out, o);
    std::cout << quantize::format_report(r.report);
    const std::string rp = a->report.empty() ? a->out + ".json" : a->report;
    write_text_atomic(rp, r.report.dump(2) + "\n");
    std::cout << "report: " << rp << "\n";
  });
}

}  // namespace tinyvit::cli
