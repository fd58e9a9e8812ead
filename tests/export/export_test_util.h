#pragma once
// Helpers shared by the export tests: a temp directory, LiteRT.js runs, comparisons.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "export/litert_runner.h"
#include "export/tflite_builder.h"
#include "export/tflite_export.h"

namespace tinyvit::exporter::testing {

// tools/litert in this source tree (passed by CMake), so tests never depend on the cwd.
inline std::string test_litert_dir() { return TINYVIT_LITERT_DIR_FOR_TESTS; }

inline std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tinyvit-export-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

// Writes `bytes` to a temp .tflite and runs the float32 batch `inputs` (N x per-sample
// elements, TFLite layout) through LiteRT.js. Fails the test with the runner's message
// (e.g. "run scripts/install-deps.sh --test") if LiteRT.js cannot run.
inline torch::Tensor run_in_litert(const std::vector<uint8_t>& bytes, const torch::Tensor& inputs,
                                   const std::vector<int64_t>& out_shape,
                                   const std::string& name) {
  const std::string path = temp_path(name + ".tflite");
  write_tflite(path, bytes);
  auto x = inputs.to(torch::kFloat32).contiguous();
  std::vector<float> flat(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  std::vector<float> y = run_litert_f32(path, flat, test_litert_dir());
  std::vector<int64_t> shape{inputs.size(0)};
  shape.insert(shape.end(), out_shape.begin(), out_shape.end());
  auto out = torch::from_blob(y.data(), {static_cast<int64_t>(y.size())}, torch::kFloat32).clone();
  if (out.numel() != c10::multiply_integers(shape)) {
    ADD_FAILURE() << name << ": LiteRT returned " << out.numel() << " values";
    return torch::zeros(shape);
  }
  return out.view(shape);
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace tinyvit::exporter::testing
