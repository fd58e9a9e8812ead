#pragma once
// float32 TensorFlow Lite export of the toolkit's classifiers (ViT and ResNet-18), written by
// our own flatbuffer writer. File layout, op lowering and conventions: docs/tflite_export.md.
//
//   input  "image"  float32 (1, S, S, C) NHWC, pixels scaled to [0, 1]; the dataset's
//                   (x - mean) / std runs inside the graph (omitted when mean/std are empty,
//                   then the input is already normalized, NHWC)
//   output "logits" float32 (1, classes)
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/lower_common.h"
#include "models/model.h"

namespace tinyvit::exporter {

enum class ExportTarget {
  kTflite,  // any TFLite runtime: exact GELU builtin
  kTflm,    // TensorFlow Lite Micro: GELU -> tanh approximation from MUL/ADD/TANH
};
// "tflite" | "tflm"; throws tinyvit::Error otherwise.
ExportTarget parse_export_target(const std::string& name);

struct ExportOptions {
  ExportTarget target = ExportTarget::kTflite;
  std::vector<float> mean;  // per input channel, on [0,1] pixels; empty = no normalization
  std::vector<float> std;
  std::string description;  // stored in Model.description; "" = "tinyvit-edge <model name>"
  // Label i's name, stored as "class_names" in the "tinyvit" metadata (predict and visualize
  // show them); empty = none stored. Must have one name per class.
  std::vector<std::string> class_names;
};

struct ExportResult {
  std::vector<uint8_t> bytes;       // the .tflite file
  int64_t parameter_bytes = 0;      // 4 x number of the model's parameters (float32)
  int64_t constant_bytes = 0;       // bytes of constant data in the file
  int num_ops = 0;
  int num_tensors = 0;
  std::map<std::string, int> op_counts;
  std::vector<int32_t> input_shape;   // (1, S, S, C)
  std::vector<int32_t> output_shape;  // (1, classes)
  double seconds = 0;               // lowering + serialisation + self-check
};

// Lowers the module (in eval semantics: dropout off, BatchNorm folded) to a .tflite flatbuffer.
// Reads only the module's config and its named parameters/buffers. Throws tinyvit::Error if a
// parameter is missing or has the wrong shape, or the config is not exportable.
ExportResult export_tflite(const models::Classifier& model, const ExportOptions& options);
ExportResult export_tflite(const models::ModelConfig& config, const ParamMap& params,
                           const ExportOptions& options);

// The "tinyvit" metadata's "class_names" (nothing when `names` is empty). Throws tinyvit::Error
// unless there is one name per class.
void add_class_names(nlohmann::json& meta, const std::vector<std::string>& names,
                     int num_classes);

// Atomic: the file at `path` is the old one or the complete new one, never half of one.
void write_tflite(const std::string& path, const std::vector<uint8_t>& bytes);

// Firmware form: "<prefix>.h" declares, "<prefix>.cc" defines
//   alignas(16) const unsigned char <symbol>[];  const unsigned int <symbol>_len;
// and, when `class_names` is not empty (label order),
//   const char* const <symbol>_class_names[];  const unsigned int <symbol>_num_classes;
// (names as C string literals: quote, backslash, '?' (trigraphs) and bytes outside printable
// ASCII as octal escapes, so UTF-8 names survive any compiler's source charset). `symbol` must
// be a C identifier. Both files are written atomically.
void write_c_array(const std::string& path_prefix, const std::vector<uint8_t>& bytes,
                   const std::string& symbol, const std::vector<std::string>& class_names = {});

}  // namespace tinyvit::exporter
