// The runtime's own tests, without LibTorch or LiteRT (they also run under ASan+UBSan and on
// aarch64 under qemu):
//   - TFLite's integer arithmetic helpers on known values;
//   - the arena plan: exact size (needed works, needed - 1 is refused), tensors alive at the
//     same time never share bytes, reuse makes the arena smaller than the sum of tensors;
//   - no heap allocation in invoke();
//   - malformed files: every truncation and thousands of seeded corruptions of a valid model
//     load with an error or run without touching memory outside (ASan/UBSan catch it);
//   - kernel variants (AVX2 where present) vs the reference: int8 bit-exact, float 1e-5;
//   - golden files (tests/runtime/golden/, written by test_runtime_litert): exported models
//     with LiteRT.js's outputs, float 1e-4; an int8 ViT from the quantizer, bit-stable against
//     our own earlier output and near LiteRT's;
//   - int8 SOFTMAX / RSQRT and their gemmlowp fixed point on hand-computed values;
//   - the int8 fast paths (SOFTMAX's exp table, the elementwise ops' shape layouts and operand
//     tables and their AVX2 variants, MEAN's contiguous sums) against plain per-element
//     formulas on random shapes with tails.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <random>

#include "kernels/x86/x86_kernels.h"
#include "quant.h"
#include "rt_test_util.h"
#include "tiny_model.h"

