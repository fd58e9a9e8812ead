// Binary elementwise ops with numpy broadcasting: ADD, SUB, MUL (fused activation),
// SQUARED_DIFFERENCE. float32: y = act(a op b) in float. int8 (TFLite reference arithmetic):
//   ADD/SUB: left_shift = 20; twice_max = 2 * max(sa, sb) (float); multipliers
//            ma = sa / twice_max, mb = sb / twice_max, my = twice_max / (2^20 * sy) (double);
//            a' = MBQM((a - za) << 20, ma), b' = MBQM((b - zb) << 20, mb);
//            y = clamp(MBQM(a' +/- b', my) + zy, act)
//   MUL:     y = clamp(MBQM((a - za) (b - zb), sa * sb / sy) + zy, act)
//   SQUARED_DIFFERENCE: left_shift = 7; twice_max = 2 * max(sa, sb) (double);
//            a', b' as ADD with shift 7; y = clamp(MBQM((a' - b')^2, twice_max^2 / (2^14 sy)) + zy)
// int8, Int8Arithmetic::kLiteRt (XNNPACK, where LiteRT's delegate takes the op):
//   ADD/SUB (sa/sy and sb/sy in [2^-10, 2^8)): ra = sa / sy, rb = +-sb / sy (float; SUB negates
//            sb); shift = 20 - exponent(max(|ra|, |rb|)); ma = rne(ra 2^shift), mb = rne(rb 2^shift);
//            y = clamp(((a - za) ma + (b - zb) mb + 2^(shift-1)) >> shift + zy)  (round half up)
//   MUL (sa sb / sy in [2^-16, 2^8)): y = clamp(rne(float((a - za)(b - zb)) * (sa * sb / sy)) + zy)
//   SQUARED_DIFFERENCE: not delegated (float only), so the reference arithmetic above.
#include "kernels/shape_util.h"
#include "kernels/x86/x86_kernels.h"
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

// int8: the walk over indices (BinaryLayout, shape_util.h) is chosen in prepare(); only it
// differs between layouts, the per-element arithmetic is the one f.
template <typename F>
inline void apply_int8(const OpContext& ctx, F f) {
  const Tensor& ta = ctx.in(0);
  const Tensor& tb = ctx.in(1);
  const Tensor& ty = ctx.out();
  const int8_t* pa = ta.as<const int8_t>();
  const int8_t* pb = tb.as<const int8_t>();
  int8_t* py = ty.as<int8_t>();
  const int64_t total = ty.elements;
  const int64_t n = ctx.op.p.i[3];
  switch (ctx.op.p.i[2]) {
    case kLayoutSame:
      for (int64_t i = 0; i < total; ++i) py[i] = f(pa[i], pb[i]);
      return;
    case kLayoutRowB:
      for (int64_t o = 0; o < total; o += n, pa += n, py += n)
        for (int64_t i = 0; i < n; ++i) py[i] = f(pa[i], pb[i]);
      return;
    case kLayoutRowA:
      for (int64_t o = 0; o < total; o += n, pb += n, py += n)
        for (int64_t i = 0; i < n; ++i) py[i] = f(pa[i], pb[i]);
      return;
    case kLayoutColB:
      for (int64_t o = 0; o < total; o += n, pa += n, py += n) {
        const int8_t bv = *pb++;
        for (int64_t i = 0; i < n; ++i) py[i] = f(pa[i], bv);
      }
      return;
    case kLayoutColA:
      for (int64_t o = 0; o < total; o += n, pb += n, py += n) {
        const int8_t av = *pa++;
        for (int64_t i = 0; i < n; ++i) py[i] = f(av, pb[i]);
      }
      return;
    default:
      broadcast_apply<int8_t, int8_t>(ta, tb, ty, f);
      return;
  }
}

