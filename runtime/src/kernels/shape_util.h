#pragma once
// Shape helpers for kernels: rank-6 right-aligned extension and numpy broadcasting.
#include "kernels/kernel.h"

namespace tinyvit::rt {

// int8 binary elementwise ops (elementwise.cpp): the walk chosen in prepare() (op.p.i[2], with
// the inner size n in op.p.i[3]); the x86 variants use the same values.
//   kLayoutSame: a, b, y the same shape: y[i] = f(a[i], b[i]);
//   kLayoutRowB / kLayoutRowA: b (a) has the shape of the last axes of y (leading 1s), repeated
//                              every n;
//   kLayoutColB / kLayoutColA: b (a) is one value per row of n (y's shape with the last axis 1,
//                              e.g. x - mean(x) over (1, T, 1); or a scalar, one row of all y);
//   kLayoutGeneral: broadcast_apply's index arithmetic.
enum BinaryLayout : int32_t {
  kLayoutGeneral = 0,
  kLayoutSame = 1,
  kLayoutRowB = 2,
  kLayoutRowA = 3,
  kLayoutColB = 4,
  kLayoutColA = 5,
};

// dims of `t` right-aligned into 6 (leading 1s).
inline void extend6(const Tensor& t, int32_t out[kMaxRank]) {
  const int pad = kMaxRank - t.rank;
  for (int i = 0; i < kMaxRank; ++i) out[i] = i < pad ? 1 : t.dims[i - pad];
}

// Element strides of the rank-6 extension; 0 on axes where the tensor is broadcast (dim 1
// while the output's dim is larger).
inline void broadcast_strides(const int32_t d[kMaxRank], const int32_t out[kMaxRank],
                              int64_t s[kMaxRank]) {
  int64_t stride = 1;
  for (int i = kMaxRank - 1; i >= 0; --i) {
    s[i] = (d[i] == 1 && out[i] != 1) ? 0 : stride;
    stride *= d[i];
  }
}

// Checks out == broadcast(a, b) exactly.
inline Status check_broadcast(OpContext& ctx, const Tensor& a, const Tensor& b, const Tensor& y) {
  int32_t da[kMaxRank], db[kMaxRank], dy[kMaxRank];
  extend6(a, da);
  extend6(b, db);
  extend6(y, dy);
  const int r = a.rank > b.rank ? a.rank : b.rank;
  if (y.rank != r)
    return fail(ctx.m, Status::kMalformedModel, "output rank %d, broadcast rank %d", y.rank, r);
  for (int i = 0; i < kMaxRank; ++i) {
    if (da[i] != db[i] && da[i] != 1 && db[i] != 1)
      return fail(ctx.m, Status::kMalformedModel, "shapes of '%s' and '%s' do not broadcast",
                  a.name, b.name);
    const int32_t want = da[i] > db[i] ? da[i] : db[i];
    if (dy[i] != want)
      return fail(ctx.m, Status::kMalformedModel, "output '%s' has the wrong broadcast shape",
                  y.name);
  }
  return Status::kOk;
}

// y[i] = f(a[ia], b[ib]) over the broadcast shape; the innermost axis is a tight loop.
template <typename TA, typename TY, typename F>
inline void broadcast_apply(const Tensor& a, const Tensor& b, const Tensor& y, F f) {
  int32_t da[kMaxRank], db[kMaxRank], dy[kMaxRank];
  extend6(a, da);
  extend6(b, db);
  extend6(y, dy);
  const TA* pa = a.as<const TA>();
  const TA* pb = b.as<const TA>();
  TY* py = y.as<TY>();
  if (same_shape(a, b)) {
    for (int64_t i = 0; i < y.elements; ++i) py[i] = f(pa[i], pb[i]);
    return;
  }
  int64_t sa[kMaxRank], sb[kMaxRank];
  broadcast_strides(da, dy, sa);
  broadcast_strides(db, dy, sb);
  int64_t o = 0;
  for (int32_t i0 = 0; i0 < dy[0]; ++i0)
    for (int32_t i1 = 0; i1 < dy[1]; ++i1)
      for (int32_t i2 = 0; i2 < dy[2]; ++i2)
        for (int32_t i3 = 0; i3 < dy[3]; ++i3)
          for (int32_t i4 = 0; i4 < dy[4]; ++i4) {
            const int64_t ba = i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3] + i4 * sa[4];
            const int64_t bb = i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3] + i4 * sb[4];
            for (int32_t i5 = 0; i5 < dy[5]; ++i5)
              py[o++] = f(pa[ba + i5 * sa[5]], pb[bb + i5 * sb[5]]);
          }
}

}  // namespace tinyvit::rt
