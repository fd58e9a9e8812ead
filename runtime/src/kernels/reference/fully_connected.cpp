// FULLY_CONNECTED: x (..., K), w (U, K) [row-major, one row per output unit], b (U) optional.
//   y[r, u] = act(b[u] + sum_k x[r, k] * w[u, k]),  r over the R = elements(x) / K rows.
// keep_num_dims: y has x's shape with the last dim = U; otherwise y is (R, U).
// int8: acc = b[u] + sum_k w[u, k] * (x[r, k] - x_zp);  y = clamp(MBQM(acc, q_u, s_u) + y_zp)
//   (Int8Arithmetic::kLiteRt: fp32 requantization, int8_common.h).
#include "kernels/kernel.h"
#include "kernels/reference/int8_common.h"
#include "kernels/x86/x86_kernels.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

void eval_float(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& y = ctx.out();
  const OpParams& p = ctx.op.p;
  const float* b = ctx.has_in(2) ? ctx.in(2).as<const float>() : nullptr;
  const int K = w.dims[1], U = w.dims[0];
  const int64_t R = x.elements / K;
  const float* xp = x.as<const float>();
  const float* wp = w.as<const float>();
  float* yp = y.as<float>();
  for (int64_t r = 0; r < R; ++r)
    for (int u = 0; u < U; ++u) {
      float acc = b ? b[u] : 0.f;
      const float* xr = xp + r * K;
      const float* wr = wp + static_cast<int64_t>(u) * K;
      for (int k = 0; k < K; ++k) acc += xr[k] * wr[k];
      yp[r * U + u] = acc < p.fact_min ? p.fact_min : (acc > p.fact_max ? p.fact_max : acc);
    }
}

void eval_int8(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& y = ctx.out();
  const OpParams& p = ctx.op.p;
  const int32_t* b = ctx.has_in(2) ? ctx.in(2).as<const int32_t>() : nullptr;
  const int K = w.dims[1], U = w.dims[0];
  const int64_t R = x.elements / K;
  const int32_t in_offset = -x.zero_point;
  const int8_t* xp = x.as<const int8_t>();
  const int8_t* wp = w.as<const int8_t>();
  int8_t* yp = y.as<int8_t>();
  for (int64_t r = 0; r < R; ++r)
    for (int u = 0; u < U; ++u) {
      int32_t acc = 0;
      const int8_t* xr = xp + r * K;
      const int8_t* wr = wp + static_cast<int64_t>(u) * K;
      for (int k = 0; k < K; ++k) acc += static_cast<int32_t>(wr[k]) * (xr[k] + in_offset);
      yp[r * U + u] = requantize_channel(acc, b, p, u, y.zero_point);
    }
}

}  // namespace

Status prepare_fully_connected(OpContext& ctx) {
  Status s = expect_io(ctx, 2, 3);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& y = ctx.out();
  const auto* o =
      static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_FullyConnectedOptions();
  const int act = o ? static_cast<int>(o->fused_activation_function()) : 0;
  const bool keep = o ? o->keep_num_dims() : false;
  if (o && o->weights_format() != tfl::FullyConnectedOptionsWeightsFormat::DEFAULT)
    return fail(ctx.m, Status::kUnsupported, "shuffled weights are not supported");
  if (w.rank != 2) return fail(ctx.m, Status::kMalformedModel, "weights must be 2-D");
  if (!w.const_data) return fail(ctx.m, Status::kUnsupported, "weights must be constant");
  const int U = w.dims[0], K = w.dims[1];
  if (x.rank < 1 || x.elements % K != 0)
    return fail(ctx.m, Status::kMalformedModel, "input '%s' (%lld values) is not a multiple of "
                "the weights' depth %d", x.name, static_cast<long long>(x.elements), K);
  const int64_t R = x.elements / K;
  if (y.rank < 1 || y.dims[y.rank - 1] != U || y.elements != R * U)
    return fail(ctx.m, Status::kMalformedModel, "output '%s' must hold %lld x %d values", y.name,
                static_cast<long long>(R), U);
  if (keep) {
    if (y.rank != x.rank)
      return fail(ctx.m, Status::kMalformedModel, "keep_num_dims: output rank must be %d", x.rank);
  }
  const Tensor* bias = ctx.has_in(2) ? &ctx.in(2) : nullptr;
  if (bias && (bias->elements != U || !bias->const_data))
    return fail(ctx.m, Status::kMalformedModel, "bias must be a constant with %d values", U);
  s = set_activation(ctx, act);
  if (s != Status::kOk) return s;
  const bool fast = ctx.m.kernels == KernelSet::kAuto && x86::available();
  if (x.type == DType::kFloat32) {
    if (w.type != DType::kFloat32 || y.type != DType::kFloat32 ||
        (bias && bias->type != DType::kFloat32))
      return fail(ctx.m, Status::kUnsupported, "float32 input needs float32 weights, bias, output");
    ctx.op.eval = fast ? x86::fully_connected_float_avx2 : eval_float;
    if (fast) ctx.op.kernel = "avx2";
    return Status::kOk;
  }
  if (x.type == DType::kInt8 && y.type == DType::kInt8) {
    if (K > q::kMaxInt8Reduction)
      return fail(ctx.m, Status::kUnsupported, "int8 reduction length %d overflows int32", K);
    s = prepare_int8_weights(ctx, x, w, bias, U, 0);
    if (s != Status::kOk) return s;
    ctx.op.eval = fast ? x86::fully_connected_int8_avx2 : eval_int8;
    if (fast) ctx.op.kernel = "avx2";
    return Status::kOk;
  }
  return fail(ctx.m, Status::kUnsupported, "input %s, output %s", dtype_name(x.type),
              dtype_name(y.type));
}

}  // namespace tinyvit::rt
