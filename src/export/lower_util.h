#pragma once
// Small helpers shared by the float32 (lower_common.cpp) and int8 (lower_int8.cpp) emitters.
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "export/lower_common.h"

namespace tinyvit::exporter::detail {

template <typename T>
tfl::BuiltinOptionsUnion options(T value) {
  tfl::BuiltinOptionsUnion u;
  u.Set(std::move(value));
  return u;
}

inline tfl::ActivationFunctionType fused(Activation act) {
  return act == Activation::kRelu ? tfl::ActivationFunctionType::RELU
                                  : tfl::ActivationFunctionType::NONE;
}

inline std::vector<int32_t> dims_of(const torch::Tensor& t) {
  std::vector<int32_t> d;
  for (int64_t s : t.sizes()) d.push_back(static_cast<int32_t>(s));
  return d;
}

inline std::string shape_str(const std::vector<int32_t>& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}

}  // namespace tinyvit::exporter::detail
