// One test per lowered op: a one-op LibTorch module (or function) and the same op emitted by
// our lowering helpers; the .tflite runs in LiteRT.js (wasm, XNNPACK/reference kernels) on a
// batch of seeded random inputs, in ONE Node process per op, and must match LibTorch.
//
// Tolerances (float32, inputs of magnitude ~1):
//   data movement (RESHAPE, TRANSPOSE, CONCATENATION, STRIDED_SLICE, GATHER, PAD, MAX_POOL): 0,
//     the values are copied, never computed;
//   single elementwise arithmetic (ADD, SUB, MUL, SQUARED_DIFFERENCE): 1e-6, one or two
//     roundings on both sides, identical up to operation order;
//   reductions and dot products (MEAN, FULLY_CONNECTED, CONV_2D, BATCH_MATMUL): 1e-5 —
//     different summation order (XNNPACK blocks, FMA) over <= 100 terms;
//   transcendental (RSQRT, TANH, SOFTMAX, GELU, LayerNorm chain): 1e-5 — LiteRT uses its own
//     polynomial approximations, accurate to a few ulp.
#include <gtest/gtest.h>

#include <functional>

#include "export/lower_common.h"
#include "export_test_util.h"

namespace tinyvit::exporter {
namespace {

using testing::max_abs_diff;
using testing::run_in_litert;

struct OpCase {
  std::string name;
  std::vector<int64_t> input_shape;                       // one sample, TFLite layout
  std::function<int(Emitter&, int)> build;                // emits the op(s) on input x
  std::function<torch::Tensor(const torch::Tensor&)> ref;  // LibTorch on one sample
  double tol = 1e-5;
  bool positive = false;  // inputs in (0.1, 3.1) instead of N(0, 1.5^2)
  int samples = 8;
};

void check(const OpCase& c) {
  torch::manual_seed(42);
  GraphBuilder g("op test: " + c.name);
  Emitter e(g);
  std::vector<int32_t> shape32(c.input_shape.begin(), c.input_shape.end());
  const int x = e.input("x", shape32);
  const int y = c.build(e, x);
  g.set_inputs({x});
  g.set_outputs({y});
  g.add_signature("serving_default", {{"x", x}}, {{"y", y}});
  const auto bytes = g.finish();

  std::vector<int64_t> batch_shape{c.samples};
  batch_shape.insert(batch_shape.end(), c.input_shape.begin(), c.input_shape.end());
  torch::Tensor inputs = c.positive ? torch::rand(batch_shape) * 3.f + 0.1f
                                    : torch::randn(batch_shape) * 1.5f;
  const auto& ys = g.shape(y);
  const torch::Tensor got =
      run_in_litert(bytes, inputs, std::vector<int64_t>(ys.begin(), ys.end()), c.name);
  std::vector<torch::Tensor> want;
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < c.samples; ++i) want.push_back(c.ref(inputs[i]));
  }
  const torch::Tensor w = torch::stack(want);
  ASSERT_EQ(got.sizes(), w.sizes()) << c.name;
  const double diff = max_abs_diff(got, w);
  EXPECT_LE(diff, c.tol) << c.name << ": max |LiteRT - LibTorch| = " << diff;
}

torch::Tensor nchw(const torch::Tensor& x) { return x.permute({0, 3, 1, 2}); }
torch::Tensor nhwc(const torch::Tensor& x) { return x.permute({0, 2, 3, 1}).contiguous(); }

TEST(ExportOps, FullyConnected3dKeepNumDims) {
  torch::manual_seed(1);
  torch::nn::Linear lin(16, 24);
  check({"fully_connected_3d", {1, 5, 16},
         [&](Emitter& e, int x) { return e.fully_connected(x, lin->weight, lin->bias, "fc", true); },
         [&](const torch::Tensor& x) { return lin(x); }});
}

TEST(ExportOps, FullyConnectedFlattensWithoutKeepNumDims) {
  torch::manual_seed(2);
  torch::nn::Linear lin(16, 10);
  check({"fully_connected_2d", {1, 1, 16},
         [&](Emitter& e, int x) {
           return e.fully_connected(x, lin->weight, lin->bias, "fc", false, Activation::kRelu);
         },
         [&](const torch::Tensor& x) { return torch::relu(lin(x)).view({1, 10}); }});
}

