// CONCATENATION along `axis`: inputs agree on every other dim; y.dims[axis] = sum.
// Viewed as (outer, axis * inner): each input contributes a contiguous run per outer index.
// int8: an input with other quantization than the output is requantized the way TFLite's
// reference does (float: round(x * sx/sy - zx * sx/sy) + zy); equal quantization copies bytes.
#include <cmath>
#include <cstring>

#include "kernels/kernel.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

void eval(const OpContext& ctx) {
  const Tensor& y = ctx.out();
  const int axis = ctx.op.p.i[0];
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= y.dims[i];
  for (int i = axis + 1; i < y.rank; ++i) inner *= y.dims[i];
  const std::size_t es = dtype_size(y.type);
  uint8_t* yp = y.as<uint8_t>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int k = 0; k < ctx.op.num_inputs; ++k) {
      const Tensor& x = ctx.in(k);
      const int64_t run = static_cast<int64_t>(x.dims[axis]) * inner;
      const uint8_t* src = x.as<const uint8_t>() + o * run * es;
      if (y.type == DType::kInt8 && (x.scale != y.scale || x.zero_point != y.zero_point)) {
        const float scale = x.scale * (1.f / y.scale);
        const float bias = -x.zero_point * scale;
        const int8_t* s8 = reinterpret_cast<const int8_t*>(src);
        int8_t* d8 = reinterpret_cast<int8_t*>(yp);
        for (int64_t i = 0; i < run; ++i)
          d8[i] = static_cast<int8_t>(q::clamp(q::round_to_int(s8[i] * scale + bias) + y.zero_point, -128, 127));
      } else {
        std::memcpy(yp, src, static_cast<std::size_t>(run) * es);
      }
      yp += run * es;
    }
  }
}

}  // namespace

Status prepare_concatenation(OpContext& ctx) {
  Status s = expect_io(ctx, 1, kMaxOpInputs);
  if (s != Status::kOk) return s;
  const Tensor& y = ctx.out();
  const auto* o =
      static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_ConcatenationOptions();
  int axis = o ? o->axis() : 0;
  if (o && o->fused_activation_function() != tfl::ActivationFunctionType::NONE)
    return fail(ctx.m, Status::kUnsupported, "fused activation on concatenation");
  if (axis < 0) axis += y.rank;
  if (axis < 0 || axis >= y.rank) return fail(ctx.m, Status::kMalformedModel, "axis out of range");
  int64_t total = 0;
  for (int k = 0; k < ctx.op.num_inputs; ++k) {
    if (ctx.op.inputs[k] < 0) return fail(ctx.m, Status::kMalformedModel, "omitted input");
    const Tensor& x = ctx.in(k);
    if (x.rank != y.rank || x.type != y.type)
      return fail(ctx.m, Status::kMalformedModel, "input '%s' has another rank or type", x.name);
    s = expect_per_tensor(ctx, x, "input");
    if (s != Status::kOk) return s;
    for (int i = 0; i < y.rank; ++i)
      if (i != axis && x.dims[i] != y.dims[i])
        return fail(ctx.m, Status::kMalformedModel, "input '%s' disagrees on dim %d", x.name, i);
    total += x.dims[axis];
  }
  if (total != y.dims[axis])
    return fail(ctx.m, Status::kMalformedModel, "output axis size %d, inputs sum to %lld",
                static_cast<int>(y.dims[axis]), static_cast<long long>(total));
  ctx.op.p.i[0] = axis;
  ctx.op.eval = eval;
  return Status::kOk;
}

}  // namespace tinyvit::rt
