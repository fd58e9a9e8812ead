// Unary elementwise ops: RSQRT, TANH, LOGISTIC, GELU.
//   float32: y = f(x) with the C library (GELU exact: 0.5 x (1 + erf(x / sqrt 2)); approximate:
//            0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))).
//   int8 GELU/TANH/LOGISTIC: a 256-entry table, built the way TFLite's builtin kernels build it
//            (PopulateLookupTable): for every int8 q, v = f(sx * (q - zx)) in float,
//            y = clamp(round(v * (1 / sy)) + zy). (TFLite Micro's TANH/LOGISTIC use a
//            fixed-point polynomial instead; not implemented here.)
//   int8 RSQRT: TFLite's integer arithmetic (elementwise.cc RsqrtEvalQuantizedInt8, the same in
//            TFLite Micro), which TFLite runs per element; it depends only on the input byte, so
//            prepare() evaluates it for all 256 values into the same kind of table:
//              (M, s) = QuantizeMultiplier(1 / (sqrtf(sx) * sy))   (sqrt, product in float)
//              v = q - zx; v == 0 -> 127; else (m, e) = GetInvSqrtQuantizedMultiplierExp(v),
//              t = MBQM(1, m, e + 20), y = clamp(MBQM(t, M, s - 20) + zy, -128, 127).
//            TFLite rejects v < 0 at run time ("only defined for positive values"); eval here
//            has no failure path, so those entries hold 127 like v == 0 (our exporter always
//            gives RSQRT inputs zero point -128, so they cannot occur in its files).
#include <cmath>

#include "kernels/kernel.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

enum Kind { kRsqrt, kTanh, kLogistic, kGelu, kGeluApprox };

float apply(Kind k, float x) {
  switch (k) {
    case kRsqrt: return 1.f / std::sqrt(x);
    case kTanh: return std::tanh(x);
    case kLogistic: return 1.f / (1.f + std::exp(-x));
    case kGelu: return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752440f));
    case kGeluApprox:
      return 0.5f * x * (1.f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
  }
  return 0.f;
}

template <Kind K>
void eval_float(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const float* xp = x.as<const float>();
  float* yp = ctx.out().as<float>();
  for (int64_t i = 0; i < x.elements; ++i) yp[i] = apply(K, xp[i]);
}

void eval_lut(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const int8_t* xp = x.as<const int8_t>();
  int8_t* yp = ctx.out().as<int8_t>();
  const int8_t* lut = ctx.op.p.lut8;
  for (int64_t i = 0; i < x.elements; ++i) yp[i] = lut[static_cast<uint8_t>(xp[i])];
}

Status prepare_unary(OpContext& ctx, Kind kind, bool int8_ok) {
  Status s = expect_io(ctx, 1, 1);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  if (!same_shape(x, y)) return fail(ctx.m, Status::kMalformedModel, "output shape differs");
  if (x.type != y.type) return fail(ctx.m, Status::kUnsupported, "input and output types differ");
  if (x.type == DType::kFloat32) {
    static const EvalFn kFns[] = {eval_float<kRsqrt>, eval_float<kTanh>, eval_float<kLogistic>,
                                  eval_float<kGelu>, eval_float<kGeluApprox>};
    ctx.op.eval = kFns[kind];
    return Status::kOk;
  }
  if (x.type == DType::kInt8 && int8_ok) {
    s = expect_per_tensor(ctx, x, "input");
    if (s == Status::kOk) s = expect_per_tensor(ctx, y, "output");
    if (s != Status::kOk) return s;
    int8_t* lut = static_cast<int8_t*>(persistent_alloc(ctx.m, 256));
    if (!lut) return fail(ctx.m, Status::kOutOfMemory, "no room for the lookup table");
    const float inv = 1.f / y.scale;
    for (int32_t v = -128; v <= 127; ++v) {
      const float dq = x.scale * static_cast<float>(v - x.zero_point);
      const float t = apply(kind, dq);
      const int32_t r = q::clamp(q::round_to_int(t * inv), -65536, 65536);
      const int32_t qv = r + y.zero_point;
      lut[static_cast<uint8_t>(static_cast<int8_t>(v))] = static_cast<int8_t>(q::clamp(qv, -128, 127));
    }
    ctx.op.p.lut8 = lut;
    ctx.op.eval = eval_lut;
    return Status::kOk;
  }
  return fail(ctx.m, Status::kUnsupported, "type %s", dtype_name(x.type));
}

// TFLite's int8 RSQRT for one input value.
int8_t rsqrt_int8(int32_t v, int32_t out_multiplier, int out_shift, int32_t zy) {
  if (v <= 0) return 127;
  constexpr int kShift = 20;  // keeps the intermediate an integer (TFLite's kShift)
  int32_t m = 0;
  int e = 0;
  q::inv_sqrt_quantized_multiplier_exp(v, &m, &e);
  const int32_t t = q::multiply_by_quantized_multiplier(1, m, e + kShift);
  const int32_t y = q::add_zp(q::multiply_by_quantized_multiplier(t, out_multiplier, out_shift - kShift), zy);
  return static_cast<int8_t>(q::clamp(y, -128, 127));
}

}  // namespace

Status prepare_rsqrt(OpContext& ctx) {
  Status s = expect_io(ctx, 1, 1);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  if (x.type != DType::kInt8 || y.type != DType::kInt8) return prepare_unary(ctx, kRsqrt, false);
  if (!same_shape(x, y)) return fail(ctx.m, Status::kMalformedModel, "output shape differs");
  s = expect_per_tensor(ctx, x, "input");
  if (s == Status::kOk) s = expect_per_tensor(ctx, y, "output");
  if (s != Status::kOk) return s;
  // SetRsqrtOutputMultiplier: 1. / (std::sqrt(float) * float), the division in double.
  const float denom = std::sqrt(x.scale) * y.scale;
  int32_t multiplier = 0;
  int shift = 0;
  q::quantize_multiplier(1.0 / static_cast<double>(denom), &multiplier, &shift);
  int8_t* lut = static_cast<int8_t*>(persistent_alloc(ctx.m, 256));
  if (!lut) return fail(ctx.m, Status::kOutOfMemory, "no room for the lookup table");
  for (int32_t v = -128; v <= 127; ++v)
    lut[static_cast<uint8_t>(static_cast<int8_t>(v))] =
        rsqrt_int8(v - x.zero_point, multiplier, shift, y.zero_point);
  ctx.op.p.lut8 = lut;
  ctx.op.eval = eval_lut;
  return Status::kOk;
}
Status prepare_tanh(OpContext& ctx) { return prepare_unary(ctx, kTanh, true); }
Status prepare_logistic(OpContext& ctx) { return prepare_unary(ctx, kLogistic, true); }
Status prepare_gelu(OpContext& ctx) {
  const auto* o = static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_GeluOptions();
  return prepare_unary(ctx, (o && o->approximate()) ? kGeluApprox : kGelu, true);
}

}  // namespace tinyvit::rt
