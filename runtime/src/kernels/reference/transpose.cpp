// TRANSPOSE with a constant permutation: y[i_0..i_{r-1}] = x[j] with j[perm[k]] = i_k,
// i.e. y.dims[k] = x.dims[perm[k]]. Any element type (copied bytes).
#include <cstring>

#include "kernels/kernel.h"

namespace tinyvit::rt {
namespace {

template <typename T>
void run(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const OpParams& p = ctx.op.p;  // p.i[0..5] = perm extended to rank 6
  int32_t xd[kMaxRank], yd[kMaxRank];
  const int pad = kMaxRank - x.rank;
  for (int i = 0; i < kMaxRank; ++i) xd[i] = i < pad ? 1 : x.dims[i - pad];
  int64_t xs[kMaxRank];
  int64_t st = 1;
  for (int i = kMaxRank - 1; i >= 0; --i) {
    xs[i] = st;
    st *= xd[i];
  }
  int64_t s[kMaxRank];  // stride in x for each output axis
  for (int k = 0; k < kMaxRank; ++k) {
    yd[k] = xd[p.i[k]];
    s[k] = xs[p.i[k]];
  }
  const T* xp = x.as<const T>();
  T* yp = y.as<T>();
  int64_t o = 0;
  for (int32_t a = 0; a < yd[0]; ++a)
    for (int32_t b = 0; b < yd[1]; ++b)
      for (int32_t c = 0; c < yd[2]; ++c)
        for (int32_t d = 0; d < yd[3]; ++d)
          for (int32_t e = 0; e < yd[4]; ++e) {
            const int64_t base = a * s[0] + b * s[1] + c * s[2] + d * s[3] + e * s[4];
            for (int32_t f = 0; f < yd[5]; ++f) yp[o++] = xp[base + f * s[5]];
          }
}

void eval_4(const OpContext& ctx) { run<uint32_t>(ctx); }
void eval_1(const OpContext& ctx) { run<uint8_t>(ctx); }

}  // namespace

Status prepare_transpose(OpContext& ctx) {
  Status s = expect_io(ctx, 2, 2);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const int32_t* perm;
  int n;
  s = const_int32(ctx, 1, &perm, &n);
  if (s != Status::kOk) return s;
  if (n != x.rank || y.rank != x.rank)
    return fail(ctx.m, Status::kMalformedModel, "permutation of length %d for rank %d", n, x.rank);
  bool seen[kMaxRank] = {};
  const int pad = kMaxRank - x.rank;
  for (int i = 0; i < pad; ++i) ctx.op.p.i[i] = i;
  for (int k = 0; k < n; ++k) {
    const int p = perm[k];
    if (p < 0 || p >= x.rank || seen[p])
      return fail(ctx.m, Status::kMalformedModel, "invalid permutation");
    seen[p] = true;
    if (y.dims[k] != x.dims[p]) return fail(ctx.m, Status::kMalformedModel, "output shape is wrong");
    ctx.op.p.i[pad + k] = pad + p;
  }
  if (x.type != y.type) return fail(ctx.m, Status::kMalformedModel, "transpose changes the type");
  if (x.type == DType::kInt8 && (x.scale != y.scale || x.zero_point != y.zero_point))
    return fail(ctx.m, Status::kMalformedModel, "transpose must keep the quantization");
  ctx.op.eval = dtype_size(x.type) == 4 ? eval_4 : eval_1;
  return Status::kOk;
}

}  // namespace tinyvit::rt
