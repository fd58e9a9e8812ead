#pragma once
// A state dict as files hold it: (name, tensor) pairs in file order, tensors on the CPU in their
// stored dtype (floating tensors are converted to float32 when they are loaded into a model).
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace tinyvit::import {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

}  // namespace tinyvit::import
