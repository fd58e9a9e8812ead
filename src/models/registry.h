#pragma once
// Named model configurations (timm-style registry). A new variant is a few lines in registry.cpp.
#include <string>
#include <vector>

#include "models/config.h"

namespace tinyvit::models {

// Throws tinyvit::Error listing the registered names when `name` is unknown.
ModelConfig model_config(const std::string& name, int num_classes = 10);
std::vector<std::string> registered_model_names();

}  // namespace tinyvit::models
