// RESHAPE: same bytes, new shape (the declared output shape; the optional shape input and
// ReshapeOptions must agree with it in element count). A copy: the planner gives input and
// output separate bytes (they are live at the same time only during this op).
#include <cstring>

#include "kernels/kernel.h"

namespace tinyvit::rt {
namespace {

void eval_copy(const OpContext& ctx) {
  std::memcpy(ctx.out().data, ctx.in(0).data, ctx.out().bytes);
}

}  // namespace

Status prepare_reshape(OpContext& ctx) {
  Status s = expect_io(ctx, 1, 2);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  if (x.type != y.type) return fail(ctx.m, Status::kMalformedModel, "reshape changes the type");
  if (x.elements != y.elements)
    return fail(ctx.m, Status::kMalformedModel, "%lld elements reshaped to %lld",
                static_cast<long long>(x.elements), static_cast<long long>(y.elements));
  if (x.type == DType::kInt8 && (x.scale != y.scale || x.zero_point != y.zero_point))
    return fail(ctx.m, Status::kMalformedModel, "reshape must keep the quantization");
  ctx.op.eval = eval_copy;
  return Status::kOk;
}

}  // namespace tinyvit::rt
