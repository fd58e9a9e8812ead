// SOFTMAX over the last axis: y = exp(beta (x - max)) / sum exp(beta (x - max)).
//   float32: in float with the C library's exp.
//   int8 -> int8 (output scale 1/256, zero point -128): TensorFlow Lite Micro's reference
//     kernel (tflite::reference_ops::Softmax, gemmlowp fixed point), per row:
//       prepare: m = min(beta * sx * 2^26, 2^31 - 1) (kScaledDiffIntegerBits = 5) ->
//                (input_multiplier, input_left_shift) like QuantizeMultiplierGreaterThanOne;
//                diff_min = -floor(31 * 2^26 / 2^input_left_shift)  (CalculateInputRadius)
//       d = x - max(row); entries with d < diff_min are ignored (output -128);
//       e(d) = exp_on_negative_values(SRDHM(d * 2^left_shift, multiplier))  (Q5.26 -> Q0.31)
//       sum = sum of RoundingDivideByPOT(e(d), 12)                        (Q12.19 accumulator)
//       r = GetReciprocal(sum, 12, &bits)       (1 / (1 + x) Newton-Raphson, Q0.31 mantissa)
//       y = clamp(RoundingDivideByPOT(SRDHM(r, e(d)), bits + 31 - 8) - 128, -128, 127)
//   int8, Int8Arithmetic::kLiteRt: LiteRT's builtin kernel on x86/wasm (optimized_ops::Softmax
//     with PopulateSoftmaxLookupTable; its XNNPACK delegate takes float softmax only):
//       t[d] = expf(-sx * beta * d) (float, d = max - x in [0, 255]); sum = sum t in float;
//       inv = 1 / (sum * sy); y = clamp(round_half_away(t * inv) + zy)
//     It can differ from the fixed point above by a step (docs/runtime.md).
#include <cmath>

#include "kernels/kernel.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

void eval_float(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const int D = x.dims[x.rank - 1];
  const int64_t rows = x.elements / D;
  const float beta = ctx.op.p.f[0];
  const float* xp = x.as<const float>();
  float* yp = ctx.out().as<float>();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = xp + r * D;
    float* yr = yp + r * D;
    float mx = xr[0];
    for (int i = 1; i < D; ++i) mx = xr[i] > mx ? xr[i] : mx;
    float sum = 0.f;
    for (int i = 0; i < D; ++i) {
      yr[i] = std::exp((xr[i] - mx) * beta);
      sum += yr[i];
    }
    const float inv = 1.f / sum;
    for (int i = 0; i < D; ++i) yr[i] *= inv;
  }
}

// gemmlowp RoundingDivideByPOT for exponents that may exceed 31 (a large row sum makes
// bits + 23 up to 34); the same value as q::rounding_divide_by_pot where both are defined.
inline int32_t rounding_divide_by_pot64(int32_t x, int exponent) {
  if (exponent < 31) return q::rounding_divide_by_pot(x, exponent);
  const int64_t mask = (int64_t{1} << exponent) - 1;
  const int64_t remainder = static_cast<int64_t>(x) & mask;
  const int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return static_cast<int32_t>((static_cast<int64_t>(x) >> exponent) + (remainder > threshold ? 1 : 0));
}

// p.multiplier = input_multiplier, p.left_shift = input_left_shift, p.i[0] = diff_min;
// p.lut = 256 int32 precomputed in prepare(): lut[d] = e(-d) for d = max - x in [0, 255]
// (0 where -d < diff_min: a zero e adds 0 to the sum and gives output -128, exactly what the
// cut-off does).
void eval_int8(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const int D = x.dims[x.rank - 1];
  const int64_t rows = x.elements / D;
  const int32_t* exp_lut = ctx.op.p.lut;
  const int8_t* xp = x.as<const int8_t>();
  int8_t* yp = ctx.out().as<int8_t>();
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* xr = xp + r * D;
    int8_t* yr = yp + r * D;
    int32_t mx = -128;
    for (int i = 0; i < D; ++i) mx = xr[i] > mx ? xr[i] : mx;
    int32_t sum = 0;  // Q12.19; D <= 4095 (checked in prepare) keeps it below 2^31
    for (int i = 0; i < D; ++i) sum += q::rounding_divide_by_pot(exp_lut[mx - xr[i]], 12);
    int bits = 0;
    const int32_t scale = q::get_reciprocal(sum, 12, &bits);
    const int exponent = bits + 31 - 8;
    for (int i = 0; i < D; ++i) {
      const int32_t prod = q::saturating_rounding_doubling_high_mul(scale, exp_lut[mx - xr[i]]);
      yr[i] = static_cast<int8_t>(q::clamp(rounding_divide_by_pot64(prod, exponent) - 128, -128, 127));
    }
  }
}