TEST(ExportOps, Conv2dPatchEmbedding) {
  torch::manual_seed(3);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 8, 4).stride(4));
  check({"conv2d_patch", {1, 8, 8, 3},
         [&](Emitter& e, int x) { return e.conv2d(x, conv->weight, conv->bias, 4, {0, 0}, "conv"); },
         [&](const torch::Tensor& x) { return nhwc(conv(nchw(x))); }});
}

TEST(ExportOps, Conv2dSamePaddingWithRelu) {
  torch::manual_seed(4);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(4, 6, 3).stride(1).padding(1));
  check({"conv2d_same", {1, 6, 6, 4},
         [&](Emitter& e, int x) {
           return e.conv2d(x, conv->weight, conv->bias, 1, {1, 1}, "conv", Activation::kRelu);
         },
         [&](const torch::Tensor& x) { return nhwc(torch::relu(conv(nchw(x)))); }});
}

TEST(ExportOps, Conv2dStride2ExplicitPadding) {
  // PyTorch pads 1 on both sides; TFLite SAME would pad (0, 1) here: must lower to PAD + VALID.
  torch::manual_seed(5);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 5, 7).stride(2).padding(3).bias(false));
  check({"conv2d_stride2_pad", {1, 16, 16, 3},
         [&](Emitter& e, int x) {
           const int y = e.conv2d(x, conv->weight, torch::Tensor(), 2, {3, 3}, "conv");
           EXPECT_TRUE(e.graph().has_tensor("conv.pad"));
           return y;
         },
         [&](const torch::Tensor& x) { return nhwc(conv(nchw(x))); }});
}

TEST(ExportOps, MaxPoolOnNonNegativeInput) {
  check({"max_pool", {1, 8, 8, 4},
         [](Emitter& e, int x) { return e.max_pool_nonneg(x, 3, 2, 1, "pool"); },
         [](const torch::Tensor& x) { return nhwc(torch::max_pool2d(nchw(x), 3, 2, 1)); }, 0.0,
         /*positive=*/true});
}

TEST(ExportOps, Pad) {
  check({"pad", {1, 3, 4, 2},
         [](Emitter& e, int x) { return e.pad(x, {{0, 0}, {1, 2}, {2, 1}, {0, 0}}, "pad"); },
         [](const torch::Tensor& x) {
           return nhwc(torch::constant_pad_nd(nchw(x), {2, 1, 1, 2}, 0));
         },
         0.0});
}

TEST(ExportOps, AddBroadcastWithFusedRelu) {
  const torch::Tensor c = torch::randn({8});
  check({"add", {1, 5, 8},
         [&](Emitter& e, int x) { return e.add(x, e.constant("c", c), "add", Activation::kRelu); },
         [&](const torch::Tensor& x) { return torch::relu(x + c); }, 1e-6});
}

TEST(ExportOps, Sub) {
  const torch::Tensor c = torch::randn({5, 1});
  check({"sub", {1, 5, 8}, [&](Emitter& e, int x) { return e.sub(x, e.constant("c", c), "sub"); },
         [&](const torch::Tensor& x) { return x - c; }, 1e-6});
}

TEST(ExportOps, Mul) {
  const torch::Tensor c = torch::randn({1, 5, 8});
  check({"mul", {1, 5, 8}, [&](Emitter& e, int x) { return e.mul(x, e.constant("c", c), "mul"); },
         [&](const torch::Tensor& x) { return x * c; }, 1e-6});
}

TEST(ExportOps, SquaredDifference) {
  const torch::Tensor c = torch::randn({8});
  check({"squared_difference", {1, 5, 8},
         [&](Emitter& e, int x) { return e.squared_difference(x, e.constant("c", c), "sqd"); },
         [&](const torch::Tensor& x) { return (x - c) * (x - c); }, 1e-5});
}

TEST(ExportOps, Rsqrt) {
  check({"rsqrt", {1, 4, 6}, [](Emitter& e, int x) { return e.rsqrt(x, "rsqrt"); },
         [](const torch::Tensor& x) { return torch::rsqrt(x); }, 1e-5, /*positive=*/true});
}

TEST(ExportOps, Tanh) {
  check({"tanh", {1, 4, 6}, [](Emitter& e, int x) { return e.tanh(x, "tanh"); },
         [](const torch::Tensor& x) { return torch::tanh(x); }, 1e-5});
}

