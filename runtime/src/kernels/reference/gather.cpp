// GATHER along `axis` (batch_dims = 0): y = x[..., idx[j], ...]; y.dims = x.dims[:axis] +
// idx.dims + x.dims[axis+1:]. int32 indices; constant indices are checked in prepare, others
// at run time (an out-of-range index yields zeros, never an out-of-bounds read).
#include <cstring>

#include "kernels/kernel.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

void eval(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& idx = ctx.in(1);
  const Tensor& y = ctx.out();
  const int axis = ctx.op.p.i[0];
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= x.dims[i];
  for (int i = axis + 1; i < x.rank; ++i) inner *= x.dims[i];
  const int32_t dim = x.dims[axis];
  const std::size_t es = dtype_size(x.type);
  const std::size_t run = static_cast<std::size_t>(inner) * es;
  const int32_t* ip = idx.as<const int32_t>();
  const uint8_t* xp = x.as<const uint8_t>();
  uint8_t* yp = y.as<uint8_t>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < idx.elements; ++j) {
      const int32_t k = ip[j];
      if (k >= 0 && k < dim)
        std::memcpy(yp, xp + (o * dim + k) * static_cast<int64_t>(run), run);
      else
        std::memset(yp, 0, run);
      yp += run;
    }
}

}  // namespace

Status prepare_gather(OpContext& ctx) {
  Status s = expect_io(ctx, 2, 2);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& idx = ctx.in(1);
  const Tensor& y = ctx.out();
  const auto* o = static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_GatherOptions();
  int axis = o ? o->axis() : 0;
  if (o && o->batch_dims() != 0) return fail(ctx.m, Status::kUnsupported, "batch_dims != 0");
  if (axis < 0) axis += x.rank;
  if (axis < 0 || axis >= x.rank) return fail(ctx.m, Status::kMalformedModel, "axis out of range");
  if (idx.type != DType::kInt32) return fail(ctx.m, Status::kUnsupported, "indices must be int32");
  if (x.type != y.type) return fail(ctx.m, Status::kMalformedModel, "gather changes the type");
  if (x.type == DType::kInt8 && (x.scale != y.scale || x.zero_point != y.zero_point))
    return fail(ctx.m, Status::kMalformedModel, "gather must keep the quantization");
  if (x.rank - 1 + idx.rank != y.rank || y.rank > kMaxRank)
    return fail(ctx.m, Status::kMalformedModel, "output rank is wrong");
  int r = 0;
  for (int i = 0; i < axis; ++i)
    if (y.dims[r++] != x.dims[i]) return fail(ctx.m, Status::kMalformedModel, "output shape is wrong");
  for (int i = 0; i < idx.rank; ++i)
    if (y.dims[r++] != idx.dims[i]) return fail(ctx.m, Status::kMalformedModel, "output shape is wrong");
  for (int i = axis + 1; i < x.rank; ++i)
    if (y.dims[r++] != x.dims[i]) return fail(ctx.m, Status::kMalformedModel, "output shape is wrong");
  if (idx.const_data) {
    const int32_t* ip = reinterpret_cast<const int32_t*>(idx.const_data);
    for (int64_t j = 0; j < idx.elements; ++j)
      if (ip[j] < 0 || ip[j] >= x.dims[axis])
        return fail(ctx.m, Status::kMalformedModel, "index %d out of range", static_cast<int>(ip[j]));
  }
  ctx.op.p.i[0] = axis;
  ctx.op.eval = eval;
  return Status::kOk;
}

}  // namespace tinyvit::rt
