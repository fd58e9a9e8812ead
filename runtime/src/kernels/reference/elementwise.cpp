// Binary elementwise ops with numpy broadcasting: ADD, SUB, MUL (fused activation),
// SQUARED_DIFFERENCE. float32: y = act(a op b) in float. int8 (TFLite reference arithmetic):
//   ADD/SUB: left_shift = 20; twice_max = 2 * max(sa, sb) (float); multipliers
//            ma = sa / twice_max, mb = sb / twice_max, my = twice_max / (2^20 * sy) (double);
//            a' = MBQM((a - za) << 20, ma), b' = MBQM((b - zb) << 20, mb);
//            y = clamp(MBQM(a' +/- b', my) + zy, act)
//   MUL:     y = clamp(MBQM((a - za) (b - zb), sa * sb / sy) + zy, act)
//   SQUARED_DIFFERENCE: left_shift = 7; twice_max = 2 * max(sa, sb) (double);
//            a', b' as ADD with shift 7; y = clamp(MBQM((a' - b')^2, twice_max^2 / (2^14 sy)) + zy)
#include "kernels/shape_util.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

enum Kind { kAdd = 0, kSub = 1, kMul = 2, kSqDiff = 3 };

inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

void eval_add_f(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  broadcast_apply<float, float>(ctx.in(0), ctx.in(1), ctx.out(),
                                [&](float a, float b) { return clampf(a + b, p.fact_min, p.fact_max); });
}
void eval_sub_f(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  broadcast_apply<float, float>(ctx.in(0), ctx.in(1), ctx.out(),
                                [&](float a, float b) { return clampf(a - b, p.fact_min, p.fact_max); });
}
void eval_mul_f(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  broadcast_apply<float, float>(ctx.in(0), ctx.in(1), ctx.out(),
                                [&](float a, float b) { return clampf(a * b, p.fact_min, p.fact_max); });
}
void eval_sqdiff_f(const OpContext& ctx) {
  broadcast_apply<float, float>(ctx.in(0), ctx.in(1), ctx.out(), [](float a, float b) {
    const float d = a - b;
    return d * d;
  });
}

// p.i[0] = -za, p.i[1] = -zb; multiplier/shift = a, multiplier2/shift2 = b, multiplier3/shift3 = y.
template <int kSign>
void eval_addsub_q(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  const int32_t zy = ctx.out().zero_point;
  broadcast_apply<int8_t, int8_t>(ctx.in(0), ctx.in(1), ctx.out(), [&](int8_t a, int8_t b) {
    const int32_t sa = (a + p.i[0]) * (1 << p.left_shift);
    const int32_t sb = (b + p.i[1]) * (1 << p.left_shift);
    const int32_t qa = q::multiply_by_quantized_multiplier(sa, p.multiplier, p.shift);
    const int32_t qb = q::multiply_by_quantized_multiplier(sb, p.multiplier2, p.shift2);
    const int32_t raw = kSign > 0 ? qa + qb : qa - qb;
    const int32_t v = q::multiply_by_quantized_multiplier(raw, p.multiplier3, p.shift3) + zy;
    return static_cast<int8_t>(q::clamp(v, p.act_min, p.act_max));
  });
}

void eval_mul_q(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  const int32_t zy = ctx.out().zero_point;
  broadcast_apply<int8_t, int8_t>(ctx.in(0), ctx.in(1), ctx.out(), [&](int8_t a, int8_t b) {
    const int32_t prod = (a + p.i[0]) * (b + p.i[1]);
    const int32_t v = q::multiply_by_quantized_multiplier(prod, p.multiplier, p.shift) + zy;
    return static_cast<int8_t>(q::clamp(v, p.act_min, p.act_max));
  });
}

void eval_sqdiff_q(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  const int32_t zy = ctx.out().zero_point;
  broadcast_apply<int8_t, int8_t>(ctx.in(0), ctx.in(1), ctx.out(), [&](int8_t a, int8_t b) {
    const int32_t sa = (a + p.i[0]) * (1 << p.left_shift);
    const int32_t sb = (b + p.i[1]) * (1 << p.left_shift);
    const int32_t qa = q::multiply_by_quantized_multiplier(sa, p.multiplier, p.shift);
    const int32_t qb = q::multiply_by_quantized_multiplier(sb, p.multiplier2, p.shift2);
    const int32_t d = qa - qb;
    const int32_t v = q::multiply_by_quantized_multiplier(d * d, p.multiplier3, p.shift3) + zy;
    return static_cast<int8_t>(q::clamp(v, -128, 127));
  });
}

