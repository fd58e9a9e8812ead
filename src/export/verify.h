#pragma once
// Exported .tflite vs the LibTorch model it came from, with LiteRT.js (a runtime we did not
// write) and tinyvit's own runtime as the two backends: top-1 agreement, max/mean |logit
// difference|, and the accuracy of each.
//
// Both sides see the same images: `pixels` (N, C, S, S) in [0, 1]. LibTorch gets
// (pixels - mean) / std (what its forward expects); the .tflite gets the pixels as NHWC when its
// "tinyvit" metadata says normalization is inside the graph, else the normalized NHWC tensor.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "export/locate.h"
#include "models/model.h"

namespace tinyvit::exporter {

struct VerifyResult {
  int64_t count = 0;
  double agreement = 0;        // fraction of images with the same top-1 class
  double max_abs_diff = 0;     // max over images and classes of |logit_tflite - logit_torch|
  double mean_abs_diff = 0;
  double torch_accuracy = 0;   // top-1 vs labels (when labels are given)
  double tflite_accuracy = 0;
  int64_t disagreements = 0;
  // Disagreements where LibTorch's top-2 margin is within 2 x that image's max |diff|: a
  // near-tie that float rounding can flip, not a lowering error.
  int64_t near_tie_disagreements = 0;
  double seconds_litert = 0;   // LiteRT.js wall time for the whole batch (one Node process)
  double seconds_torch = 0;
  // The same file in tinyvit's own runtime (runtime/, auto kernels), the second backend.
  struct Backend {
    double agreement = 0;         // top-1 agreement with LibTorch
    double max_abs_diff = 0;      // vs LibTorch
    double mean_abs_diff = 0;
    double accuracy = 0;
    int64_t disagreements = 0;
    double max_abs_diff_vs_litert = 0;
    double agreement_with_litert = 0;
    double seconds = 0;
  } runtime;
  // The runtime again with Int8Arithmetic::kLiteRt (what LiteRT computes for int8 ops): should
  // give LiteRT's logits bit for bit. For a float32 file both arithmetics are the same run.
  struct LiteRtArithmetic {
    double identical_logits = 0;  // share of logits bit-identical to LiteRT's
    int64_t identical_images = 0;  // images whose logits are all bit-identical
    std::vector<int64_t> differing;  // indices of the first (up to 20) other images
    double max_abs_diff_vs_litert = 0;
    double agreement_with_litert = 0;
    double seconds = 0;             // for a float file: the reference run's
    bool same_run = false;          // float file: the reference run's outputs, not run again
  } runtime_litert;
  // With `locate_images` > 0: every op output of the file, LiteRT.js vs the runtime in
  // LiteRT's arithmetic, on the first locate_images images (compare_every_tensor).
  std::vector<TensorDiff> tensor_diffs;
  int64_t tensor_diff_images = 0;
};

VerifyResult verify_tflite(models::Classifier& model, const std::string& tflite_path,
                           const torch::Tensor& pixels, const torch::Tensor& labels,
                           const std::vector<float>& mean, const std::vector<float>& std,
                           int64_t locate_images = 0);

nlohmann::json to_json(const VerifyResult& r);
std::string format_verify(const VerifyResult& r);

// The "tinyvit" metadata entry our exporter writes (JSON: input convention, mean, std, model,
// target); an empty object when the file has none.
nlohmann::json read_tinyvit_metadata(const std::string& tflite_path);

}  // namespace tinyvit::exporter
