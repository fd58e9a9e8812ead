#pragma once
// Helpers for the int8 tests: tiny models, 8-bit images, and the int8-rule inspection that
// every int8 file these tests write goes through (write_int8_file).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "export/int8_rules.h"
#include "export/tflite_export.h"
#include "export/tflite_reader.h"
#include "models/model.h"

namespace tinyvit::quantize::testing {

inline const std::vector<float> kMean{0.4914f, 0.4822f, 0.4465f};
inline const std::vector<float> kStd{0.2470f, 0.2435f, 0.2616f};

inline std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tinyvit-quantize-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

// Writes an int8 file and inspects it: every PRODUCT.md int8 rule (int8_rules.h) holds and
// (integer_only) no operator other than the edge QUANTIZE/DEQUANTIZE touches a float tensor.
inline std::string write_int8_file(const std::vector<uint8_t>& bytes, const std::string& name,
                                   bool integer_only = true) {
  const std::string path = temp_path(name + ".tflite");
  exporter::write_tflite(path, bytes);
  const auto model = exporter::read_tflite_file(path);
  const auto v = exporter::check_int8_rules(*model);
  EXPECT_TRUE(v.empty()) << name << ": " << v.size() << " int8 rule violations, first: "
                         << (v.empty() ? "" : v[0]);
  const auto f = exporter::float_ops(*model);
  if (integer_only) {
    EXPECT_TRUE(f.empty()) << name << ": " << f.size() << " op kinds still compute in float32";
  }
  return path;
}

// n seeded random 8-bit images as [0,1] pixels (values k/255), (n, 3, S, S).
inline torch::Tensor random_pixels(int64_t n, int S, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, 256, {n, 3, S, S}).to(torch::kFloat32) / 255.f;
}

inline models::ModelConfig tiny_vit(bool distill) {
  models::ModelConfig c;
  c.name = distill ? "q_test_vit_distill" : "q_test_vit";
  c.family = "vit";
  auto& v = c.vit;
  v.img_size = 16;
  v.patch_size = 4;
  v.num_classes = 10;
  v.embed_dim = 32;
  v.depth = 2;
  v.num_heads = 2;
  v.head_dim = 16;
  v.block_heads = {2, 1};  // per-block widths, as a pruned model has
  v.block_mlp = {64, 40};
  v.distill_token = distill;
  return c;
}

inline models::ModelConfig tiny_resnet(const std::string& stem) {
  models::ModelConfig c;
  c.name = "q_test_resnet_" + stem;
  c.family = "resnet";
  c.resnet.stem = stem;
  c.resnet.width = 8;
  c.resnet.img_size = 32;
  c.resnet.num_classes = 10;
  return c;
}

// Seeded, perturbed weights (nothing trivial: non-unit LayerNorm, non-zero tokens, BN stats),
// with a head scaled so logits spread over several units like a trained model's.
inline models::ClassifierPtr make_model(const models::ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  auto m = models::build_model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : m->named_parameters()) p.value().add_(torch::randn_like(p.value()) * 0.1);
  for (auto& b : m->named_buffers()) {
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 1.5);
    if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0.0, 0.2);
  }
  for (auto& p : m->named_parameters()) {
    if (p.key().find("bn2.weight") != std::string::npos) p.value().mul_(0.2);
    if (p.key().rfind("head", 0) == 0 || p.key().rfind("fc.", 0) == 0) p.value().mul_(5.0);
  }
  m->eval();
  return m;
}

}  // namespace tinyvit::quantize::testing
