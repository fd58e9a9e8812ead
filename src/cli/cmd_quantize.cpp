// tinyvit quantize --model CKPT --calib DATA -o model_int8.tflite
// Post-training full-integer int8: calibrate on a fixed, seeded subset of the training split,
// export the int8 .tflite, and report accuracy (float vs simulated int8 on the validation
// split), LiteRT.js vs the simulation, and optionally every calibration method and per-layer
// sensitivity.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "pipeline/quantize_run.h"
#include "train/trainer.h"

namespace tinyvit::cli {

void register_quantize_command(CLI::App& app) {
  using namespace tinyvit;
  struct Args {
    std::string model, out, method = "percentile", per_tensor, io = "int8", report;
    double percentile = 99.99;
    int64_t calib_size = 512, eval_limit = 1000, litert = 500;
    bool compare = false, sensitivity = false, rotate = true, rotate_heads = false;
    std::vector<std::string> keep_float;
    int keep_float_worst = 0;
    int qat_steps = 0;
    double qat_lr = 2e-5;
    double qat_alpha = 0.7;
    double qat_temperature = 2.0;
    int64_t qat_images = 0;
    bool qat_augment = false;
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
  add_switch(cmd, "rotate", a->rotate,
             "ViT: rotate the residual stream (orthogonal, LayerNorm-invariant) before "
             "calibration to spread its outlier channels (ResNets: ignored)");
  cmd->add_flag("--rotate-heads", a->rotate_heads,
                "ViT, with --rotate: also rotate each attention head's q/k and v/proj dimensions");
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
  cmd->add_option("--qat-alpha", a->qat_alpha,
                  "QAT loss weight of the distillation (KL to the float model) vs labels; 1 = "
                  "only agree with float")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--qat-temperature", a->qat_temperature, "QAT distillation temperature T")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--qat-images", a->qat_images,
                  "QAT training images (seeded training subset; 0 = the calibration images)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--qat-augment", a->qat_augment,
                "QAT: random crop (4-pixel padding) and horizontal flip per image");
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
    pipeline::QuantizeJob job;
    quantize::PtqOptions& o = job.ptq;
    o.calib.method = quantize::parse_calib_method(a->method);
    o.calib.percentile = a->percentile;
    o.calib.seed = a->seed;
    if (!a->per_tensor.empty()) o.calib.overrides = quantize::parse_overrides(a->per_tensor);
    o.io = exporter::parse_int8_io(a->io);
    o.litert_images = a->litert;
    o.compare_methods = a->compare;
    o.rotate = a->rotate;
    o.rotate_heads = a->rotate_heads;
    o.sensitivity = a->sensitivity;
    o.keep_float = a->keep_float;
    o.keep_float_worst = a->keep_float_worst;
    o.qat_steps = a->qat_steps;
    o.qat_lr = a->qat_lr;
    o.qat_alpha = a->qat_alpha;
    o.qat_temperature = a->qat_temperature;
    o.qat_augment = a->qat_augment;
    job.qat_images = a->qat_images;
    job.calib_size = a->calib_size;
    if (a->eval_limit > 0) a->data.val_limit = a->eval_limit;
    const auto d = pipeline::prepare_data(a->data);
    const auto r = pipeline::quantize_checkpoint(a->model, d, a->data, job, a->out);
    std::cout << quantize::format_report(r.report);
    const std::string rp = a->report.empty() ? a->out + ".json" : a->report;
    write_text_atomic(rp, r.report.dump(2) + "\n");
    std::cout << "report: " << rp << "\n";
  });
}

}  // namespace tinyvit::cli
