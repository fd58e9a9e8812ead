#pragma once
// `tinyvit pipeline`: every stage into one run directory.
//   config.toml      the resolved configuration
//   teacher.pt       [teacher] trained with cross-entropy
//   student.pt       [student] distilled from teacher.pt
//   metrics.jsonl    one line per epoch and stage
//   pruned.pt        [prune] (optional) student.pt pruned, recovered by distillation from it
//   model_f32.tflite student (pruned.pt when [prune] is on) exported (float32), verified in
//                    LiteRT.js; teacher_f32.tflite too
//   model_int8.tflite [quantize] (optional) int8 of the same model; quantize.json its report
//   verify.json      agreement / logit differences / accuracies of both files vs LibTorch
//   summary.json     validation accuracy, parameters, MACs, time per stage
//   pipeline.log     everything printed
// Rerunning the same command skips finished stages and resumes an interrupted one.
#include <nlohmann/json.hpp>

#include "pipeline/config.h"

namespace tinyvit::pipeline {

nlohmann::json run_pipeline(const PipelineConfig& config);

}  // namespace tinyvit::pipeline
