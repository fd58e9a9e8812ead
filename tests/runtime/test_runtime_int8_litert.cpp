// int8 one-op graphs (built here with quantization parameters, following TFLite's int8
// conventions: per-channel symmetric int8 weights with zero point 0, int32 bias with scale
// in_scale * w_scale, per-tensor asymmetric activations) run in our runtime (reference
// kernels, and the AVX2 variants which must be bit-exact with them) and in LiteRT.js.
//
// Which arithmetic each side uses: ours = TFLite's reference integer arithmetic (TFLite Micro's
// kernels). LiteRT.js (wasm) delegates FULLY_CONNECTED, CONV_2D, BATCH_MATMUL, ADD, SUB, MUL,
// MEAN, SQUARED_DIFFERENCE?, QUANTIZE/DEQUANTIZE to XNNPACK, which requantizes in float with
// one rounding (ties to even). Its compileModel() options (accelerator 'wasm', cpuOptions:
// numThreads) have no switch to turn XNNPACK off, so these comparisons allow ONE quantization
// step on any output, and we report how many outputs differ. Pure data movement must match
// exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>

#include "export/litert_runner.h"
#include "export/tflite_export.h"
#include "rt_test_util.h"
#include "tiny_model.h"

namespace tinyvit::rt::testing {
namespace {

using B = tfl::BuiltinOperator;

std::string litert_dir8() { return TINYVIT_LITERT_DIR_FOR_TESTS; }

std::vector<uint8_t> litert8(const std::vector<uint8_t>& model, const std::vector<uint8_t>& in,
                             const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tinyvit-rt8-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / (name + ".tflite")).string();
  exporter::write_tflite(path, model);
  return exporter::run_litert(path, in.data(), in.size(), litert_dir8()).bytes;
}

struct Int8Case {
  std::string name;
  std::vector<uint8_t> model;
  std::vector<uint8_t> inputs;  // N samples of raw input bytes
  bool float_out = false;
  int max_steps = 1;  // allowed |ours - LiteRT| in quantization steps (0 = exact)
};

void check_int8(const Int8Case& c) {
  const auto want = litert8(c.model, c.inputs, c.name);
  const auto ref = run_runtime(c.model, c.inputs.data(), c.inputs.size(), KernelSet::kReference);
  const auto fast = run_runtime(c.model, c.inputs.data(), c.inputs.size(), KernelSet::kAuto);
  ASSERT_EQ(ref.size(), want.size()) << c.name;
  EXPECT_EQ(ref, fast) << c.name << ": AVX2 variant is not bit-exact with the reference";
  if (c.float_out) {
    const float* a = reinterpret_cast<const float*>(ref.data());
    const float* b = reinterpret_cast<const float*>(want.data());
    double mx = 0;
    for (std::size_t i = 0; i < ref.size() / 4; ++i) mx = std::max(mx, std::fabs(double(a[i]) - b[i]));
    std::cout << "[ int8    ] " << c.name << ": max |ours - LiteRT| = " << mx << "\n";
    EXPECT_LE(mx, 1e-6) << c.name;
    return;
  }
  int diff = 0, maxd = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const int d = std::abs(int(int8_t(ref[i])) - int(int8_t(want[i])));
    diff += d != 0;
    maxd = std::max(maxd, d);
  }
  std::cout << "[ int8    ] " << c.name << ": " << diff << " of " << ref.size()
            << " outputs differ from LiteRT (max " << maxd << " step)\n";
  EXPECT_LE(maxd, c.max_steps) << c.name;
}

std::vector<uint8_t> as_bytes(const std::vector<int8_t>& v) {
  return std::vector<uint8_t>(v.begin(), v.end());
}

// Per-channel weights for (out, ...) with symmetric scales from the max |w| of each channel.
Quant per_channel(std::mt19937& rng, int channels) {
  Quant q;
  std::uniform_real_distribution<float> u(0.002f, 0.02f);
  for (int c = 0; c < channels; ++c) {
    q.scale.push_back(u(rng));
    q.zero_point.push_back(0);
  }
  q.axis = 0;
  return q;
}

Quant bias_quant(float in_scale, const Quant& w) {
  Quant q;
  for (float s : w.scale) {
    q.scale.push_back(in_scale * s);
    q.zero_point.push_back(0);
  }
  return q;
}

