// Unary elementwise ops: RSQRT, TANH, LOGISTIC, GELU.
//   float32: y = f(x) with the C library (GELU exact: 0.5 x (1 + erf(x / sqrt 2)); approximate:
//            0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))).
//   int8 GELU/TANH/LOGISTIC: a 256-entry table, built the way TFLite's builtin kernels build it
//            (PopulateLookupTable): for every int8 q, v = f(sx * (q - zx)) in float,
//            y = clamp(round(v * (1 / sy)) + zy). (TFLite Micro's TANH/LOGISTIC use a
//            fixed-point polynomial instead; not implemented here.)
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

}  // namespace

Status prepare_rsqrt(OpContext& ctx) { return prepare_unary(ctx, kRsqrt, false); }
Status prepare_tanh(OpContext& ctx) { return prepare_unary(ctx, kTanh, true); }
Status prepare_logistic(OpContext& ctx) { return prepare_unary(ctx, kLogistic, true); }
Status prepare_gelu(OpContext& ctx) {
  const auto* o = static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_GeluOptions();
  return prepare_unary(ctx, (o && o->approximate()) ? kGeluApprox : kGelu, true);
}

}  // namespace tinyvit::rt
