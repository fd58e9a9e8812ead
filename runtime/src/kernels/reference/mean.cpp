// MEAN over constant axes (keep_dims or not).
//   float32: y[o] = (sum of the reduced elements, accumulated in float in memory order) / count
//   int8 (TFLite reference, same scale/zero point in and out not required):
//     sum_q = sum (x - zx) over the reduced elements (int32);
//     y = clamp(MBQM(sum_q, q, s) / count-rounding ... ) -- see eval_int8 for the exact steps.
#include "kernels/shape_util.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

// p.i[0..5]: 1 if the (rank-6 extended) input axis is reduced. p.i[6] = count.
template <typename Acc, typename T, typename Store>
void reduce(const OpContext& ctx, Acc* acc_out, Store store) {
  (void)acc_out;
  const Tensor& x = ctx.in(0);
  const OpParams& p = ctx.op.p;
  int32_t d[kMaxRank];
  extend6(x, d);
  // Output strides over the kept axes.
  int64_t os[kMaxRank];
  int64_t stride = 1;
  for (int i = kMaxRank - 1; i >= 0; --i) {
    os[i] = p.i[i] ? 0 : stride;
    if (!p.i[i]) stride *= d[i];
  }
  const int64_t out_n = stride;
  const T* xp = x.as<const T>();
  // Accumulate output by output so no scratch buffer is needed: for each output element, walk
  // its reduced sub-block in memory order.
  for (int64_t o = 0; o < out_n; ++o) {
    // Decompose o into kept-axis indices.
    int32_t base_idx[kMaxRank];
    int64_t rem = o;
    for (int i = 0; i < kMaxRank; ++i) {
      if (p.i[i]) {
        base_idx[i] = 0;
      } else {
        base_idx[i] = static_cast<int32_t>(rem / os[i]);
        rem %= os[i];
      }
    }
    Acc acc = 0;
    int32_t idx[kMaxRank];
    for (int i = 0; i < kMaxRank; ++i) idx[i] = base_idx[i];
    for (;;) {
      int64_t off = 0;
      for (int i = 0; i < kMaxRank; ++i) off = off * d[i] + idx[i];
      acc += static_cast<Acc>(xp[off]);
      int ax = kMaxRank - 1;
      while (ax >= 0) {
        if (p.i[ax] && ++idx[ax] < d[ax]) break;
        if (p.i[ax]) idx[ax] = 0;
        --ax;
      }
      if (ax < 0) break;
    }
    store(o, acc);
  }
}

void eval_float(const OpContext& ctx) {
  float* yp = ctx.out().as<float>();
  const float count = static_cast<float>(ctx.op.p.i[6]);
  reduce<float, float>(ctx, static_cast<float*>(nullptr),
                       [&](int64_t o, float acc) { yp[o] = acc / count; });
}

// int8: TensorFlow Lite Micro's integer Mean (reference_integer_ops::Mean), two roundings:
//   acc = sum (x - zx) (int32); acc = MBQM(acc, q, s) with q, s from double(sx) / double(sy);
//   acc = round_half_away(acc / count) (integer division with +-count/2); y = clamp(acc + zy).
// XNNPACK (LiteRT.js) rounds once in float, so a mean exactly near .5 can differ by one step.
void eval_int8(const OpContext& ctx) {
  int8_t* yp = ctx.out().as<int8_t>();
  const OpParams& p = ctx.op.p;
  const int32_t num = p.i[6];
  const int32_t zx = ctx.in(0).zero_point, zy = ctx.out().zero_point;
  auto store = [&](int64_t o, int32_t acc) {
    acc -= zx * num;
    acc = q::multiply_by_quantized_multiplier(acc, p.multiplier, p.shift);
    // in int64: a hostile file's requantized sum may sit at the int32 limits (|result| <= |acc|)
    const int64_t a = acc;
    acc = static_cast<int32_t>(a > 0 ? (a + num / 2) / num : (a - num / 2) / num);
    yp[o] = static_cast<int8_t>(q::clamp(q::add_zp(acc, zy), -128, 127));
  };
  if (p.i[7]) {
    // The reduced elements of each output are one contiguous block of `num` (the reduced axes
    // are the last ones): a plain sum per block, the same int32 as the general walk.
    const int8_t* xp = ctx.in(0).as<const int8_t>();
    const int64_t out_n = ctx.out().elements;
    for (int64_t o = 0; o < out_n; ++o, xp += num) {
      int32_t acc = 0;
      for (int32_t i = 0; i < num; ++i) acc += xp[i];
      store(o, acc);
    }
    return;
  }
  reduce<int32_t, int8_t>(ctx, static_cast<int32_t*>(nullptr), store);
}

