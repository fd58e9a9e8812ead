// PAD with constant paddings (rank, 2) [before, after] per axis; the pad value is 0 (float)
// or the zero point (int8), i.e. real 0 in both.
#include <cstring>

#include "kernels/kernel.h"

namespace tinyvit::rt {
namespace {

// p.i[0..5] before (rank-6 extended); output dims from the tensor.
template <typename T>
void run(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const int32_t* before = ctx.op.p.i;
  int32_t xd[kMaxRank], yd[kMaxRank];
  const int pad = kMaxRank - x.rank;
  for (int i = 0; i < kMaxRank; ++i) {
    xd[i] = i < pad ? 1 : x.dims[i - pad];
    yd[i] = i < pad ? 1 : y.dims[i - pad];
  }
  const T fill = static_cast<T>(y.type == DType::kInt8 ? y.zero_point : 0);
  T* yp = y.as<T>();
  for (int64_t i = 0; i < y.elements; ++i) yp[i] = fill;
  const T* xp = x.as<const T>();
  int64_t ys[kMaxRank];
  int64_t st = 1;
  for (int i = kMaxRank - 1; i >= 0; --i) {
    ys[i] = st;
    st *= yd[i];
  }
  int64_t o = 0;
  for (int32_t a = 0; a < xd[0]; ++a)
    for (int32_t b = 0; b < xd[1]; ++b)
      for (int32_t c = 0; c < xd[2]; ++c)
        for (int32_t d = 0; d < xd[3]; ++d)
          for (int32_t e = 0; e < xd[4]; ++e) {
            const int64_t base = (a + before[0]) * ys[0] + (b + before[1]) * ys[1] +
                                 (c + before[2]) * ys[2] + (d + before[3]) * ys[3] +
                                 (e + before[4]) * ys[4] + before[5];
            for (int32_t f = 0; f < xd[5]; ++f) yp[base + f] = xp[o++];
          }
}

void eval_4(const OpContext& ctx) { run<float>(ctx); }
void eval_1(const OpContext& ctx) { run<int8_t>(ctx); }

}  // namespace

Status prepare_pad(OpContext& ctx) {
  Status s = expect_io(ctx, 2, 3);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const int32_t* pads;
  int n;
  if ((s = const_int32(ctx, 1, &pads, &n)) != Status::kOk) return s;
  if (ctx.has_in(2)) return fail(ctx.m, Status::kUnsupported, "PAD with a constant value input");
  if (n != 2 * x.rank || y.rank != x.rank)
    return fail(ctx.m, Status::kMalformedModel, "paddings must be (%d, 2)", x.rank);
  if (x.type != y.type || x.type == DType::kInt32)
    return fail(ctx.m, Status::kUnsupported, "types %s -> %s", dtype_name(x.type), dtype_name(y.type));
  if (x.type == DType::kInt8 && (x.scale != y.scale || x.zero_point != y.zero_point))
    return fail(ctx.m, Status::kMalformedModel, "pad must keep the quantization");
  const int pad = kMaxRank - x.rank;
  for (int i = 0; i < kMaxRank; ++i) ctx.op.p.i[i] = 0;
  for (int a = 0; a < x.rank; ++a) {
    const int32_t b = pads[2 * a], e = pads[2 * a + 1];
    if (b < 0 || e < 0 || b > (1 << 20) || e > (1 << 20))
      return fail(ctx.m, Status::kUnsupported, "negative or huge padding");
    if (y.dims[a] != x.dims[a] + b + e)
      return fail(ctx.m, Status::kMalformedModel, "output dim %d is %d, expected %d", a,
                  static_cast<int>(y.dims[a]), static_cast<int>(x.dims[a] + b + e));
    ctx.op.p.i[pad + a] = b;
  }
  ctx.op.eval = x.type == DType::kFloat32 ? eval_4 : eval_1;
  return Status::kOk;
}

}  // namespace tinyvit::rt
