// STRIDED_SLICE with constant begin/end/strides (positive strides), begin_mask / end_mask /
// shrink_axis_mask; ellipsis and new-axis masks are not supported.
//   along axis a: indices begin[a], begin[a] + stride[a], ... < end[a] (negative values count
//   from the end, then clamped to [0, dim]; a mask bit gives the full range; a shrink bit
//   takes the single index begin[a] and drops the axis from the output).
#include "kernels/kernel.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

// p.i[0..5] begin, p.i[6..11] stride, p.i[12..17] count, all rank-6 extended.
template <typename T>
void run(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const int32_t* b = ctx.op.p.i;
  const int32_t* s = ctx.op.p.i + 6;
  const int32_t* n = ctx.op.p.i + 12;
  int32_t xd[kMaxRank];
  const int pad = kMaxRank - x.rank;
  for (int i = 0; i < kMaxRank; ++i) xd[i] = i < pad ? 1 : x.dims[i - pad];
  int64_t xs[kMaxRank];
  int64_t st = 1;
  for (int i = kMaxRank - 1; i >= 0; --i) {
    xs[i] = st;
    st *= xd[i];
  }
  const T* xp = x.as<const T>();
  T* yp = ctx.out().as<T>();
  int64_t o = 0;
  for (int32_t i0 = 0; i0 < n[0]; ++i0)
    for (int32_t i1 = 0; i1 < n[1]; ++i1)
      for (int32_t i2 = 0; i2 < n[2]; ++i2)
        for (int32_t i3 = 0; i3 < n[3]; ++i3)
          for (int32_t i4 = 0; i4 < n[4]; ++i4) {
            const int64_t base = (b[0] + int64_t{i0} * s[0]) * xs[0] + (b[1] + int64_t{i1} * s[1]) * xs[1] +
                                 (b[2] + int64_t{i2} * s[2]) * xs[2] + (b[3] + int64_t{i3} * s[3]) * xs[3] +
                                 (b[4] + int64_t{i4} * s[4]) * xs[4] + b[5] * xs[5];
            for (int32_t i5 = 0; i5 < n[5]; ++i5) yp[o++] = xp[base + int64_t{i5} * s[5] * xs[5]];
          }
}

void eval_4(const OpContext& ctx) { run<uint32_t>(ctx); }
void eval_1(const OpContext& ctx) { run<uint8_t>(ctx); }

}  // namespace

Status prepare_strided_slice(OpContext& ctx) {
  Status s = expect_io(ctx, 4, 4);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const int32_t *begin, *end, *strides;
  int nb, ne, ns;
  if ((s = const_int32(ctx, 1, &begin, &nb)) != Status::kOk) return s;
  if ((s = const_int32(ctx, 2, &end, &ne)) != Status::kOk) return s;
  if ((s = const_int32(ctx, 3, &strides, &ns)) != Status::kOk) return s;
  if (nb != x.rank || ne != x.rank || ns != x.rank)
    return fail(ctx.m, Status::kMalformedModel, "begin/end/strides must have %d values", x.rank);
  const auto* o = static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_StridedSliceOptions();
  const int bm = o ? o->begin_mask() : 0, em = o ? o->end_mask() : 0;
  const int shrink = o ? o->shrink_axis_mask() : 0;
  if (o && (o->ellipsis_mask() || o->new_axis_mask() || o->offset()))
    return fail(ctx.m, Status::kUnsupported, "ellipsis/new-axis/offset masks are not supported");
  if (x.type != y.type) return fail(ctx.m, Status::kMalformedModel, "slice changes the type");
  if (x.type == DType::kInt8 && (x.scale != y.scale || x.zero_point != y.zero_point))
    return fail(ctx.m, Status::kMalformedModel, "slice must keep the quantization");
  OpParams& p = ctx.op.p;
  const int pad = kMaxRank - x.rank;
  for (int i = 0; i < kMaxRank; ++i) {
    p.i[i] = 0;
    p.i[6 + i] = 1;
    p.i[12 + i] = 1;
  }
  int32_t want[kMaxRank];
  int wr = 0;
  for (int a = 0; a < x.rank; ++a) {
    const int64_t d = x.dims[a];
    const int32_t st = strides[a];
    if (st <= 0) return fail(ctx.m, Status::kUnsupported, "stride %d (only positive strides)", static_cast<int>(st));
    int64_t b = begin[a], e = end[a];
    if (shrink & (1 << a)) {
      if (b < 0) b += d;
      if (b < 0 || b >= d) return fail(ctx.m, Status::kMalformedModel, "shrink index out of range");
      e = b + 1;
    } else {
      if (b < 0) b += d;
      if (e < 0) e += d;
      if (bm & (1 << a)) b = 0;
      if (em & (1 << a)) e = d;
      b = b < 0 ? 0 : (b > d ? d : b);
      e = e < 0 ? 0 : (e > d ? d : e);
    }
    const int64_t c = e > b ? (e - b + st - 1) / st : 0;
    if (c == 0) return fail(ctx.m, Status::kUnsupported, "empty slice");
    p.i[pad + a] = static_cast<int32_t>(b);
    p.i[6 + pad + a] = st;
    p.i[12 + pad + a] = static_cast<int32_t>(c);
    if (!(shrink & (1 << a))) want[wr++] = static_cast<int32_t>(c);
  }
  if (y.rank != wr) return fail(ctx.m, Status::kMalformedModel, "output rank %d, expected %d", y.rank, wr);
  for (int i = 0; i < wr; ++i)
    if (y.dims[i] != want[i]) return fail(ctx.m, Status::kMalformedModel, "output shape is wrong");
  ctx.op.eval = dtype_size(x.type) == 4 ? eval_4 : eval_1;
  return Status::kOk;
}

}  // namespace tinyvit::rt