// Which fast path fits: `full` has y's shape; `part` is the other operand.
BinaryLayout classify_part(const Tensor& part, const Tensor& y, bool part_is_b, int64_t* n) {
  if (part.elements == 1) {  // a scalar: one "row" of all of y
    *n = y.elements;
    return part_is_b ? kLayoutColB : kLayoutColA;
  }
  int32_t dp[kMaxRank], dy[kMaxRank];
  extend6(part, dp);
  extend6(y, dy);
  // Row: part's dims equal y's on axes k.. and are 1 before k.
  int k = kMaxRank;
  while (k > 0 && dp[k - 1] == dy[k - 1]) --k;
  bool ones = true;
  for (int i = 0; i < k; ++i) ones = ones && dp[i] == 1;
  if (ones && k < kMaxRank) {
    int64_t inner = 1;
    for (int i = k; i < kMaxRank; ++i) inner *= dy[i];
    *n = inner;
    return part_is_b ? kLayoutRowB : kLayoutRowA;
  }
  // Column: all but the last axis equal, last axis 1.
  bool col = dp[kMaxRank - 1] == 1 && dy[kMaxRank - 1] > 1;
  for (int i = 0; i < kMaxRank - 1; ++i) col = col && dp[i] == dy[i];
  if (col) {
    *n = dy[kMaxRank - 1];
    return part_is_b ? kLayoutColB : kLayoutColA;
  }
  return kLayoutGeneral;
}

void choose_layout(OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  const Tensor& y = ctx.out();
  OpParams& p = ctx.op.p;
  p.i[2] = kLayoutGeneral;
  p.i[3] = 1;
  if (y.elements == 0) return;
  int64_t n = 1;
  BinaryLayout l = kLayoutGeneral;
  if (same_shape(a, b)) {
    l = kLayoutSame;
  } else if (a.elements == y.elements) {
    l = classify_part(b, y, true, &n);
  } else if (b.elements == y.elements) {
    l = classify_part(a, y, false, &n);
  }
  if (l != kLayoutGeneral && n > 0 && n <= INT32_MAX) {
    p.i[2] = l;
    p.i[3] = static_cast<int32_t>(n);
  }
}

// p.i[0] = -za, p.i[1] = -zb; multiplier/shift = a, multiplier2/shift2 = b, multiplier3/shift3 = y.
template <int kSign>
void eval_addsub_q(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  const int32_t zy = ctx.out().zero_point;
  apply_int8(ctx, [&](int8_t a, int8_t b) {
    const int32_t sa = (a + p.i[0]) * (1 << p.left_shift);
    const int32_t sb = (b + p.i[1]) * (1 << p.left_shift);
    const int32_t qa = q::multiply_by_quantized_multiplier(sa, p.multiplier, p.shift);
    const int32_t qb = q::multiply_by_quantized_multiplier(sb, p.multiplier2, p.shift2);
    const int32_t raw = kSign > 0 ? qa + qb : qa - qb;
    const int32_t v = q::add_zp(q::multiply_by_quantized_multiplier(raw, p.multiplier3, p.shift3), zy);
    return static_cast<int8_t>(q::clamp(v, p.act_min, p.act_max));
  });
}

// XNNPACK's qs8 vadd: p.i[0] = -za, p.i[1] = -zb; multiplier = ma, multiplier2 = mb (signed),
// shift = XNNPACK's shift (13..30). SUB is this with a negated mb.
void eval_addsub_xnn(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  const int32_t zy = ctx.out().zero_point;
  const int32_t za = p.i[0], zb = p.i[1], ma = p.multiplier, mb = p.multiplier2;
  const int32_t rounding = int32_t{1} << (p.shift - 1);
  const int sh = p.shift;
  const int32_t lo = p.act_min, hi = p.act_max;
  apply_int8(ctx, [=](int8_t a, int8_t b) {
    // |a - za|, |b - zb| <= 255 and |ma|, |mb| < 2^21: the sum stays below 2^30
    const int32_t acc = (a + za) * ma + (b + zb) * mb + rounding;
    return static_cast<int8_t>(q::clamp((acc >> sh) + zy, lo, hi));
  });
}

// XNNPACK's qs8 vmul on x86/wasm (fp32 requantization): p.f[0] = float(sa * sb) / sy.
void eval_mul_xnn(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  const int32_t zy = ctx.out().zero_point;
  const int32_t za = p.i[0], zb = p.i[1];
  const float scale = p.f[0];
  const int32_t lo = p.act_min, hi = p.act_max;
  apply_int8(ctx, [=](int8_t a, int8_t b) {
    return static_cast<int8_t>(q::requantize_fp32((a + za) * (b + zb), scale, zy, lo, hi));
  });
}