TEST(ExportOps, MeanLastAxisKeepDims) {
  check({"mean_last", {1, 5, 16}, [](Emitter& e, int x) { return e.mean(x, {-1}, true, "mean"); },
         [](const torch::Tensor& x) { return x.mean({-1}, true); }, 1e-5});
}

TEST(ExportOps, MeanGlobalPool) {
  check({"mean_hw", {1, 4, 4, 6}, [](Emitter& e, int x) { return e.mean(x, {1, 2}, false, "gap"); },
         [](const torch::Tensor& x) { return x.mean({1, 2}); }, 1e-5});
}

TEST(ExportOps, Softmax) {
  check({"softmax", {2, 5, 7}, [](Emitter& e, int x) { return e.softmax(x, "softmax"); },
         [](const torch::Tensor& x) { return torch::softmax(x, -1); }, 1e-5});
}

TEST(ExportOps, GeluExactBuiltin) {
  check({"gelu", {1, 5, 16}, [](Emitter& e, int x) { return e.gelu(x, "gelu", false); },
         [](const torch::Tensor& x) { return torch::gelu(x); }, 1e-5});
}

TEST(ExportOps, GeluTanhApproximationForTflm) {
  // Compared with LibTorch's own tanh-form GELU: the decomposition must be that formula.
  check({"gelu_tanh", {1, 5, 16},
         [](Emitter& e, int x) {
           const int y = e.gelu(x, "gelu", true);
           EXPECT_FALSE(e.graph().has_tensor("gelu.erf"));
           return y;
         },
         [](const torch::Tensor& x) { return torch::gelu(x, "tanh"); }, 1e-5});
}

TEST(ExportOps, LayerNormDecomposition) {
  torch::manual_seed(6);
  torch::nn::LayerNorm ln(torch::nn::LayerNormOptions({16}).eps(1e-6));
  {
    torch::NoGradGuard no_grad;
    ln->weight.normal_(1.0, 0.3);
    ln->bias.normal_(0.0, 0.3);
  }
  check({"layer_norm", {1, 5, 16},
         [&](Emitter& e, int x) { return e.layer_norm(x, ln->weight, ln->bias, 1e-6, "ln"); },
         [&](const torch::Tensor& x) { return ln(x); }, 1e-5});
}

TEST(ExportOps, Reshape) {
  check({"reshape", {1, 4, 6}, [](Emitter& e, int x) { return e.reshape(x, {2, 12}, "reshape"); },
         [](const torch::Tensor& x) { return x.reshape({2, 12}); }, 0.0});
}

TEST(ExportOps, Transpose) {
  check({"transpose", {2, 3, 4},
         [](Emitter& e, int x) { return e.transpose(x, {1, 2, 0}, "transpose"); },
         [](const torch::Tensor& x) { return x.permute({1, 2, 0}); }, 0.0});
}

TEST(ExportOps, BatchMatMul) {
  const torch::Tensor b = torch::randn({2, 4, 3});
  check({"batch_matmul", {2, 5, 4},
         [&](Emitter& e, int x) { return e.batch_matmul(x, e.constant("b", b), "bmm"); },
         [&](const torch::Tensor& x) { return torch::matmul(x, b); }, 1e-5});
}

TEST(ExportOps, Concatenation) {
  const torch::Tensor c = torch::randn({1, 1, 8});
  check({"concatenation", {1, 4, 8},
         [&](Emitter& e, int x) { return e.concat({e.constant("c", c), x}, 1, "concat"); },
         [&](const torch::Tensor& x) { return torch::cat({c, x}, 1); }, 0.0});
}

TEST(ExportOps, StridedSlice) {
  check({"strided_slice", {1, 5, 8},
         [](Emitter& e, int x) { return e.strided_slice(x, {0, 1, 2}, {1, 3, 6}, "slice"); },
         [](const torch::Tensor& x) { return x.slice(1, 1, 3).slice(2, 2, 6); }, 0.0});
}

TEST(ExportOps, Gather) {
  check({"gather", {1, 5, 8}, [](Emitter& e, int x) { return e.gather(x, {0, 3}, 1, "gather"); },
         [](const torch::Tensor& x) { return x.index_select(1, torch::tensor({0, 3})); }, 0.0});
}

}  // namespace
}  // namespace tinyvit::exporter
