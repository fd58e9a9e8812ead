// SOFTMAX over the last axis: y = exp(beta (x - max)) / sum exp(beta (x - max)).
// float32 only (int8 softmax is not implemented yet).
#include <cmath>

#include "kernels/kernel.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

void eval_float(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const int D = x.dims[x.rank - 1];
  const int64_t rows = x.elements / D;
  const float beta = ctx.op.p.f[0];
  const float* xp = x.as<const float>();
  float* yp = ctx.out().as<float>();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = xp + r * D;
    float* yr = yp + r * D;
    float mx = xr[0];
    for (int i = 1; i < D; ++i) mx = xr[i] > mx ? xr[i] : mx;
    float sum = 0.f;
    for (int i = 0; i < D; ++i) {
      yr[i] = std::exp((xr[i] - mx) * beta);
      sum += yr[i];
    }
    const float inv = 1.f / sum;
    for (int i = 0; i < D; ++i) yr[i] *= inv;
  }
}

}  // namespace

Status prepare_softmax(OpContext& ctx) {
  Status s = expect_io(ctx, 1, 1);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  if (!same_shape(x, y) || x.rank < 1)
    return fail(ctx.m, Status::kMalformedModel, "output shape differs from input");
  const auto* o = static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_SoftmaxOptions();
  ctx.op.p.f[0] = o ? o->beta() : 1.f;
  if (!std::isfinite(ctx.op.p.f[0]))
    return fail(ctx.m, Status::kMalformedModel, "beta is not finite");
  if (x.type == DType::kFloat32 && y.type == DType::kFloat32) {
    ctx.op.eval = eval_float;
    return Status::kOk;
  }
  return fail(ctx.m, Status::kUnsupported, "%s softmax is not implemented", dtype_name(x.type));
}

}  // namespace tinyvit::rt
