#pragma once
// Pipeline configuration: a TOML file (configs/*.toml) or a built-in preset. Unknown keys are
// errors (a typo must not silently fall back to a default). Schema: docs/configuration.md.
#include <string>
#include <vector>

#include "pipeline/prune_run.h"
#include "pipeline/stage.h"

namespace tinyvit::pipeline {

// [export]: float32 .tflite of student and teacher, verified against LibTorch in LiteRT.js.
struct ExportConfig {
  bool enabled = true;
  std::string target = "tflite";   // "tflite" | "tflm" (GELU as tanh approximation)
  int64_t verify_images = 0;       // validation images to verify on (0 = the whole split)
};

// [quantize]: post-training int8 of the exported model (pruned.pt when [prune] is enabled,
// else student.pt) -> model_int8.tflite + quantize.json. The defaults are `tinyvit quantize`'s.
struct QuantizeConfig {
  bool enabled = false;
  std::string method = "percentile";  // calibration: minmax | percentile | mse
  double percentile = 99.99;       // for method = "percentile"
  int64_t calib_size = 512;        // calibration images (seeded subset of the training split)
  std::string io = "int8";         // int8 | uint8 | float32 model inputs/outputs
  int64_t eval_images = 0;         // validation images for the accuracy report (0 = all)
  int64_t litert_images = 500;     // of those, also run in LiteRT.js (0 = none)
  bool rotate = true;              // ViT: rotate the residual stream first (quantize/rotate.h)
  // QAT after calibration (quantize/qat.h; `tinyvit quantize --qat-*`); 0 steps = PTQ only
  int qat_steps = 0;
  int64_t qat_images = 0;          // training images for QAT (0 = the calibration images)
  bool qat_augment = false;        // random crop + flip per image
  double qat_lr = 2e-5;
  double qat_alpha = 0.7;          // KL-to-float weight vs labels (1 = only agree with float)
};

// [prune]: structured pruning of student.pt -> pruned.pt, recovered by distillation from the
// unpruned student. The defaults are `tinyvit prune`'s (PruneJob).
struct PruneConfig {
  bool enabled = false;
  PruneJob job;                    // model/out/teacher/device/seed are set by the pipeline
};

struct PipelineConfig {
  std::string name = "run";
  std::string out;               // run directory; default runs/<name>
  std::string device = "cpu";
  int threads = 0;               // 0 = all cores
  uint64_t seed = 0;
  DataConfig data;
  StageConfig teacher;           // [teacher]: trained with cross-entropy
  StageConfig student;           // [student]: distilled from the teacher
  ExportConfig exporting;        // [export]
  PruneConfig prune;             // [prune]
  QuantizeConfig quantize;       // [quantize]
};

// Parses TOML text; `origin` names the file in error messages.
PipelineConfig parse_pipeline_config(const std::string& toml_text, const std::string& origin);
// Built-in presets (the files in configs/, compiled in): smoke, quick, full.
std::string preset_toml(const std::string& name);
std::vector<std::string> preset_names();
// The fully resolved configuration, as TOML (written to the run directory).
std::string to_toml(const PipelineConfig& config);

}  // namespace tinyvit::pipeline
