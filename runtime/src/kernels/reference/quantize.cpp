// QUANTIZE (float32 -> int8: y = clamp(round_half_away(x / sy) + zy); int8 -> int8:
// y = clamp(MBQM(x - zx, q, s) + zy) with q, s from double(sx) / double(sy)) and
// DEQUANTIZE (int8 -> float32: y = float(double(sx) * (x - zx))).
// Int8Arithmetic::kLiteRt (XNNPACK's convert): float32 -> int8: y = rne(clamp(x * (1 / sy))) + zy
// (a multiply by the float reciprocal). int8 -> int8 and DEQUANTIZE stay as above (our
// exporter writes no int8 -> int8 QUANTIZE, so XNNPACK's 8-bit requantization is not modelled).
#include "kernels/kernel.h"
#include "quant.h"

namespace tinyvit::rt {
namespace {

void eval_quantize(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const float* xp = x.as<const float>();
  int8_t* yp = y.as<int8_t>();
  for (int64_t i = 0; i < x.elements; ++i) yp[i] = q::quantize(xp[i], y.scale, y.zero_point);
}

// p.f[0] = 1 / sy (float)
void eval_quantize_xnn(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const float* xp = x.as<const float>();
  int8_t* yp = y.as<int8_t>();
  const float inv = ctx.op.p.f[0];
  const int32_t zy = y.zero_point;
  for (int64_t i = 0; i < x.elements; ++i)
    yp[i] = static_cast<int8_t>(q::round_half_even_clamped(xp[i] * inv, -128 - zy, 127 - zy) + zy);
}

void eval_requantize(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const int8_t* xp = x.as<const int8_t>();
  int8_t* yp = y.as<int8_t>();
  for (int64_t i = 0; i < x.elements; ++i) {
    const int32_t v = q::add_zp(q::multiply_by_quantized_multiplier(xp[i] - x.zero_point, ctx.op.p.multiplier,
                                                          ctx.op.p.shift), y.zero_point);
    yp[i] = static_cast<int8_t>(q::clamp(v, -128, 127));
  }
}

void eval_dequantize(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const int8_t* xp = x.as<const int8_t>();
  float* yp = y.as<float>();
  const double s = x.scale;
  for (int64_t i = 0; i < x.elements; ++i)
    yp[i] = static_cast<float>(s * static_cast<double>(xp[i] - x.zero_point));
}

}  // namespace

Status prepare_quantize(OpContext& ctx) {
  Status s = expect_io(ctx, 1, 1);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  if (!same_shape(x, y)) return fail(ctx.m, Status::kMalformedModel, "output shape differs");
  if (y.type != DType::kInt8) return fail(ctx.m, Status::kUnsupported, "output must be int8");
  if ((s = expect_per_tensor(ctx, y, "output")) != Status::kOk) return s;
  const bool litert = ctx.m.arithmetic == Int8Arithmetic::kLiteRt;
  if (x.type == DType::kFloat32) {
    ctx.op.p.f[0] = 1.0f / y.scale;
    ctx.op.eval = litert ? eval_quantize_xnn : eval_quantize;
    return Status::kOk;
  }
  if (x.type == DType::kInt8) {
    if ((s = expect_per_tensor(ctx, x, "input")) != Status::kOk) return s;
    q::quantize_multiplier(static_cast<double>(x.scale) / static_cast<double>(y.scale),
                           &ctx.op.p.multiplier, &ctx.op.p.shift);
    ctx.op.eval = eval_requantize;
    return Status::kOk;
  }
  return fail(ctx.m, Status::kUnsupported, "input type %s", dtype_name(x.type));
}

Status prepare_dequantize(OpContext& ctx) {
  Status s = expect_io(ctx, 1, 1);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  if (!same_shape(x, y)) return fail(ctx.m, Status::kMalformedModel, "output shape differs");
  if (x.type != DType::kInt8 || y.type != DType::kFloat32)
    return fail(ctx.m, Status::kUnsupported, "only int8 -> float32");
  if ((s = expect_per_tensor(ctx, x, "input")) != Status::kOk) return s;
  ctx.op.eval = eval_dequantize;
  return Status::kOk;
}

}  // namespace tinyvit::rt
