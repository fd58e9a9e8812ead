// L2_NORMALIZATION over the last axis: y = x / ||x||_2 for every row of depth D.
//   float32 (TFLite reference_ops::L2Normalization): y = x / max(sqrt(sum x^2), 1e-6).
//   int8 (TFLite reference_integer_ops::L2Normalization, the same in TFLite Micro; LiteRT's
//   XNNPACK delegate does not take int8 L2_NORMALIZATION, so LiteRT.js runs this too):
//     v = x - zx; acc = sum v^2 (int32, exact: D * 255^2 < 2^31 for D < 33,000);
//     (m, e) = GetInvSqrtQuantizedMultiplierExp(acc, reverse_shift -1);
//     y = clamp(MBQM(v, m, e + 7), -128, 127)
//   The output is fixed at scale 1/128, zero point 0 (TFLite's Prepare refuses anything else),
//   so y reals lie in [-1, 127/128]. The per-row statistics stay in int32: this is how the int8
//   ViT graph normalizes (docs/quantization.md).
#include <cmath>

#include "kernels/kernel.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

// p.i[0] = depth (last axis), p.i[1] = rows.
void eval_float(const OpContext& ctx) {
  const float* xp = ctx.in(0).as<const float>();
  float* yp = ctx.out().as<float>();
  const int32_t D = ctx.op.p.i[0], rows = ctx.op.p.i[1];
  for (int32_t r = 0; r < rows; ++r, xp += D, yp += D) {
    float ss = 0.f;
    for (int32_t k = 0; k < D; ++k) ss += xp[k] * xp[k];
    float n = std::sqrt(ss);
    if (n < 1e-6f) n = 1e-6f;
    for (int32_t k = 0; k < D; ++k) yp[k] = xp[k] / n;
  }
}

void eval_int8(const OpContext& ctx) {
  const int8_t* xp = ctx.in(0).as<const int8_t>();
  int8_t* yp = ctx.out().as<int8_t>();
  const int32_t D = ctx.op.p.i[0], rows = ctx.op.p.i[1];
  for (int32_t r = 0; r < rows; ++r, xp += D, yp += D)
    q::l2_normalization_row(xp, yp, D, ctx.in(0).zero_point);
}

}  // namespace

Status prepare_l2_normalization(OpContext& ctx) {
  Status s = expect_io(ctx, 1, 1);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  if (!same_shape(x, y)) return fail(ctx.m, Status::kMalformedModel, "output shape differs");
  if (x.type != y.type) return fail(ctx.m, Status::kUnsupported, "input and output types differ");
  if (x.rank < 1 || x.rank > 4)
    return fail(ctx.m, Status::kUnsupported, "rank %d (TFLite: 1..4)", x.rank);
  const auto* o =
      static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_L2NormOptions();
  if (o && o->fused_activation_function() != tfl::ActivationFunctionType::NONE)
    return fail(ctx.m, Status::kUnsupported, "a fused activation is not supported");
  const int32_t D = x.dims[x.rank - 1];
  if (D <= 0) return fail(ctx.m, Status::kMalformedModel, "empty last axis");
  ctx.op.p.i[0] = D;
  ctx.op.p.i[1] = static_cast<int32_t>(x.elements / D);
  if (x.type == DType::kFloat32) {
    ctx.op.eval = eval_float;
    return Status::kOk;
  }
  if (x.type != DType::kInt8) return fail(ctx.m, Status::kUnsupported, "type %s", dtype_name(x.type));
  s = expect_per_tensor(ctx, x, "input");
  if (s == Status::kOk) s = expect_per_tensor(ctx, y, "output");
  if (s != Status::kOk) return s;
  if (y.scale != 1.f / 128.f || y.zero_point != 0)
    return fail(ctx.m, Status::kUnsupported,
                "int8 output must have scale 1/128 and zero point 0 (has %g, %d)",
                static_cast<double>(y.scale), static_cast<int>(y.zero_point));
  if (D > 33000) return fail(ctx.m, Status::kUnsupported, "last axis %d overflows int32 sums", D);
  ctx.op.eval = eval_int8;
  return Status::kOk;
}

}  // namespace tinyvit::rt