std::vector<int32_t> rand_bias(std::mt19937& rng, int n) {
  std::uniform_int_distribution<int> d(-3000, 3000);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

constexpr int kSamples = 64;

Int8Case fc_case(bool per_ch) {
  std::mt19937 rng(1);
  const int K = 40, U = 24, T = 5;
  TinyModel m;
  const float sx = 0.05f;
  const int x = m.i8("x", {1, T, K}, sx, 3);
  Quant wq = per_ch ? per_channel(rng, U) : per_tensor(0.01f, 0);
  const int w = m.const_i8("w", {U, K}, rand_i8(rng, U * K, -127, 127), wq);
  const int b = m.const_i32("b", {U}, rand_bias(rng, U), bias_quant(sx, wq));
  const int y = m.i8("y", {1, T, U}, 0.08f, -5);
  tfl::FullyConnectedOptionsT o;
  o.keep_num_dims = true;
  m.op(B::FULLY_CONNECTED, {x, w, b}, {y}, opts(o), per_ch ? 5 : 4);
  m.io({x}, {y});
  return {per_ch ? "fc_per_channel" : "fc_per_tensor", m.finish(), as_bytes(rand_i8(rng, kSamples * T * K))};
}

Int8Case conv_case(int k, int stride, bool same, bool relu) {
  std::mt19937 rng(2);
  const int H = 8, Ci = 4, Co = 8;
  TinyModel m;
  const float sx = 0.03f;
  const int x = m.i8("x", {1, H, H, Ci}, sx, -10);
  Quant wq = per_channel(rng, Co);
  const int w = m.const_i8("w", {Co, k, k, Ci}, rand_i8(rng, Co * k * k * Ci, -127, 127), wq);
  const int b = m.const_i32("b", {Co}, rand_bias(rng, Co), bias_quant(sx, wq));
  const int oh = same ? (H + stride - 1) / stride : (H - k) / stride + 1;
  const int y = m.i8("y", {1, oh, oh, Co}, 0.05f, relu ? -128 : 2);
  tfl::Conv2DOptionsT o;
  o.padding = same ? tfl::Padding::SAME : tfl::Padding::VALID;
  o.stride_h = o.stride_w = stride;
  o.fused_activation_function = relu ? tfl::ActivationFunctionType::RELU : tfl::ActivationFunctionType::NONE;
  m.op(B::CONV_2D, {x, w, b}, {y}, opts(o), 3);
  m.io({x}, {y});
  return {"conv" + std::to_string(k) + "x" + std::to_string(k) + "_s" + std::to_string(stride) +
              (same ? "_same" : "_valid") + (relu ? "_relu" : ""),
          m.finish(), as_bytes(rand_i8(rng, kSamples * H * H * Ci))};
}

Int8Case bmm_case() {
  std::mt19937 rng(3);
  TinyModel m;
  const int x = m.i8("x", {2, 5, 16}, 0.04f, 1);
  const int bt = m.const_i8("b", {2, 16, 20}, rand_i8(rng, 2 * 16 * 20), per_tensor(0.03f, -2));
  const int y = m.i8("y", {2, 5, 20}, 0.1f, 0);
  m.op(B::BATCH_MATMUL, {x, bt}, {y}, opts(tfl::BatchMatMulOptionsT{}), 4);
  m.io({x}, {y});
  return {"batch_matmul", m.finish(), as_bytes(rand_i8(rng, kSamples * 2 * 5 * 16))};
}

Int8Case binary_case(B code, const std::string& name) {
  std::mt19937 rng(4);
  TinyModel m;
  const int x = m.i8("x", {1, 5, 16}, 0.05f, -7);
  const int c = m.const_i8("c", {16}, rand_i8(rng, 16), per_tensor(0.02f, 4));
  const int y = m.i8("y", {1, 5, 16}, code == B::MUL ? 0.01f : 0.06f, 3);
  tfl::BuiltinOptionsUnion o;
  if (code == B::ADD) o = opts(tfl::AddOptionsT{});
  if (code == B::SUB) o = opts(tfl::SubOptionsT{});
  if (code == B::MUL) o = opts(tfl::MulOptionsT{});
  if (code == B::SQUARED_DIFFERENCE) o = opts(tfl::SquaredDifferenceOptionsT{});
  m.op(code, {x, c}, {y}, o, 2);
  m.io({x}, {y});
  return {name, m.finish(), as_bytes(rand_i8(rng, kSamples * 5 * 16))};
}

Int8Case mean_case() {
  std::mt19937 rng(5);
  TinyModel m;
  const int x = m.i8("x", {1, 5, 16}, 0.05f, -7);
  const int ax = m.const_i32("axes", {1}, {2});
  const int y = m.i8("y", {1, 5, 1}, 0.03f, 2);
  tfl::ReducerOptionsT o;
  o.keep_dims = true;
  m.op(B::MEAN, {x, ax}, {y}, opts(o), 2);
  m.io({x}, {y});
  return {"mean_last_axis", m.finish(), as_bytes(rand_i8(rng, kSamples * 5 * 16))};
}

Int8Case gelu_case() {
  std::mt19937 rng(6);
  TinyModel m;
  const int x = m.i8("x", {1, 5, 16}, 0.04f, 0);
  const int y = m.i8("y", {1, 5, 16}, 0.025f, -20);
  m.op(B::GELU, {x}, {y}, opts(tfl::GeluOptionsT{}));
  m.io({x}, {y});
  return {"gelu_lut", m.finish(), as_bytes(rand_i8(rng, kSamples * 5 * 16))};
}

Int8Case movement_case() {
  std::mt19937 rng(7);
  TinyModel m;
  const float s = 0.05f;
  const int x = m.i8("x", {1, 6, 8}, s, 5);
  const int shp = m.const_i32("shape", {3}, {6, 2, 4});
  const int r = m.i8("r", {6, 2, 4}, s, 5);
  tfl::ReshapeOptionsT ro;
  ro.new_shape = {6, 2, 4};
  m.op(B::RESHAPE, {x, shp}, {r}, opts(ro));
  const int perm = m.const_i32("perm", {3}, {1, 2, 0});
  const int t = m.i8("t", {2, 4, 6}, s, 5);
  m.op(B::TRANSPOSE, {r, perm}, {t}, opts(tfl::TransposeOptionsT{}));
  const int bg = m.const_i32("begin", {3}, {0, 1, 0}), en = m.const_i32("end", {3}, {2, 3, 6}),
            st = m.const_i32("strides", {3}, {1, 1, 1});
  const int sl = m.i8("sl", {2, 2, 6}, s, 5);
  m.op(B::STRIDED_SLICE, {t, bg, en, st}, {sl}, opts(tfl::StridedSliceOptionsT{}));
  const int c = m.i8("cat", {2, 6, 6}, s, 5);
  tfl::ConcatenationOptionsT co;
  co.axis = 1;
  m.op(B::CONCATENATION, {sl, t}, {c}, opts(co));
  m.io({x}, {c});
  return {"reshape_transpose_slice_concat", m.finish(), as_bytes(rand_i8(rng, kSamples * 48)), false, 0};
}

Int8Case quantize_case() {
  std::mt19937 rng(8);
  TinyModel m;
  const int x = m.f32("x", {1, 64});
  const int q = m.i8("q", {1, 64}, 0.02f, -3);
  m.op(B::QUANTIZE, {x}, {q}, opts(tfl::QuantizeOptionsT{}));
  const int y = m.f32("y", {1, 64});
  m.op(B::DEQUANTIZE, {q}, {y}, opts(tfl::DequantizeOptionsT{}));
  m.io({x}, {y});
  auto v = randn(rng, kSamples * 64, 1.5f);
  std::vector<uint8_t> in(v.size() * 4);
  std::memcpy(in.data(), v.data(), in.size());
  return {"quantize_dequantize", m.finish(), in, true};
}

TEST(RuntimeInt8VsLiteRt, FullyConnected) {
  check_int8(fc_case(true));
  check_int8(fc_case(false));
}
TEST(RuntimeInt8VsLiteRt, Conv2d) {
  check_int8(conv_case(4, 4, false, false));
  check_int8(conv_case(3, 1, true, true));
  check_int8(conv_case(3, 2, true, false));
}
TEST(RuntimeInt8VsLiteRt, BatchMatMul) { check_int8(bmm_case()); }
TEST(RuntimeInt8VsLiteRt, Elementwise) {
  check_int8(binary_case(B::ADD, "add_bcast"));
  check_int8(binary_case(B::SUB, "sub_bcast"));
  check_int8(binary_case(B::MUL, "mul_bcast"));
  check_int8(binary_case(B::SQUARED_DIFFERENCE, "squared_difference"));
}
TEST(RuntimeInt8VsLiteRt, Mean) { check_int8(mean_case()); }
TEST(RuntimeInt8VsLiteRt, GeluLut) { check_int8(gelu_case()); }
TEST(RuntimeInt8VsLiteRt, DataMovementIsExact) { check_int8(movement_case()); }
TEST(RuntimeInt8VsLiteRt, QuantizeDequantize) { check_int8(quantize_case()); }

}  // namespace
}  // namespace tinyvit::rt::testing