// int8, Int8Arithmetic::kLiteRt (XNNPACK's qs8 reduce + convert, matched bit for bit against
// LiteRT.js): the raw int32 sum S = sum x (zero point not subtracted), then in float
//   inv = (sx / sy) * (1 / count),  zy' = zy - float(count * zx) * inv,
//   y = clamp(rne(float(S) * inv + zy'), -128, 127)   (ties to even, no fused multiply-add).
// p.f[0] = inv, p.f[1] = zy'.
void eval_int8_xnn(const OpContext& ctx) {
  int8_t* yp = ctx.out().as<int8_t>();
  const float inv = ctx.op.p.f[0], zy = ctx.op.p.f[1];
  auto store = [&](int64_t o, int32_t acc) {
    yp[o] = static_cast<int8_t>(q::round_half_even_clamped(static_cast<float>(acc) * inv + zy, -128, 127));
  };
  reduce<int32_t, int8_t>(ctx, static_cast<int32_t*>(nullptr), store);
}

}  // namespace

Status prepare_mean(OpContext& ctx) {
  Status s = expect_io(ctx, 2, 2);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const int32_t* axes;
  int n;
  s = const_int32(ctx, 1, &axes, &n);
  if (s != Status::kOk) return s;
  const auto* o = static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_ReducerOptions();
  const bool keep = o && o->keep_dims();
  OpParams& p = ctx.op.p;
  const int pad = kMaxRank - x.rank;
  bool reduced[kMaxRank] = {};
  for (int k = 0; k < n; ++k) {
    int a = axes[k];
    if (a < 0) a += x.rank;
    if (a < 0 || a >= x.rank) return fail(ctx.m, Status::kMalformedModel, "axis %d out of range", static_cast<int>(axes[k]));
    reduced[a] = true;
  }
  int64_t count = 1;
  int r = 0;
  int32_t want[kMaxRank];
  for (int i = 0; i < x.rank; ++i) {
    p.i[pad + i] = reduced[i];
    if (reduced[i]) {
      count *= x.dims[i];
      if (keep) want[r++] = 1;
    } else {
      want[r++] = x.dims[i];
    }
  }
  if (y.rank != r) return fail(ctx.m, Status::kMalformedModel, "output rank %d, expected %d", y.rank, r);
  for (int i = 0; i < r; ++i)
    if (y.dims[i] != want[i]) return fail(ctx.m, Status::kMalformedModel, "output shape is wrong");
  p.i[6] = static_cast<int32_t>(count);
  if (x.type == DType::kFloat32 && y.type == DType::kFloat32) {
    ctx.op.eval = eval_float;
    return Status::kOk;
  }
  if (x.type == DType::kInt8 && y.type == DType::kInt8) {
    if (count > (1 << 23) / 256)
      return fail(ctx.m, Status::kUnsupported, "int8 mean over %lld values", static_cast<long long>(count));
    s = expect_per_tensor(ctx, x, "input");
    if (s == Status::kOk) s = expect_per_tensor(ctx, y, "output");
    if (s != Status::kOk) return s;
    if (ctx.m.arithmetic == Int8Arithmetic::kLiteRt) {
      q::xnn_mean_params(x.scale, x.zero_point, y.scale, y.zero_point, static_cast<int32_t>(count),
                         &p.f[0], &p.f[1]);
      ctx.op.eval = eval_int8_xnn;
      return Status::kOk;
    }
    const double m = static_cast<double>(x.scale) / static_cast<double>(y.scale);
    q::quantize_multiplier(m, &p.multiplier, &p.shift);
    // p.i[7] = 1 when every reduced axis of size > 1 comes after every kept axis of size > 1
    // (e.g. the last axis): eval_int8 then sums contiguous blocks.
    int32_t d[kMaxRank];
    extend6(x, d);
    bool seen_reduced = false, trailing = true;
    for (int i = 0; i < kMaxRank; ++i) {
      if (d[i] == 1) continue;
      if (p.i[i]) seen_reduced = true;
      else if (seen_reduced) trailing = false;
    }
    p.i[7] = trailing && count > 0 ? 1 : 0;
    ctx.op.eval = eval_int8;
    return Status::kOk;
  }
  return fail(ctx.m, Status::kUnsupported, "types %s -> %s", dtype_name(x.type), dtype_name(y.type));
}

}  // namespace tinyvit::rt