int fused_activation(const OpContext& ctx, Kind kind) {
  const auto* o = static_cast<const tfl::Operator*>(ctx.op.options);
  switch (kind) {
    case kAdd: {
      const auto* a = o->builtin_options_as_AddOptions();
      return a ? static_cast<int>(a->fused_activation_function()) : 0;
    }
    case kSub: {
      const auto* a = o->builtin_options_as_SubOptions();
      return a ? static_cast<int>(a->fused_activation_function()) : 0;
    }
    case kMul: {
      const auto* a = o->builtin_options_as_MulOptions();
      return a ? static_cast<int>(a->fused_activation_function()) : 0;
    }
    default: return 0;
  }
}

Status prepare_binary(OpContext& ctx, Kind kind) {
  Status s = expect_io(ctx, 2, 2);
  if (s != Status::kOk) return s;
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  const Tensor& y = ctx.out();
  s = check_broadcast(ctx, a, b, y);
  if (s != Status::kOk) return s;
  s = set_activation(ctx, fused_activation(ctx, kind));
  if (s != Status::kOk) return s;
  if (a.type != y.type || b.type != y.type)
    return fail(ctx.m, Status::kUnsupported, "mixed types %s, %s -> %s", dtype_name(a.type),
                dtype_name(b.type), dtype_name(y.type));
  OpParams& p = ctx.op.p;
  if (y.type == DType::kFloat32) {
    static const EvalFn kFloat[] = {eval_add_f, eval_sub_f, eval_mul_f, eval_sqdiff_f};
    ctx.op.eval = kFloat[kind];
    return Status::kOk;
  }
  if (y.type != DType::kInt8)
    return fail(ctx.m, Status::kUnsupported, "type %s", dtype_name(y.type));
  s = expect_per_tensor(ctx, a, "input");
  if (s == Status::kOk) s = expect_per_tensor(ctx, b, "input");
  if (s == Status::kOk) s = expect_per_tensor(ctx, y, "output");
  if (s != Status::kOk) return s;
  p.i[0] = -a.zero_point;
  p.i[1] = -b.zero_point;
  if (kind == kMul) {
    const double m = static_cast<double>(a.scale) * static_cast<double>(b.scale) /
                     static_cast<double>(y.scale);
    q::quantize_multiplier(m, &p.multiplier, &p.shift);
    ctx.op.eval = eval_mul_q;
    return Status::kOk;
  }
  if (kind == kSqDiff) {
    p.left_shift = 7;
    const double twice_max = 2.0 * static_cast<double>(a.scale > b.scale ? a.scale : b.scale);
    const double ma = static_cast<double>(a.scale) / twice_max;
    const double mb = static_cast<double>(b.scale) / twice_max;
    const double my = (twice_max * twice_max) /
                      static_cast<double>((1 << (p.left_shift * 2)) * y.scale);
    q::quantize_multiplier(ma, &p.multiplier, &p.shift);
    q::quantize_multiplier(mb, &p.multiplier2, &p.shift2);
    q::quantize_multiplier(my, &p.multiplier3, &p.shift3);
    ctx.op.eval = eval_sqdiff_q;
    return Status::kOk;
  }
  // ADD / SUB (TFLite add.cc / sub.cc, int8 branch; float expressions kept as written there).
  p.left_shift = 20;
  const float twice_max_f = 2 * (a.scale > b.scale ? a.scale : b.scale);
  const double twice_max = twice_max_f;
  const double ma = a.scale / twice_max;
  const double mb = b.scale / twice_max;
  const double my = twice_max / ((1 << p.left_shift) * y.scale);
  q::quantize_multiplier(ma, &p.multiplier, &p.shift);
  q::quantize_multiplier(mb, &p.multiplier2, &p.shift2);
  q::quantize_multiplier(my, &p.multiplier3, &p.shift3);
  ctx.op.eval = kind == kAdd ? eval_addsub_q<1> : eval_addsub_q<-1>;
  return Status::kOk;
}

}  // namespace

Status prepare_add(OpContext& ctx) { return prepare_binary(ctx, kAdd); }
Status prepare_sub(OpContext& ctx) { return prepare_binary(ctx, kSub); }
Status prepare_mul(OpContext& ctx) { return prepare_binary(ctx, kMul); }
Status prepare_squared_difference(OpContext& ctx) { return prepare_binary(ctx, kSqDiff); }

}  // namespace tinyvit::rt