// Int8Arithmetic::kLiteRt ADD/SUB; false when LiteRT's delegate would not take the op.
bool prepare_addsub_xnn(OpContext& ctx, Kind kind) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  const Tensor& y = ctx.out();
  OpParams& p = ctx.op.p;
  if (!q::xnn_add_params(a.scale / y.scale, (kind == kSub ? -b.scale : b.scale) / y.scale,
                         &p.multiplier, &p.multiplier2, &p.shift))
    return false;
  choose_layout(ctx);
  ctx.op.eval = eval_addsub_xnn;
  return true;
}

void eval_mul_q(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  const int32_t zy = ctx.out().zero_point;
  const int32_t za = p.i[0], zb = p.i[1];
  const int32_t m = p.multiplier;
  const int s = p.shift;
  const int32_t lo = p.act_min, hi = p.act_max;
  apply_int8(ctx, [=](int8_t a, int8_t b) {
    const int32_t prod = (a + za) * (b + zb);
    const int32_t v = q::add_zp(q::multiply_by_quantized_multiplier(prod, m, s), zy);
    return static_cast<int8_t>(q::clamp(v, lo, hi));
  });
}

void eval_sqdiff_q(const OpContext& ctx) {
  const OpParams& p = ctx.op.p;
  const int32_t zy = ctx.out().zero_point;
  apply_int8(ctx, [&](int8_t a, int8_t b) {
    const int32_t sa = (a + p.i[0]) * (1 << p.left_shift);
    const int32_t sb = (b + p.i[1]) * (1 << p.left_shift);
    const int32_t qa = q::multiply_by_quantized_multiplier(sa, p.multiplier, p.shift);
    const int32_t qb = q::multiply_by_quantized_multiplier(sb, p.multiplier2, p.shift2);
    const int32_t d = qa - qb;
    const int32_t v = q::add_zp(q::multiply_by_quantized_multiplier(d * d, p.multiplier3, p.shift3), zy);
    return static_cast<int8_t>(q::clamp(v, -128, 127));
  });
}

// The AVX2 variant (same parameters, bit-exact) where the kernel set and the CPU allow; its
// requantization needs multipliers >= 0, which quantize_multiplier always gives.
void use_avx2(OpContext& ctx, EvalFn fn) {
  const OpParams& p = ctx.op.p;
  if (ctx.m.kernels != KernelSet::kAuto || !x86::available()) return;
  if (p.multiplier < 0 || p.multiplier2 < 0 || p.multiplier3 < 0) return;
  ctx.op.eval = fn;
  ctx.op.kernel = "avx2";
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
  if (ctx.m.arithmetic == Int8Arithmetic::kLiteRt) {
    if ((kind == kAdd || kind == kSub) && prepare_addsub_xnn(ctx, kind)) return Status::kOk;
    if (kind == kMul) {
      const float r = a.scale * b.scale / y.scale;
      if (r >= 1.f / 65536 && r < 256.f) {
        p.f[0] = r;
        choose_layout(ctx);
        ctx.op.eval = eval_mul_xnn;
        return Status::kOk;
      }
    }
    // otherwise LiteRT runs its builtin kernel: the reference arithmetic below
  }
  if (kind == kMul) {
    const double m = static_cast<double>(a.scale) * static_cast<double>(b.scale) /
                     static_cast<double>(y.scale);
    q::quantize_multiplier(m, &p.multiplier, &p.shift);
    choose_layout(ctx);
    ctx.op.eval = eval_mul_q;
    use_avx2(ctx, x86::mul_int8_avx2);
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
    choose_layout(ctx);
    ctx.op.eval = eval_sqdiff_q;
    use_avx2(ctx, x86::squared_difference_int8_avx2);
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
  choose_layout(ctx);
  ctx.op.eval = kind == kAdd ? eval_addsub_q<1> : eval_addsub_q<-1>;
  use_avx2(ctx, kind == kAdd ? x86::add_int8_avx2 : x86::sub_int8_avx2);
  return Status::kOk;
}

}  // namespace

Status prepare_add(OpContext& ctx) { return prepare_binary(ctx, kAdd); }
Status prepare_sub(OpContext& ctx) { return prepare_binary(ctx, kSub); }
Status prepare_mul(OpContext& ctx) { return prepare_binary(ctx, kMul); }
Status prepare_squared_difference(OpContext& ctx) { return prepare_binary(ctx, kSqDiff); }

}  // namespace tinyvit::rt
