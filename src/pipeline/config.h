#pragma once
// Pipeline configuration: a TOML file (configs/*.toml) or a built-in preset. Unknown keys are
// errors (a typo must not silently fall back to a default). Schema: docs/configuration.md.
#include <string>
#include <vector>

#include "pipeline/stage.h"

namespace tinyvit::pipeline {

// [export]: float32 .tflite of student and teacher, verified against LibTorch in LiteRT.js.
struct ExportConfig {
  bool enabled = true;
  std::string target = "tflite";   // "tflite" | "tflm" (GELU as tanh approximation)
  int64_t verify_images = 0;       // validation images to verify on (0 = the whole split)
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
};

// Parses TOML text; `origin` names the file in error messages.
PipelineConfig parse_pipeline_config(const std::string& toml_text, const std::string& origin);
// Built-in presets (the files in configs/, compiled in): smoke, quick, full.
std::string preset_toml(const std::string& name);
std::vector<std::string> preset_names();
// The fully resolved configuration, as TOML (written to the run directory).
std::string to_toml(const PipelineConfig& config);

}  // namespace tinyvit::pipeline
