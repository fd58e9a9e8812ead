#pragma once
// Checkpoint files (LibTorch serialize archive, written atomically). Layout: docs/formats.md.
//   "format"   "tinyvit-checkpoint-v1"
//   "config"   ModelConfig as JSON text   -> the model is rebuilt from the file alone
//   "meta"     JSON text: mean, std, class_names, input_size, metrics, stage, ...
//   "model"    parameters and buffers, nested by module (names = timm / torchvision names)
//   "train"    (optional) trainer state, written by train/ (optimizer, epoch, step, RNG)
#include <torch/torch.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/model.h"

namespace tinyvit::models {

using ArchiveWriter = std::function<void(torch::serialize::OutputArchive&)>;
using ArchiveReader = std::function<void(torch::serialize::InputArchive&)>;

// `extra` may add entries (e.g. the trainer's state under "train").
void save_checkpoint(const std::string& path, Classifier& model, const nlohmann::json& meta,
                     const ArchiveWriter& extra = {});

struct LoadedModel {
  ClassifierPtr model;
  nlohmann::json meta;
};

// Rebuilds the model from its stored config and loads its weights (on CPU, eval mode).
// Throws tinyvit::Error naming the file if it is missing, truncated or not a checkpoint.
LoadedModel load_checkpoint(const std::string& path, const ArchiveReader& extra = {});

// The checkpoint meta's "class_names" (label order); empty when it stores none.
std::vector<std::string> stored_class_names(const nlohmann::json& meta);

// True if the archive at `path` holds trainer state (i.e. a run can resume from it).
bool checkpoint_has_key(const std::string& path, const std::string& key);

}  // namespace tinyvit::models