// p.lutf[d] = expf(-sx * beta * d); p.f[1] = sy.
void eval_int8_float_table(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const int D = x.dims[x.rank - 1];
  const int64_t rows = x.elements / D;
  const int8_t* xp = x.as<const int8_t>();
  int8_t* yp = ctx.out().as<int8_t>();
  for (int64_t r = 0; r < rows; ++r)
    q::softmax_row_float_table(xp + r * D, yp + r * D, D, ctx.op.p.lutf, ctx.op.p.f[1],
                               ctx.out().zero_point);
}

Status prepare_int8(OpContext& ctx, float beta) {
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  Status s = expect_per_tensor(ctx, x, "input");
  if (s == Status::kOk) s = expect_per_tensor(ctx, y, "output");
  if (s != Status::kOk) return s;
  // TFLite Micro: int8 output must be scale 1/256, zero point -128.
  if (y.zero_point != -128 || std::fabs(y.scale - 1.f / 256) > 0.001f / 256)
    return fail(ctx.m, Status::kUnsupported, "int8 softmax output '%s' must have scale 1/256 and "
                "zero point -128 (has %g, %d)", y.name, static_cast<double>(y.scale), static_cast<int>(y.zero_point));
  if (x.dims[x.rank - 1] > 4095)
    return fail(ctx.m, Status::kUnsupported, "int8 softmax over %d values (at most 4095: the row "
                "sum is a Q12.19 fixed-point value)", static_cast<int>(x.dims[x.rank - 1]));
  // PreprocessSoftmaxScaling + QuantizeMultiplierGreaterThanOne (no clamp of the shift at 30).
  constexpr int kScaledDiffIntegerBits = 5;
  double m = static_cast<double>(beta) * static_cast<double>(x.scale) *
             static_cast<double>(int64_t{1} << (31 - kScaledDiffIntegerBits));
  if (m > 2147483647.0) m = 2147483647.0;
  if (!(m >= 1.0))
    return fail(ctx.m, Status::kUnsupported, "int8 softmax: beta * input scale = %g is too small "
                "(TFLite needs beta * scale * 2^26 >= 1)", static_cast<double>(beta) * x.scale);
  int e = 0;
  const double frac = std::frexp(m, &e);
  int64_t qf = static_cast<int64_t>(std::round(frac * static_cast<double>(int64_t{1} << 31)));
  if (qf == (int64_t{1} << 31)) {
    qf /= 2;
    ++e;
  }
  OpParams& p = ctx.op.p;
  if (ctx.m.arithmetic == Int8Arithmetic::kLiteRt) {
    float* table = static_cast<float*>(persistent_alloc(ctx.m, sizeof(float) * 256));
    if (!table) return fail(ctx.m, Status::kOutOfMemory, "no room for the softmax exp table");
    q::softmax_float_table(x.scale, beta, table);
    p.lutf = table;
    p.f[1] = y.scale;
    ctx.op.eval = eval_int8_float_table;
    return Status::kOk;
  }
  p.multiplier = static_cast<int32_t>(qf);
  p.left_shift = e;  // 1 .. 31
  // CalculateInputRadius(5, left_shift): floor(31 * 2^26 / 2^left_shift).
  const double radius = 31.0 * static_cast<double>(int64_t{1} << (31 - kScaledDiffIntegerBits)) /
                        static_cast<double>(int64_t{1} << e);
  p.i[0] = -static_cast<int32_t>(std::floor(radius));
  // The exp of every possible int8 difference, as the gemmlowp reference computes it.
  int32_t* lut = static_cast<int32_t*>(persistent_alloc(ctx.m, sizeof(int32_t) * 256));
  if (!lut) return fail(ctx.m, Status::kOutOfMemory, "no room for the softmax exp table");
  for (int32_t d = 0; d < 256; ++d) {
    const int32_t diff = -d;
    int32_t e_d = 0;
    if (diff >= p.i[0]) {
      const int32_t scaled = q::saturating_rounding_doubling_high_mul(
          static_cast<int32_t>(static_cast<uint32_t>(diff) << p.left_shift), p.multiplier);
      e_d = q::exp_on_negative_values_q5(scaled);
    }
    lut[d] = e_d;
  }
  p.lut = lut;
  ctx.op.eval = eval_int8;
  return Status::kOk;
}

}  // namespace

Status prepare_softmax(OpContext& ctx) {
  Status s = expect_io(ctx, 1, 1);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  if (!same_shape(x, y) || x.rank < 1)
    return fail(ctx.m, Status::kMalformedModel, "output shape differs from input");
  const auto* o = static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_SoftmaxOptions();
  ctx.op.p.f[0] = o ? o->beta() : 1.f;
  if (!std::isfinite(ctx.op.p.f[0]))
    return fail(ctx.m, Status::kMalformedModel, "beta is not finite");
  if (x.type == DType::kFloat32 && y.type == DType::kFloat32) {
    ctx.op.eval = eval_float;
    return Status::kOk;
  }
  if (x.type == DType::kInt8 && y.type == DType::kInt8) return prepare_int8(ctx, ctx.op.p.f[0]);
  return fail(ctx.m, Status::kUnsupported, "%s softmax is not implemented", dtype_name(x.type));
}

}  // namespace tinyvit::rt