// Counts every operator new in the process (the runtime uses only new/delete).
static std::atomic<long> g_news{0};
void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace tinyvit::rt::testing {
namespace {

using BO = tfl::BuiltinOperator;

// ---- arithmetic -------------------------------------------------------------------------------

// The int32 helpers that keep hostile files free of signed overflow (a fuzz_loader finding):
// bias adds wrap like a two's-complement accumulator, zero-point adds saturate.
TEST(RuntimeQuant, OverflowSafeInt32Adds) {
  EXPECT_EQ(q::wrapping_add(5, -7), -2);
  EXPECT_EQ(q::wrapping_add(INT32_MAX, 1), INT32_MIN);
  EXPECT_EQ(q::wrapping_add(-2147483647, -5), 2147483644);
  EXPECT_EQ(q::add_zp(100, -5), 95);
  EXPECT_EQ(q::add_zp(-2147483647, -5), INT32_MIN);
  EXPECT_EQ(q::add_zp(INT32_MAX - 3, 10), INT32_MAX);
}

TEST(RuntimeQuant, QuantizeMultiplier) {
  int32_t q;
  int s;
  q::quantize_multiplier(0.5, &q, &s);
  EXPECT_EQ(q, 1 << 30);
  EXPECT_EQ(s, 0);
  q::quantize_multiplier(1.0, &q, &s);
  EXPECT_EQ(q, 1 << 30);
  EXPECT_EQ(s, 1);
  q::quantize_multiplier(0.75 / 1024, &q, &s);
  EXPECT_EQ(q, 3 << 29);
  EXPECT_EQ(s, -10);
  q::quantize_multiplier(0.0, &q, &s);
  EXPECT_EQ(q, 0);
}

TEST(RuntimeQuant, GemmlowpRoundingAndDoubleRounding) {
  // SRDHM(a, b) = (a*b + nudge) / 2^31, truncating: +1.5 -> 2 but -1.5 -> -1 (the nudge is
  // 1 - 2^30 for negative products).
  EXPECT_EQ(q::saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
  EXPECT_EQ(q::saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
  EXPECT_EQ(q::saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN), INT32_MAX);
  // RoundingDivideByPOT: half away from zero.
  EXPECT_EQ(q::rounding_divide_by_pot(5, 1), 3);
  EXPECT_EQ(q::rounding_divide_by_pot(-5, 1), -3);
  EXPECT_EQ(q::rounding_divide_by_pot(-4, 1), -2);
  // Two roundings: 5 * 0.25 = 1.25 -> SRDHM gives 3 (2.5 rounded up), then 3 / 2 = 1.5 -> 2.
  // A single rounding (XNNPACK) gives 1: the kind of one-step difference LiteRT.js shows.
  EXPECT_EQ(q::multiply_by_quantized_multiplier(5, 1 << 30, -1), 2);
  int32_t m;
  int s;
  q::quantize_multiplier(1.0 / 3.0, &m, &s);
  EXPECT_EQ(q::multiply_by_quantized_multiplier(300, m, s), 100);
  // -301 / 3 = -100.33: SRDHM -> -201 (from -200.67 - 0.5 nudge), then -100.5 -> -101.
  EXPECT_EQ(q::multiply_by_quantized_multiplier(-301, m, s), -101);
  EXPECT_EQ(q::quantize(0.5f, 1.f, 0), 1);  // QUANTIZE: round half away from zero
  EXPECT_EQ(q::quantize(-0.5f, 1.f, 0), -1);
  EXPECT_EQ(q::quantize(1000.f, 1.f, 0), 127);
}

TEST(RuntimeQuant, GemmlowpExpReciprocalInvSqrt) {
  // exp in Q5.26 -> Q0.31: exp(0) = 1 (INT32_MAX), exp(-1) = 0.3678794412 (2^31 x = 790015084.2),
  // exp(-3.5) = 0.0301973834 (64848903.5). gemmlowp's polynomial and the products of its
  // rounded exp(-2^k) constants are within ~3e-7 (650 raw) of these, measured 224 and 498.
  EXPECT_EQ(q::exp_on_negative_values_q5(0), INT32_MAX);
  EXPECT_NEAR(q::exp_on_negative_values_q5(-(1 << 26)), 790015084, 650);
  EXPECT_NEAR(q::exp_on_negative_values_q5(-(7 << 25)), 64848904, 650);
  // 1 / (1 + x): x = 0 -> 1, x = 1/2 -> 2/3 (1431655765.3), x = 1/4 -> 4/5 (1717986918.4);
  // three Newton-Raphson steps in Q2.29 leave a few raw units (measured 3-4).
  EXPECT_NEAR(q::one_over_one_plus_x_for_x_in_0_1(0), INT32_MAX, 8);
  EXPECT_NEAR(q::one_over_one_plus_x_for_x_in_0_1(1 << 30), 1431655765, 8);
  EXPECT_NEAR(q::one_over_one_plus_x_for_x_in_0_1(1 << 29), 1717986918, 8);
  // GetReciprocal of 3.0 in Q12.19: 1/3 = (2/3 in Q0.31) / 2^(31 + 1).
  int bits = 0;
  EXPECT_NEAR(q::get_reciprocal(3 << 19, 12, &bits), 1431655765, 8);
  EXPECT_EQ(bits, 1);
  // 1/sqrt(v) as (multiplier, shift): MBQM(2^20, .) = 2^20 / sqrt(v).
  int32_t m;
  int s;
  q::inv_sqrt_quantized_multiplier_exp(4, &m, &s);
  EXPECT_EQ(q::multiply_by_quantized_multiplier(1 << 20, m, s), 1 << 19);
  q::inv_sqrt_quantized_multiplier_exp(100, &m, &s);
  EXPECT_NEAR(q::multiply_by_quantized_multiplier(1 << 20, m, s), 104858, 1);  // 2^20 / 10
  q::inv_sqrt_quantized_multiplier_exp(2, &m, &s);
  EXPECT_NEAR(q::multiply_by_quantized_multiplier(1 << 20, m, s), 741455, 1);  // 2^20 / sqrt 2
  q::inv_sqrt_quantized_multiplier_exp(1, &m, &s);
  EXPECT_EQ(m, INT32_MAX);
  EXPECT_EQ(s, 0);
}

// ---- models used below ------------------------------------------------------------------------

// A small float "MLP with residuals": x -> fc1 -> gelu -> fc2 -> add(x) -> fc3 -> softmax.
std::vector<uint8_t> mlp_model(int T = 6, int D = 32, int H = 64) {
  std::mt19937 rng(5);
  TinyModel m;
  const int x = m.f32("x", {1, T, D});
  tfl::FullyConnectedOptionsT fo;
  fo.keep_num_dims = true;
  const int w1 = m.const_f32("w1", {H, D}, randn(rng, H * D, 0.2f));
  const int b1 = m.const_f32("b1", {H}, randn(rng, H, 0.1f));
  const int h = m.f32("h", {1, T, H});
  m.op(BO::FULLY_CONNECTED, {x, w1, b1}, {h}, opts(fo));
  const int g = m.f32("g", {1, T, H});
  m.op(BO::GELU, {h}, {g}, opts(tfl::GeluOptionsT{}));
  const int w2 = m.const_f32("w2", {D, H}, randn(rng, H * D, 0.2f));
  const int o = m.f32("o", {1, T, D});
  m.op(BO::FULLY_CONNECTED, {g, w2, -1}, {o}, opts(fo));
  const int r = m.f32("r", {1, T, D});
  m.op(BO::ADD, {o, x}, {r}, opts(tfl::AddOptionsT{}));
  const int w3 = m.const_f32("w3", {10, D}, randn(rng, 10 * D, 0.2f));
  const int l = m.f32("l", {1, T, 10});
  m.op(BO::FULLY_CONNECTED, {r, w3, -1}, {l}, opts(fo));
  const int s = m.f32("s", {1, T, 10});
  tfl::SoftmaxOptionsT so;
  so.beta = 1.f;
  m.op(BO::SOFTMAX, {l}, {s}, opts(so));
  m.io({x}, {s});
  return m.finish();
}

struct Loaded {
  explicit Loaded(const std::vector<uint8_t>& bytes, KernelSet ks = KernelSet::kReference)
      : model(bytes) {
    LoadOptions lo;
    lo.kernels = ks;
    status = it.load(model.data(), model.size, lo);
  }
  Aligned model;
  Interpreter it;
  Status status;
};

// ---- planner ----------------------------------------------------------------------------------

// ---- int8 SOFTMAX and RSQRT on hand-computed values -------------------------------------------

std::vector<int8_t> run_i8(const std::vector<uint8_t>& model, const std::vector<int8_t>& in) {
  const auto out = run_runtime(model, in.data(), in.size());
  return std::vector<int8_t>(out.begin(), out.end());
}

std::vector<uint8_t> softmax_i8_model(int rows, int D, float sx, int zx, float beta) {
  TinyModel m;
  const int x = m.i8("x", {1, rows, D}, sx, zx);
  const int y = m.i8("y", {1, rows, D}, 1.f / 256, -128);
  tfl::SoftmaxOptionsT so;
  so.beta = beta;
  m.op(BO::SOFTMAX, {x}, {y}, opts(so), 2);
  m.io({x}, {y});
  return m.finish();
}

TEST(RuntimeInt8Ops, SoftmaxHandComputed) {
  // Input scale 1/4: a difference of 4 steps is 1.0. y = round(256 p) - 128, clamped to 127.
  const auto model = softmax_i8_model(4, 4, 0.25f, 0, 1.f);
  const std::vector<int8_t> in = {
      5, 5, 5, 5,              // p = 1/4 each -> 64 - 128 = -64
      0, -4, -128, -128,       // d = 0, -1: p = 1/(1+e^-1) = .731059 (187.15), .268941 (68.85);
                               // -128 steps is below diff_min (-62 steps here): -128
      8, 4, 0, -4,             // d = 0,-1,-2,-3: 256 p = 164.84, 60.64, 22.31, 8.21
      127, -128, -128, -128};  // only the max counts: 256 -> clamped to 127
  const std::vector<int8_t> want = {-64, -64, -64, -64, 59, -59, -128, -128,
                                    37,  -67, -106, -120, 127, -128, -128, -128};
  EXPECT_EQ(run_i8(model, in), want);
  // beta scales the input: beta 2 on [0, -2] (d = -0.5 * 2 = -1) gives the same .731 / .269.
  const auto model_b2 = softmax_i8_model(1, 2, 0.25f, 0, 2.f);
  EXPECT_EQ(run_i8(model_b2, {0, -2}), (std::vector<int8_t>{59, -59}));
  // Random rows: within one step of the real softmax rounded (TFLite's fixed point is within
  // ~1e-6 of exp; a step flips only where 256 p is near .5).
  std::mt19937 rng(17);
  const int R = 200, D = 13;
  const float sx = 0.07f;
  const int zx = 9;
  const auto model_r = softmax_i8_model(R, D, sx, zx, 1.f);
  const auto xin = rand_i8(rng, R * D);
  const auto got = run_i8(model_r, xin);
  int maxd = 0, diff = 0;
  for (int r = 0; r < R; ++r) {
    double mx = -1e9, sum = 0;
    for (int i = 0; i < D; ++i) mx = std::max(mx, double(sx) * (xin[r * D + i] - zx));
    for (int i = 0; i < D; ++i) sum += std::exp(double(sx) * (xin[r * D + i] - zx) - mx);
    for (int i = 0; i < D; ++i) {
      const double p = std::exp(double(sx) * (xin[r * D + i] - zx) - mx) / sum;
      const int want_q = std::min(127, static_cast<int>(std::lround(256 * p)) - 128);
      const int d = std::abs(want_q - got[r * D + i]);
      maxd = std::max(maxd, d);
      diff += d != 0;
    }
  }
  std::printf("[ int8 softmax ] %d of %d outputs differ from the rounded real softmax (max %d)\n",
              diff, R * D, maxd);
  EXPECT_LE(maxd, 1);
  // Output parameters other than (1/256, -128) are refused, as in TFLite Micro.
  TinyModel bad;
  const int x = bad.i8("x", {1, 4}, 0.1f, 0);
  const int y = bad.i8("y", {1, 4}, 1.f / 255, -128);
  bad.op(BO::SOFTMAX, {x}, {y}, opts(tfl::SoftmaxOptionsT{}), 2);
  bad.io({x}, {y});
  Loaded l(bad.finish());
  EXPECT_EQ(l.status, Status::kUnsupported);
  EXPECT_NE(std::string(l.it.error()).find("1/256"), std::string::npos) << l.it.error();
}

std::vector<uint8_t> rsqrt_i8_model(float sx, int zx, float sy, int zy, int n = 256) {
  TinyModel m;
  const int x = m.i8("x", {1, n}, sx, zx);
  const int y = m.i8("y", {1, n}, sy, zy);
  m.op(BO::RSQRT, {x}, {y}, {}, 2);
  m.io({x}, {y});
  return m.finish();
}

// FULLY_CONNECTED with per-tensor weights: TFLite and TFLite Micro derive its multiplier with
// GetQuantizedConvolutionMultipler, double(float(s_x * s_w)) / s_y. With the scales below
// (those of RuntimeInt8VsLiteRt.BatchMatMulMultiplierFromFloat32ScaleProduct, where LiteRT's
// builtin kernel, same function, gives 15 for this accumulator) acc = 125 * 50 = 6250 is
// 14.49805 steps: Q0.31 multiplier 1275261699, shift -8 -> SRDHM 3711.5002 -> 3712 -> 3712 / 256
// = 14.5 -> 15 (half away from zero); the double product's multiplier 1275261638 gives 3711
// -> 14. y = 15 - 16 = -1 and -15 - 16 = -31. A per-channel FC keeps the double product.
TEST(RuntimeInt8Ops, PerTensorFullyConnectedMultiplierFromFloat32Product) {
  for (const bool per_channel : {false, true}) {
    TinyModel m;
    const float sx = 0.005259656347334385f, sw = 0.02893790788948536f;
    const int x = m.i8("x", {1, 1}, sx, 1);
    const Quant wq = per_channel ? Quant{{sw, sw}, {0, 0}, 0} : per_tensor(sw, 0);
    const int w = m.const_i8("w", {2, 1}, {50, 50}, wq);
    const int b = m.const_i32("b", {2}, {0, 0}, Quant{{sx * sw, sx * sw}, {0, 0}, 0});
    const int y = m.i8("y", {1, 2}, 0.0656137764453888f, -16);
    m.op(BO::FULLY_CONNECTED, {x, w, b}, {y}, opts(tfl::FullyConnectedOptionsT{}),
         per_channel ? 5 : 4);
    m.io({x}, {y});
    const auto model = m.finish();
    const int8_t pos = per_channel ? -2 : -1, neg = per_channel ? -30 : -31;
    EXPECT_EQ(run_i8(model, {126}), (std::vector<int8_t>{pos, pos})) << per_channel;
    EXPECT_EQ(run_i8(model, {-124}), (std::vector<int8_t>{neg, neg})) << per_channel;
  }
}

TEST(RuntimeInt8Ops, RsqrtHandComputed) {
  // x = (q + 128) / 64, y = 16 r - 128.
  const auto model = rsqrt_i8_model(1.f / 64, -128, 1.f / 16, -128);
  std::vector<int8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<int8_t>(i - 128);
  const auto got = run_i8(model, all);
  auto at = [&](int q) { return int(got[q + 128]); };
  EXPECT_EQ(at(-128), 127);        // x = 0: TFLite's "max output"
  EXPECT_EQ(at(-127), 0);          // x = 1/64: r = 8 -> 128 - 128
  EXPECT_EQ(at(-126), -37);        // x = 1/32: r = 5.657 -> 90.51 -> 91
  EXPECT_EQ(at(-124), -64);        // x = 1/16: r = 4
  EXPECT_EQ(at(-112), -96);        // x = 1/4: r = 2
  EXPECT_EQ(at(-64), -112);        // x = 1: r = 1
  EXPECT_EQ(at(127), -120);        // x = 255/64: r = .50098 -> 8.02 -> 8
  int maxd = 0;
  for (int q = -127; q <= 127; ++q) {
    const double r = 1.0 / std::sqrt((q + 128) / 64.0);
    const int want = std::min(127, static_cast<int>(std::lround(16 * r)) - 128);
    maxd = std::max(maxd, std::abs(want - at(q)));
  }
  EXPECT_LE(maxd, 1);
  // Inputs below the zero point (negative reals; TFLite fails at run time) give 127.
  const auto model2 = rsqrt_i8_model(0.01f, -100, 0.5f, 0, 3);
  const auto got2 = run_i8(model2, {-110, -100, 0});
  EXPECT_EQ(got2, (std::vector<int8_t>{127, 127, 2}));  // x = 1: r = 1 -> 1 / 0.5 = 2
}

// ---- int8 fast paths (SOFTMAX table, elementwise layouts) vs the plain per-element formulas ------

// The gemmlowp softmax exactly as TFLite Micro's reference_ops::Softmax computes it, element by
// element (no table), with the multiplier and diff_min derived the same way.
std::vector<int8_t> softmax_i8_plain(const std::vector<int8_t>& x, int D, float sx, float beta) {
  double m = double(beta) * double(sx) * double(int64_t{1} << 26);
  if (m > 2147483647.0) m = 2147483647.0;
  int e = 0;
  int64_t qf = static_cast<int64_t>(std::round(std::frexp(m, &e) * double(int64_t{1} << 31)));
  if (qf == (int64_t{1} << 31)) {
    qf /= 2;
    ++e;
  }
  const int32_t mult = static_cast<int32_t>(qf);
  const int32_t diff_min =
      -static_cast<int32_t>(std::floor(31.0 * double(int64_t{1} << 26) / double(int64_t{1} << e)));
  auto exp_of = [&](int32_t diff) {
    return q::exp_on_negative_values_q5(q::saturating_rounding_doubling_high_mul(
        static_cast<int32_t>(static_cast<uint32_t>(diff) << e), mult));
  };
  auto rdbp = [](int32_t v, int ex) {  // RoundingDivideByPOT in 64 bits (ex up to 34)
    const int64_t mask = (int64_t{1} << ex) - 1;
    const int64_t rem = int64_t(v) & mask;
    const int64_t thr = (mask >> 1) + (v < 0 ? 1 : 0);
    return static_cast<int32_t>((int64_t(v) >> ex) + (rem > thr ? 1 : 0));
  };
  std::vector<int8_t> y(x.size());
  for (std::size_t r = 0; r < x.size() / D; ++r) {
    const int8_t* xr = x.data() + r * D;
    int32_t mx = -128;
    for (int i = 0; i < D; ++i) mx = std::max<int32_t>(mx, xr[i]);
    int32_t sum = 0;
    for (int i = 0; i < D; ++i)
      if (xr[i] - mx >= diff_min) sum += q::rounding_divide_by_pot(exp_of(xr[i] - mx), 12);
    int bits = 0;
    const int32_t scale = q::get_reciprocal(sum, 12, &bits);
    for (int i = 0; i < D; ++i) {
      int32_t v = -128;
      if (xr[i] - mx >= diff_min)
        v = q::clamp(rdbp(q::saturating_rounding_doubling_high_mul(scale, exp_of(xr[i] - mx)),
                          bits + 23) - 128, -128, 127);
      y[r * D + i] = static_cast<int8_t>(v);
    }
  }
  return y;
}

TEST(RuntimeInt8Ops, SoftmaxTableMatchesPerElementFormula) {
  std::mt19937 rng(5);
  // Row lengths with tails, scales from tiny (large diff_min, every difference counts) to large
  // (diff_min within [-255, 0]: the cut-off is exercised), and betas.
  const int lengths[] = {1, 2, 7, 13, 64, 65, 129, 300};
  const float scales[] = {0.003f, 0.02f, 0.07f, 0.25f, 1.3f};
  const float betas[] = {1.f, 0.5f, 3.f};
  for (int D : lengths)
    for (float sx : scales)
      for (float beta : betas) {
        const int R = 9;
        const int zx = static_cast<int>(rng() % 41) - 20;
        const auto model = softmax_i8_model(R, D, sx, zx, beta);
        auto xin = rand_i8(rng, static_cast<std::size_t>(R) * D);
        for (int i = 0; i < D; ++i) xin[i] = 127;                    // ties at the max
        for (int i = 0; i < D; ++i) xin[D + i] = i % 2 ? 127 : -128;  // full 255 range
        EXPECT_EQ(run_i8(model, xin), softmax_i8_plain(xin, D, sx, beta))
            << "D " << D << " scale " << sx << " beta " << beta;
      }
}

// One int8 binary op with b a constant of shape sb, a the input of shape sa (or swapped), and
// the expected output by plain numpy broadcasting and TFLite's per-element reference formulas.
void check_binary_i8(std::mt19937& rng, BO code, std::vector<int32_t> sa, std::vector<int32_t> sb,
                     bool const_first) {
  const int r = static_cast<int>(std::max(sa.size(), sb.size()));
  std::vector<int32_t> da(r, 1), db(r, 1), dy(r);
  std::copy(sa.begin(), sa.end(), da.begin() + (r - sa.size()));
  std::copy(sb.begin(), sb.end(), db.begin() + (r - sb.size()));
  std::size_t na = 1, nb = 1, ny = 1;
  for (int i = 0; i < r; ++i) {
    dy[i] = std::max(da[i], db[i]);
    na *= da[i];
    nb *= db[i];
    ny *= dy[i];
  }
  std::uniform_real_distribution<float> us(0.005f, 0.2f);
  const float fa = us(rng), fb = us(rng), fy = us(rng);
  const int za = static_cast<int>(rng() % 256) - 128, zb = static_cast<int>(rng() % 256) - 128;
  const int zy = static_cast<int>(rng() % 256) - 128;
  const auto va = rand_i8(rng, na), vb = rand_i8(rng, nb);
  TinyModel m;
  int ta, tb;
  if (const_first) {
    ta = m.const_i8("a", sa, va, per_tensor(fa, za));
    tb = m.i8("b", sb, fb, zb);
  } else {
    ta = m.i8("a", sa, fa, za);
    tb = m.const_i8("b", sb, vb, per_tensor(fb, zb));
  }
  const int ty = m.i8("y", dy, fy, zy);
  switch (code) {
    case BO::ADD: m.op(code, {ta, tb}, {ty}, opts(tfl::AddOptionsT{})); break;
    case BO::SUB: m.op(code, {ta, tb}, {ty}, opts(tfl::SubOptionsT{})); break;
    case BO::MUL: m.op(code, {ta, tb}, {ty}, opts(tfl::MulOptionsT{})); break;
    default: m.op(code, {ta, tb}, {ty}); break;
  }
  m.io({const_first ? tb : ta}, {ty});
  const auto model = m.finish();
  const auto& in = const_first ? vb : va;
  const auto got = run_i8(model, in);
  // The AVX2 variant (where present) on the same model.
  const auto fast = run_runtime(model, in.data(), in.size(), KernelSet::kAuto);
  ASSERT_EQ(std::vector<int8_t>(fast.begin(), fast.end()), got)
      << "op " << static_cast<int>(code) << " const_first " << const_first << ": auto kernels";
  // Reference formulas (elementwise.cpp's header; TFLite add.cc / sub.cc / mul.cc /
  // squared_difference.cc).
  int32_t m1, m2, m3;
  int s1, s2, s3;
  int ls = 0;
  if (code == BO::MUL) {
    q::quantize_multiplier(double(fa) * double(fb) / double(fy), &m1, &s1);
  } else if (code == BO::SQUARED_DIFFERENCE) {
    ls = 7;
    const double tm = 2.0 * double(std::max(fa, fb));
    q::quantize_multiplier(double(fa) / tm, &m1, &s1);
    q::quantize_multiplier(double(fb) / tm, &m2, &s2);
    q::quantize_multiplier(tm * tm / double((1 << 14) * fy), &m3, &s3);
  } else {
    ls = 20;
    const double tm = static_cast<float>(2 * std::max(fa, fb));
    q::quantize_multiplier(fa / tm, &m1, &s1);
    q::quantize_multiplier(fb / tm, &m2, &s2);
    q::quantize_multiplier(tm / ((1 << 20) * fy), &m3, &s3);
  }
  std::vector<int8_t> want(ny);
  std::vector<int32_t> idx(r, 0);
  for (std::size_t o = 0; o < ny; ++o) {
    std::size_t ia = 0, ib = 0;
    for (int i = 0; i < r; ++i) {
      ia = ia * da[i] + (da[i] == 1 ? 0 : idx[i]);
      ib = ib * db[i] + (db[i] == 1 ? 0 : idx[i]);
    }
    const int32_t a = va[ia], b = vb[ib];
    int32_t v;
    if (code == BO::MUL) {
      v = q::multiply_by_quantized_multiplier((a - za) * (b - zb), m1, s1) + zy;
    } else {
      const int32_t qa = q::multiply_by_quantized_multiplier((a - za) * (1 << ls), m1, s1);
      const int32_t qb = q::multiply_by_quantized_multiplier((b - zb) * (1 << ls), m2, s2);
      const int32_t raw = code == BO::ADD ? qa + qb : qa - qb;
      v = code == BO::SQUARED_DIFFERENCE
              ? q::multiply_by_quantized_multiplier((qa - qb) * (qa - qb), m3, s3) + zy
              : q::multiply_by_quantized_multiplier(raw, m3, s3) + zy;
    }
    want[o] = static_cast<int8_t>(q::clamp(v, -128, 127));
    for (int i = r - 1; i >= 0; --i) {
      if (++idx[i] < dy[i]) break;
      idx[i] = 0;
    }
  }
  ASSERT_EQ(got, want) << "op " << static_cast<int>(code) << " const_first " << const_first;
}

TEST(RuntimeInt8Ops, ElementwiseLayoutsMatchPlainBroadcast) {
  std::mt19937 rng(11);
  using S = std::vector<int32_t>;
  // (a, b) shape pairs: same shape, row broadcast (b = last axes), column broadcast ((..., 1),
  // as x - mean), scalars, and general broadcasts (middle axis, both sides), with odd sizes.
  const std::vector<std::pair<S, S>> shapes = {
      {{1, 65, 37}, {1, 65, 37}}, {{3, 5, 7}, {7}},       {{3, 5, 7}, {1, 5, 7}},
      {{1, 65, 33}, {1, 65, 1}},  {{4, 9, 1}, {4, 9, 1}}, {{2, 3, 5}, {1}},
      {{2, 3, 5}, {}},            {{2, 3, 5}, {2, 1, 5}}, {{2, 1, 5}, {1, 3, 1}},
      {{6, 1}, {1, 1}},           {{5, 11}, {5, 1}},      {{1, 1, 13}, {1, 65, 13}},
      {{1, 65, 128}, {1, 65, 1}}, {{1, 65, 128}, {128}},  {{1, 17, 64}, {1, 17, 64}}};
  const BO codes[] = {BO::ADD, BO::SUB, BO::MUL, BO::SQUARED_DIFFERENCE};
  for (int rep = 0; rep < 3; ++rep)
    for (BO code : codes)
      for (const auto& sh : shapes) {
        check_binary_i8(rng, code, sh.first, sh.second, false);
        check_binary_i8(rng, code, sh.second, sh.first, true);   // broadcast operand first
        check_binary_i8(rng, code, sh.first, sh.second, true);
      }
}

TEST(RuntimeInt8Ops, MeanFastPathMatchesPlainFormula) {
  // Contiguous (trailing-axes) reductions take the block-sum path, others the general walk;
  // both against TFLite Micro's integer Mean written out per output.
  std::mt19937 rng(23);
  using S = std::vector<int32_t>;
  const std::vector<std::pair<S, S>> cases = {
      {{1, 65, 128}, {2}},  {{1, 65, 37}, {-1}}, {{2, 5, 7}, {1, 2}}, {{3, 1, 9}, {1, 2}},
      {{4, 6, 1}, {1}},     {{1, 65, 33}, {1}},  {{2, 5, 7}, {0, 2}}, {{5, 3}, {0, 1}}};
  for (const auto& c : cases)
    for (bool keep : {true, false}) {
      const S& shape = c.first;
      const int rank = static_cast<int>(shape.size());
      std::vector<bool> red(rank, false);
      for (int a : c.second) red[a < 0 ? a + rank : a] = true;
      S oshape;
      int64_t count = 1;
      for (int i = 0; i < rank; ++i) {
        if (red[i]) count *= shape[i];
        if (!red[i]) oshape.push_back(shape[i]);
        else if (keep) oshape.push_back(1);
      }
      std::uniform_real_distribution<float> us(0.01f, 0.2f);
      const float sx = us(rng), sy = us(rng);
      const int zx = static_cast<int>(rng() % 256) - 128, zy = static_cast<int>(rng() % 256) - 128;
      TinyModel m;
      const int x = m.i8("x", shape, sx, zx);
      const int ax = m.const_i32("axes", {static_cast<int32_t>(c.second.size())}, c.second);
      const int y = m.i8("y", oshape, sy, zy);
      tfl::ReducerOptionsT o;
      o.keep_dims = keep;
      m.op(BO::MEAN, {x, ax}, {y}, opts(o), 2);
      m.io({x}, {y});
      std::size_t n = 1;
      for (int v : shape) n *= v;
      const auto xin = rand_i8(rng, n);
      const auto got = run_i8(m.finish(), xin);
      int32_t mult;
      int shift;
      q::quantize_multiplier(double(sx) / double(sy), &mult, &shift);
      std::vector<int32_t> acc(n / count, 0);
      std::vector<int32_t> idx(rank, 0);
      for (std::size_t e = 0; e < n; ++e) {
        std::size_t oi = 0;
        for (int i = 0; i < rank; ++i)
          if (!red[i]) oi = oi * shape[i] + idx[i];
        acc[oi] += xin[e] - zx;
        for (int i = rank - 1; i >= 0; --i) {
          if (++idx[i] < shape[i]) break;
          idx[i] = 0;
        }
      }
      std::vector<int8_t> want(acc.size());
      const int32_t num = static_cast<int32_t>(count);
      for (std::size_t k = 0; k < acc.size(); ++k) {
        int32_t a = q::multiply_by_quantized_multiplier(acc[k], mult, shift);
        a = a > 0 ? (a + num / 2) / num : (a - num / 2) / num;
        want[k] = static_cast<int8_t>(q::clamp(a + zy, -128, 127));
      }
      EXPECT_EQ(got, want) << "shape rank " << rank << " keep " << keep;
    }
}

TEST(RuntimePlanner, ArenaIsExactAndLiveTensorsNeverOverlap) {
  Loaded l(mlp_model());
  ASSERT_EQ(l.status, Status::kOk) << l.it.error();
  const std::size_t need = l.it.arena_bytes_needed();
  ASSERT_GT(need, 0u);
  EXPECT_LT(need, l.it.activation_bytes_total()) << "the planner should reuse bytes";
  Aligned arena(need + 16);
  EXPECT_EQ(l.it.allocate(arena.data(), need - 1), Status::kArenaTooSmall);
  EXPECT_EQ(l.it.allocate(arena.data() + 8, need + 8), Status::kArenaTooSmall) << "misaligned";
  EXPECT_EQ(l.it.allocate(arena.data(), need), Status::kOk) << l.it.error();
  // Pairwise: overlapping lifetimes => disjoint byte ranges; every tensor inside the arena.
  std::size_t peak = 0;
  for (int i = 0; i < l.it.num_tensors(); ++i) {
    const TensorView a = l.it.tensor(i);
    if (a.arena_offset < 0) continue;
    peak = std::max(peak, static_cast<std::size_t>(a.arena_offset) + a.bytes);
    EXPECT_LE(static_cast<std::size_t>(a.arena_offset) + a.bytes, need);
    for (int j = i + 1; j < l.it.num_tensors(); ++j) {
      const TensorView b = l.it.tensor(j);
      if (b.arena_offset < 0) continue;
      const bool live_together = a.first_op <= b.last_op && b.first_op <= a.last_op;
      const bool disjoint = a.arena_offset + static_cast<int64_t>(a.bytes) <= b.arena_offset ||
                            b.arena_offset + static_cast<int64_t>(b.bytes) <= a.arena_offset;
      if (live_together) {
        EXPECT_TRUE(disjoint) << a.name << " and " << b.name;
      }
    }
  }
  EXPECT_LE(need - peak, 15u) << "arena_bytes_needed is the plan's peak (16-byte rounding only)";
}

TEST(RuntimePlanner, NoHeapInInvoke) {
  Loaded l(mlp_model());
  ASSERT_EQ(l.status, Status::kOk);
  Aligned arena(l.it.arena_bytes_needed());
  ASSERT_EQ(l.it.allocate(arena.data(), l.it.arena_bytes_needed()), Status::kOk);
  const long before = g_news.load();
  for (int i = 0; i < 5; ++i) l.it.invoke();
  EXPECT_EQ(g_news.load(), before);
}

TEST(RuntimePlanner, InvokeBeforeAllocateIsAnError) {
  Loaded l(mlp_model());
  ASSERT_EQ(l.status, Status::kOk);
  EXPECT_EQ(l.it.invoke(), Status::kInvalidArgument);
}

// ---- malformed files --------------------------------------------------------------------------

// Loads `bytes`; if accepted, runs it once on zeros (sanitizers watch the memory accesses).
Status load_and_run(const std::vector<uint8_t>& bytes) {
  Loaded l(bytes);
  if (l.status != Status::kOk) {
    EXPECT_NE(std::string(l.it.error()), "") << "an error needs a message";
    return l.status;
  }
  const std::size_t need = l.it.arena_bytes_needed();
  if (need > (64u << 20)) return Status::kOk;
  Aligned arena(need);
  std::memset(arena.data(), 0, need);
  if (l.it.allocate(arena.data(), need) == Status::kOk) l.it.invoke();
  return Status::kOk;
}

TEST(RuntimeMalformed, EveryTruncationIsRejected) {
  const auto good = mlp_model(2, 8, 8);
  for (std::size_t n = 0; n < good.size(); n += (n < 512 ? 1 : 7)) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_NE(load_and_run(cut), Status::kOk) << "truncated to " << n;
  }
}

TEST(RuntimeMalformed, CorruptedBytesNeverCrash) {
  const auto good = mlp_model(2, 8, 8);
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto bad = good;
    const int flips = 1 + trial % 4;
    for (int f = 0; f < flips; ++f) {
      const std::size_t pos = rng() % bad.size();
      bad[pos] = trial % 3 == 0 ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>(bad[pos] ^ (1u << (rng() % 8)));
    }
    accepted += load_and_run(bad) == Status::kOk;
  }
  std::printf("[ malformed ] %d of 3000 corrupted files loaded (the rest rejected)\n", accepted);
}

TEST(RuntimeMalformed, SpecificDefectsHaveClearErrors) {
  {  // op reads a tensor nobody wrote
    TinyModel m;
    const int x = m.f32("x", {1, 4});
    const int ghost = m.f32("ghost", {1, 4});
    const int y = m.f32("y", {1, 4});
    m.op(BO::ADD, {x, ghost}, {y}, opts(tfl::AddOptionsT{}));
    m.io({x}, {y});
    Loaded l(m.finish());
    EXPECT_EQ(l.status, Status::kMalformedModel);
    EXPECT_NE(std::string(l.it.error()).find("before it is written"), std::string::npos) << l.it.error();
  }
  {  // wrong output shape
    TinyModel m;
    const int x = m.f32("x", {1, 4});
    const int w = m.const_f32("w", {3, 4}, std::vector<float>(12, 0.1f));
    const int y = m.f32("y", {1, 5});
    m.op(BO::FULLY_CONNECTED, {x, w, -1}, {y}, opts(tfl::FullyConnectedOptionsT{}));
    m.io({x}, {y});
    Loaded l(m.finish());
    EXPECT_EQ(l.status, Status::kMalformedModel) << l.it.error();
  }
  {  // constant buffer of the wrong size
    TinyModel m;
    const int x = m.f32("x", {1, 4});
    const int c = m.tensor("c", {4}, tfl::TensorType::FLOAT32, {}, std::vector<float>(3).data(), 12);
    const int y = m.f32("y", {1, 4});
    m.op(BO::ADD, {x, c}, {y}, opts(tfl::AddOptionsT{}));
    m.io({x}, {y});
    Loaded l(m.finish());
    EXPECT_EQ(l.status, Status::kMalformedModel);
  }
  {  // int8 tensor without a scale
    TinyModel m;
    const int x = m.tensor("x", {1, 4}, tfl::TensorType::INT8);
    const int y = m.i8("y", {1, 4}, 0.1f, 0);
    m.op(BO::TANH, {x}, {y});
    m.io({x}, {y});
    Loaded l(m.finish());
    EXPECT_EQ(l.status, Status::kMalformedModel);
  }
  {  // an op we do not run
    TinyModel m;
    const int x = m.f32("x", {1, 4});
    const int y = m.f32("y", {1, 4});
    m.op(BO::EXP, {x}, {y});
    m.io({x}, {y});
    Loaded l(m.finish());
    EXPECT_EQ(l.status, Status::kUnsupported);
    EXPECT_NE(std::string(l.it.error()).find("EXP"), std::string::npos) << l.it.error();
  }
}

// ---- kernel variants vs reference -------------------------------------------------------------

std::vector<uint8_t> fc_model(int R, int K, int U, bool int8, std::mt19937& rng, float ys = 0.3f) {
  TinyModel m;
  tfl::FullyConnectedOptionsT fo;
  fo.keep_num_dims = true;
  if (!int8) {
    const int x = m.f32("x", {1, R, K});
    const int w = m.const_f32("w", {U, K}, randn(rng, static_cast<std::size_t>(U) * K, 0.2f));
    const int b = m.const_f32("b", {U}, randn(rng, U));
    const int y = m.f32("y", {1, R, U});
    m.op(BO::FULLY_CONNECTED, {x, w, b}, {y}, opts(fo));
    m.io({x}, {y});
    return m.finish();
  }
  const int x = m.i8("x", {1, R, K}, 0.05f, -9);
  Quant wq;
  for (int u = 0; u < U; ++u) {
    wq.scale.push_back(0.005f + 0.0001f * u);
    wq.zero_point.push_back(0);
  }
  const int w = m.const_i8("w", {U, K}, rand_i8(rng, static_cast<std::size_t>(U) * K, -127, 127), wq);
  Quant bq;
  for (float s : wq.scale) {
    bq.scale.push_back(0.05f * s);
    bq.zero_point.push_back(0);
  }
  std::vector<int32_t> bias(U);
  for (auto& v : bias) v = static_cast<int32_t>(rng() % 4001) - 2000;
  const int b = m.const_i32("b", {U}, bias, bq);
  const int y = m.i8("y", {1, R, U}, ys, 4);
  m.op(BO::FULLY_CONNECTED, {x, w, b}, {y}, opts(fo), 5);
  m.io({x}, {y});
  return m.finish();
}

std::vector<uint8_t> bmm_model(int Bt, int M, int K, int N, bool int8, std::mt19937& rng) {
  TinyModel m;
  int x, c, y;
  if (int8) {
    x = m.i8("x", {Bt, M, K}, 0.04f, 3);
    c = m.const_i8("c", {Bt, K, N}, rand_i8(rng, static_cast<std::size_t>(Bt) * K * N), per_tensor(0.03f, -5));
    y = m.i8("y", {Bt, M, N}, 0.5f, -1);
  } else {
    x = m.f32("x", {Bt, M, K});
    c = m.const_f32("c", {Bt, K, N}, randn(rng, static_cast<std::size_t>(Bt) * K * N));
    y = m.f32("y", {Bt, M, N});
  }
  m.op(BO::BATCH_MATMUL, {x, c}, {y}, opts(tfl::BatchMatMulOptionsT{}), int8 ? 4 : 1);
  m.io({x}, {y});
  return m.finish();
}

std::vector<uint8_t> conv_model(int H, int Ci, int Co, int k, int stride, bool same, bool int8,
                                std::mt19937& rng) {
  TinyModel m;
  const int oh = same ? (H + stride - 1) / stride : (H - k) / stride + 1;
  tfl::Conv2DOptionsT o;
  o.padding = same ? tfl::Padding::SAME : tfl::Padding::VALID;
  o.stride_h = o.stride_w = stride;
  const std::size_t nw = static_cast<std::size_t>(Co) * k * k * Ci;
  if (!int8) {
    const int x = m.f32("x", {1, H, H, Ci});
    const int w = m.const_f32("w", {Co, k, k, Ci}, randn(rng, nw, 0.2f));
    const int b = m.const_f32("b", {Co}, randn(rng, Co));
    const int y = m.f32("y", {1, oh, oh, Co});
    m.op(BO::CONV_2D, {x, w, b}, {y}, opts(o));
    m.io({x}, {y});
    return m.finish();
  }
  const int x = m.i8("x", {1, H, H, Ci}, 0.03f, 7);
  Quant wq;
  for (int c = 0; c < Co; ++c) {
    wq.scale.push_back(0.004f + 0.0002f * c);
    wq.zero_point.push_back(0);
  }
  const int w = m.const_i8("w", {Co, k, k, Ci}, rand_i8(rng, nw, -127, 127), wq);
  Quant bq;
  for (float s : wq.scale) {
    bq.scale.push_back(0.03f * s);
    bq.zero_point.push_back(0);
  }
  std::vector<int32_t> bias(Co);
  for (auto& v : bias) v = static_cast<int32_t>(rng() % 4001) - 2000;
  const int b = m.const_i32("b", {Co}, bias, bq);
  const int y = m.i8("y", {1, oh, oh, Co}, 0.2f, -3);
  m.op(BO::CONV_2D, {x, w, b}, {y}, opts(o), 3);
  m.io({x}, {y});
  return m.finish();
}

void compare_variants(const std::vector<uint8_t>& model, bool int8, std::mt19937& rng, const std::string& what) {
  Loaded probe(model);
  ASSERT_EQ(probe.status, Status::kOk) << what << ": " << probe.it.error();
  if (cpu_has_avx2_fma() || cpu_has_neon()) {  // kAuto must really pick the variant
    Loaded fast_probe(model, KernelSet::kAuto);
    ASSERT_EQ(fast_probe.status, Status::kOk) << what;
    EXPECT_STREQ(fast_probe.it.op_kernel(0), cpu_has_neon() ? "neon" : "avx2") << what;
  }
  const std::size_t in_bytes = probe.it.input(0).bytes * 3;
  std::vector<uint8_t> in(in_bytes);
  if (int8) {
    for (auto& b : in) b = static_cast<uint8_t>(rng());
  } else {
    auto v = randn(rng, in_bytes / 4);
    std::memcpy(in.data(), v.data(), in_bytes);
  }
  const auto ref = run_runtime(model, in.data(), in.size(), KernelSet::kReference);
  const auto fast = run_runtime(model, in.data(), in.size(), KernelSet::kAuto);
  ASSERT_EQ(ref.size(), fast.size());
  if (int8) {
    EXPECT_EQ(ref, fast) << what << ": int8 variant must be bit-exact";
  } else {
    const float* a = reinterpret_cast<const float*>(ref.data());
    const float* b = reinterpret_cast<const float*>(fast.data());
    for (std::size_t i = 0; i < ref.size() / 4; ++i)
      ASSERT_LE(std::fabs(a[i] - b[i]), 1e-5 * std::max(1.f, std::fabs(a[i]))) << what << " at " << i;
  }
}

TEST(RuntimeKernels, VectorRequantizationMatchesReference) {
  if (!x86::available()) GTEST_SKIP() << "no AVX2 variants here";
  // Random accumulators (small, large, extreme), multipliers from quantize_multiplier over a
  // wide range of real multipliers (shifts -31 .. +20), and rounding ties.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX);
  std::uniform_real_distribution<double> lg(-9.3, 6.0);
  int checked = 0;
  for (int it = 0; it < 200000; ++it) {
    int32_t x[8], m[8], sh[8], got[8];
    for (int j = 0; j < 8; ++j) {
      int32_t mm;
      int ss;
      q::quantize_multiplier(std::pow(10.0, lg(rng)), &mm, &ss);
      if (ss < -31) {
        mm = 0;
        ss = 0;
      }
      m[j] = mm;
      sh[j] = ss;
      const int kind = static_cast<int>(rng() % 4);
      const int32_t ax = kind == 0 ? any(rng)
                         : kind == 1 ? static_cast<int32_t>(rng() % 2000001) - 1000000
                         : kind == 2 ? static_cast<int32_t>(rng() % 201) - 100
                                     : (j % 2 ? INT32_MIN + static_cast<int32_t>(rng() % 3)
                                              : INT32_MAX - static_cast<int32_t>(rng() % 3));
      x[j] = ax;
      if (ss > 0 && kind == 0) x[j] = ax >> (ss + 1);  // as in the kernels: no wrap expected
    }
    x86::requantize8_avx2(x, m, sh, got);
    for (int j = 0; j < 8; ++j) {
      ASSERT_EQ(got[j], q::multiply_by_quantized_multiplier(x[j], m[j], sh[j]))
          << "x " << x[j] << " m " << m[j] << " shift " << sh[j];
      ++checked;
    }
  }
  std::printf("[ kernels ] 8-lane requantization equals the scalar one on %d values\n", checked);
}

TEST(RuntimeKernels, VariantsMatchReference) {
  std::printf("[ kernels ] AVX2+FMA variants %s on this CPU, NEON variants %s\n",
              cpu_has_avx2_fma() ? "active" : "not available",
              cpu_has_neon() ? "active (aarch64)" : "not built");
  std::mt19937 rng(99);
  // Shapes with tails (not multiples of 4 / 8 / 16) on every axis.
  const int dims[][3] = {{1, 1, 1},  {3, 17, 5},   {5, 16, 24},  {2, 33, 7},  {7, 64, 9},
                         {4, 100, 13}, {65, 128, 36}, {6, 136, 8}, {65, 40, 130}};
  for (bool int8 : {false, true}) {
    for (const auto& d : dims) {
      compare_variants(fc_model(d[0], d[1], d[2], int8, rng), int8, rng,
                       std::string(int8 ? "int8" : "float") + " fc " + std::to_string(d[1]));
      compare_variants(bmm_model(2, d[0], d[1], d[2] + 16, int8, rng), int8, rng,
                       std::string(int8 ? "int8" : "float") + " bmm " + std::to_string(d[1]));
    }
    // Output scales that make the requantization multiplier > 1 (left shifts, wrapping
    // products), ~1, and tiny (right shifts near 31): the vectorized requantization too.
    if (int8)
      for (float ys : {1e-5f, 2.5e-4f, 0.02f, 30.f, 2e4f})
        compare_variants(fc_model(5, 40, 27, true, rng, ys), true, rng, "int8 fc ys " + std::to_string(ys));
    compare_variants(conv_model(8, 3, 8, 4, 4, false, int8, rng), int8, rng, "conv patch");
    compare_variants(conv_model(9, 5, 6, 3, 1, true, int8, rng), int8, rng, "conv 3x3 same");
    compare_variants(conv_model(10, 4, 7, 3, 2, true, int8, rng), int8, rng, "conv 3x3 s2 same");
  }
}

// ---- golden files -----------------------------------------------------------------------------

bool read_all(const std::string& path, std::vector<uint8_t>& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

TEST(RuntimeGolden, ExportedModelsMatchLiteRt) {
  const std::string dir = TINYVIT_RT_GOLDEN_DIR;
  int found = 0;
  for (const char* name : {"rt_vit", "rt_vit_distill", "rt_resnet_cifar"}) {
    std::vector<uint8_t> model, in, want;
    if (!read_all(dir + "/" + name + ".tflite", model)) continue;
    ASSERT_TRUE(read_all(dir + "/" + name + ".in.bin", in));
    ASSERT_TRUE(read_all(dir + "/" + name + ".litert.bin", want));
    ++found;
    for (KernelSet ks : {KernelSet::kReference, KernelSet::kAuto}) {
      const auto got = run_runtime(model, in.data(), in.size(), ks);
      ASSERT_EQ(got.size(), want.size()) << name;
      double mx = 0;
      const float* a = reinterpret_cast<const float*>(got.data());
      const float* b = reinterpret_cast<const float*>(want.data());
      for (std::size_t i = 0; i < got.size() / 4; ++i) mx = std::max(mx, std::fabs(double(a[i]) - b[i]));
      std::printf("[ golden ] %s (%s): max |ours - LiteRT| = %g\n", name,
                  ks == KernelSet::kAuto ? "auto" : "reference", mx);
      EXPECT_LE(mx, 1e-4) << name;
    }
  }
  EXPECT_EQ(found, 3) << "golden files missing in " << dir
                      << " (regenerate: TINYVIT_RT_WRITE_GOLDEN=1 test_runtime_litert)";
}

// Int8Arithmetic::kLiteRt on hand-computed values (XNNPACK's formulas, docs/runtime.md).
TEST(RuntimeLiteRtArithmetic, HandComputedValues) {
  // fp32 requantization rounds ties to even; TFLite's reference (SRDHM's nudge) rounds a
  // positive tie up and a negative tie toward zero:
  //   acc  5 x 0.5 =  2.5 ->  2 (XNNPACK) vs  3 (reference)
  //   acc  7 x 0.5 =  3.5 ->  4            vs  4
  //   acc -7 x 0.5 = -3.5 -> -4            vs -3
  EXPECT_EQ(q::requantize_fp32(5, 0.5f, 0, -128, 127), 2);
  EXPECT_EQ(q::requantize_fp32(7, 0.5f, 0, -128, 127), 4);
  EXPECT_EQ(q::requantize_fp32(-7, 0.5f, 0, -128, 127), -4);
  int32_t m = 0;
  int sh = 0;
  q::quantize_multiplier(0.5, &m, &sh);
  EXPECT_EQ(q::multiply_by_quantized_multiplier(5, m, sh), 3);
  EXPECT_EQ(q::multiply_by_quantized_multiplier(7, m, sh), 4);
  EXPECT_EQ(q::multiply_by_quantized_multiplier(-7, m, sh), -3);
  // zero point and clamping: 1000 x 0.5 + 10 -> 127; NaN scale -> the lower bound
  EXPECT_EQ(q::requantize_fp32(3, 0.5f, 10, -128, 127), 12);  // 1.5 -> 2, + 10
  EXPECT_EQ(q::requantize_fp32(1000, 0.5f, 10, -128, 127), 127);
  EXPECT_EQ(q::requantize_fp32(1000, std::nanf(""), 10, -128, 127), -128);

  // ADD through a one-op graph: sa = 0.5, sb = 0.25, sy = 1, zero points 0. XNNPACK:
  // ra = 0.5, rb = 0.25, shift = 20 - (-1) = 21, ma = 2^20, mb = 2^19,
  // y = (a 2^20 + b 2^19 + 2^20) >> 21 = floor(a / 2 + b / 4 + 1 / 2): a = 1, b = 2 -> 1.0 + 0.5
  // -> floor(1.5) = 1; a = 3, b = 0 -> 2 (1.5 rounds half UP); a = -3, b = 0 -> -1 (-1.5 half
  // up); the reference rounds -1.5 away from zero: -2.
  TinyModel t;
  const int a = t.i8("a", {1, 4}, 0.5f, 0);
  const int b = t.i8("b", {1, 4}, 0.25f, 0);
  const int y = t.i8("y", {1, 4}, 1.f, 0);
  t.op(tfl::BuiltinOperator::ADD, {a, b}, {y}, opts(tfl::AddOptionsT{}), 2);
  t.io({a, b}, {y});
  const auto model = t.finish();
  const int8_t in[8] = {1, 3, -3, 0, /* b */ 2, 0, 0, 6};
  const auto lrt = run_runtime(model, in, sizeof(in), KernelSet::kAuto, Int8Arithmetic::kLiteRt);
  const auto ref = run_runtime(model, in, sizeof(in), KernelSet::kReference);
  ASSERT_EQ(lrt.size(), 4u);
  EXPECT_EQ(int8_t(lrt[0]), 1);   // 0.5 + 0.5 = 1.0 exactly
  EXPECT_EQ(int8_t(lrt[1]), 2);   // 1.5 -> 2
  EXPECT_EQ(int8_t(lrt[2]), -1);  // -1.5 -> -1 (half up)
  EXPECT_EQ(int8_t(lrt[3]), 2);   // 6 / 4 = 1.5 -> 2
  EXPECT_EQ(int8_t(ref[2]), -2);  // TFLite reference: -1.5 -> -2 (half away from zero)
}

// The int8 tiny ViTs from the quantizer (integer-only: int8 SOFTMAX, GELU, FC, BATCH_MATMUL and
// LayerNorm), written by test_runtime_litert's RuntimeInt8Model test with
// TINYVIT_RT_WRITE_GOLDEN=1: rt_vit_int8 is the current exporter's graph (LayerNorm as MEAN, SUB,
// L2_NORMALIZATION); rt_vit_int8_rsqrt the earlier one (MEAN, SQUARED_DIFFERENCE, RSQRT, SUB,
// MUL), kept so those int8 kernels stay covered here, under the sanitizers and on aarch64. Our
// integer arithmetic must give the same bytes on every build and CPU (reference and variants,
// x86 and aarch64): rt.bin is our reference output when the files were written. Against
// LiteRT.js (litert.bin) the bars are the whole-model ones of test_runtime_int8_model.cpp: every
// op is within one step of LiteRT on LiteRT's own inputs, and those steps compound through the
// LayerNorms to a few steps on the logits (mean |diff| <= 5 steps, max <= 40).
class RuntimeGoldenInt8 : public ::testing::TestWithParam<const char*> {};

TEST_P(RuntimeGoldenInt8, VitIsBitStableAndNearLiteRt) {
  const std::string dir = TINYVIT_RT_GOLDEN_DIR;
  const std::string name = GetParam();
  std::vector<uint8_t> model, in, want, ours;
  ASSERT_TRUE(read_all(dir + "/" + name + ".tflite", model))
      << "regenerate: TINYVIT_RT_WRITE_GOLDEN=1 test_runtime_litert --gtest_filter=RuntimeInt8Model.*";
  ASSERT_TRUE(read_all(dir + "/" + name + ".in.bin", in));
  ASSERT_TRUE(read_all(dir + "/" + name + ".litert.bin", want));
  ASSERT_TRUE(read_all(dir + "/" + name + ".rt.bin", ours));
  for (KernelSet ks : {KernelSet::kReference, KernelSet::kAuto}) {
    const auto got = run_runtime(model, in.data(), in.size(), ks);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(got, ours) << "int8 output changed (" << (ks == KernelSet::kAuto ? "auto" : "reference") << ")";
    int maxd = 0, differ = 0;
    double sum = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const int d = std::abs(int(int8_t(got[i])) - int(int8_t(want[i])));
      maxd = std::max(maxd, d);
      differ += d != 0;
      sum += d;
    }
    std::printf("[ golden ] %s (%s): %d of %zu logits differ from LiteRT, mean %.2f, max %d steps\n",
                name.c_str(), ks == KernelSet::kAuto ? "auto" : "reference", differ, got.size(),
                sum / got.size(), maxd);
    EXPECT_LE(sum / got.size(), 5.0);
    EXPECT_LE(maxd, 40);
  }
  // With LiteRT's int8 arithmetic (XNNPACK's requantization where LiteRT's delegate takes the
  // op, its float-table SOFTMAX): LiteRT's logits bit for bit, on every build and CPU.
  const auto lrt = run_runtime(model, in.data(), in.size(), KernelSet::kAuto, Int8Arithmetic::kLiteRt);
  EXPECT_EQ(lrt, want) << name << ": LiteRT arithmetic differs from LiteRT.js's recorded output";
}
INSTANTIATE_TEST_SUITE_P(RuntimeGolden, RuntimeGoldenInt8,
                         ::testing::Values("rt_vit_int8", "rt_vit_int8_rsqrt"));

}  // namespace
}  // namespace tinyvit::rt::testing
