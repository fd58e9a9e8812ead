#pragma once
// Pretrained weights -> our models (docs/pretrained.md).
//
//   read_weights (safetensors or .pth) -> canonicalize names (name_map.h) -> load_into:
//     - every parameter/buffer of the target model is looked up by name and shape-checked;
//     - the classifier head (ViT head/head_dist, ResNet fc) is replaced by a fresh, seeded one
//       when its class count differs;
//     - ViT pos_embed is resampled (bicubic over the patch grid, prefix-token rows kept) when the
//       grid differs, and patch_embed.proj.weight is resized (FlexiViT pseudo-inverse) when the
//       patch size differs;
//     - missing required tensors are an error unless allow_missing; unexpected ones are reported.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "import/state_dict.h"
#include "models/model.h"

namespace tinyvit::import {

// By content: safetensors (u64 header length + '{') or a zip-format .pth (PK\x03\x04).
StateDict read_weights(const std::string& path);

struct ImportOptions {
  std::string arch;             // registry name (models/registry.h)
  int num_classes = 10;
  int img_size = 0;             // 0 = the architecture's default
  bool allow_missing = false;   // keep random init for missing/mismatched tensors
  uint64_t seed = 0;            // initialises the new head (and anything left random)
};

struct ImportReport {
  std::vector<std::string> loaded;       // our names, loaded unchanged
  std::vector<std::string> adapted;      // "<name>: what was done" (resampled, resized)
  std::vector<std::string> replaced;     // head tensors re-initialised (class count differs)
  std::vector<std::string> missing;      // required by the model, absent in the file
  std::vector<std::string> mismatched;   // "<name>: file (a, b) vs model (c, d)"
  std::vector<std::string> unexpected;   // in the file, unused
  std::vector<std::string> notes;        // name-map steps applied
  std::string format() const;            // human-readable, several lines
  nlohmann::json to_json() const;        // counts + the lists (for checkpoint meta)
};

struct ImportResult {
  models::ClassifierPtr model;  // eval mode, CPU
  ImportReport report;
};

// Builds options.arch (torch::manual_seed(options.seed) first) and loads `sd` into it.
// Throws tinyvit::Error (message = the report) when required tensors are missing or mismatched
// and !options.allow_missing.
ImportResult import_state_dict(const StateDict& sd, const ImportOptions& options);

// pos: (1, P_src + g_src^2, D) -> (1, P_dst + gh*gw, D); keeps the first P_dst prefix rows
// (class token, distillation token) as they are and resamples the square grid bicubically
// (antialiased when shrinking, as timm's resample_abs_pos_embed does).
torch::Tensor resample_pos_embed(const torch::Tensor& pos, int src_prefix, int dst_prefix, int gh,
                                 int gw);

// Patch-embedding kernel w: (D, C, p, p) -> (D, C, q, q) so that <patch, w> is preserved as
// well as possible for a patch resized from p to q (FlexiViT's pseudo-inverse resize).
torch::Tensor resize_patch_kernel(const torch::Tensor& w, int q);

// Our model's tensors with our names (parameters then buffers, module order), CPU.
StateDict model_state_dict(models::Classifier& model);

// Writes a checkpoint's weights as safetensors (F32, I64 for BN counters); __metadata__ holds
// "format": "pt", "tinyvit_config" and "tinyvit_meta" (JSON text).
void export_safetensors(const std::string& path, models::Classifier& model,
                        const nlohmann::json& meta);

// The checkpoint meta `tinyvit import` writes: ImageNet mean/std, class names (generic
// "class_<i>" unless given), input size, source file and the import report.
nlohmann::json import_meta(const models::ModelConfig& config, const std::string& source,
                           const std::vector<std::string>& class_names,
                           const ImportReport& report);

}  // namespace tinyvit::import
