// Op code -> prepare function, and the helpers every prepare() uses.
#include <cmath>

#include "kernels/kernel.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

using B = tfl::BuiltinOperator;

// max_version: the highest op version whose semantics these kernels implement (versions add
// int8/int16 support or options; we check types and options ourselves in prepare).
const KernelRegistration kKernels[] = {
    {static_cast<int>(B::CONV_2D), "CONV_2D", prepare_conv2d, 8},
    {static_cast<int>(B::FULLY_CONNECTED), "FULLY_CONNECTED", prepare_fully_connected, 12},
    {static_cast<int>(B::BATCH_MATMUL), "BATCH_MATMUL", prepare_batch_matmul, 4},
    {static_cast<int>(B::ADD), "ADD", prepare_add, 5},
    {static_cast<int>(B::SUB), "SUB", prepare_sub, 5},
    {static_cast<int>(B::MUL), "MUL", prepare_mul, 7},
    {static_cast<int>(B::SQUARED_DIFFERENCE), "SQUARED_DIFFERENCE", prepare_squared_difference, 2},
    {static_cast<int>(B::RSQRT), "RSQRT", prepare_rsqrt, 3},
    {static_cast<int>(B::TANH), "TANH", prepare_tanh, 3},
    {static_cast<int>(B::LOGISTIC), "LOGISTIC", prepare_logistic, 3},
    {static_cast<int>(B::GELU), "GELU", prepare_gelu, 2},
    {static_cast<int>(B::MEAN), "MEAN", prepare_mean, 3},
    {static_cast<int>(B::L2_NORMALIZATION), "L2_NORMALIZATION", prepare_l2_normalization, 2},
    {static_cast<int>(B::SOFTMAX), "SOFTMAX", prepare_softmax, 3},
    {static_cast<int>(B::RESHAPE), "RESHAPE", prepare_reshape, 2},
    {static_cast<int>(B::TRANSPOSE), "TRANSPOSE", prepare_transpose, 6},
    {static_cast<int>(B::CONCATENATION), "CONCATENATION", prepare_concatenation, 4},
    {static_cast<int>(B::STRIDED_SLICE), "STRIDED_SLICE", prepare_strided_slice, 8},
    {static_cast<int>(B::GATHER), "GATHER", prepare_gather, 6},
    {static_cast<int>(B::PAD), "PAD", prepare_pad, 4},
    {static_cast<int>(B::MAX_POOL_2D), "MAX_POOL_2D", prepare_max_pool2d, 3},
    {static_cast<int>(B::QUANTIZE), "QUANTIZE", prepare_quantize, 3},
    {static_cast<int>(B::DEQUANTIZE), "DEQUANTIZE", prepare_dequantize, 5},
};

}  // namespace

const KernelRegistration* find_kernel(int code) {
  for (const auto& k : kKernels)
    if (k.code == code) return &k;
  return nullptr;
}

const char* builtin_name(int code) {
  if (code < 0 || code > 255) return "UNKNOWN";
  const char* n = tfl::EnumNameBuiltinOperator(static_cast<B>(code));
  return (n && *n) ? n : "UNKNOWN";
}

bool same_shape(const Tensor& a, const Tensor& b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; ++i)
    if (a.dims[i] != b.dims[i]) return false;
  return true;
}

Status expect_io(OpContext& ctx, int min_in, int max_in) {
  if (ctx.op.num_inputs < min_in || ctx.op.num_inputs > max_in)
    return fail(ctx.m, Status::kMalformedModel, "%d inputs (expected %d..%d)", ctx.op.num_inputs,
                min_in, max_in);
  for (int k = 0; k < min_in; ++k)
    if (ctx.op.inputs[k] < 0)
      return fail(ctx.m, Status::kMalformedModel, "required input %d is omitted", k);
  return Status::kOk;
}

Status expect_type(OpContext& ctx, const Tensor& t, DType type, const char* what) {
  if (t.type != type)
    return fail(ctx.m, Status::kUnsupported, "%s '%s' is %s, expected %s", what, t.name,
                dtype_name(t.type), dtype_name(type));
  return Status::kOk;
}

Status expect_per_tensor(OpContext& ctx, const Tensor& t, const char* what) {
  if (t.type == DType::kInt8 && t.num_scales != 1)
    return fail(ctx.m, Status::kUnsupported, "%s '%s' must be per-tensor quantized", what, t.name);
  return Status::kOk;
}

Status const_int32(OpContext& ctx, int input, const int32_t** data, int* n) {
  if (!ctx.has_in(input))
    return fail(ctx.m, Status::kMalformedModel, "input %d is missing", input);
  const Tensor& t = ctx.in(input);
  if (t.type != DType::kInt32 || !t.const_data)
    return fail(ctx.m, Status::kUnsupported, "input %d ('%s') must be a constant int32 tensor",
                input, t.name);
  *data = reinterpret_cast<const int32_t*>(t.const_data);
  *n = static_cast<int>(t.elements);
  return Status::kOk;
}

Status set_activation(OpContext& ctx, int act) {
  OpParams& p = ctx.op.p;
  const Tensor& y = ctx.out();
  float lo = -INFINITY, hi = INFINITY;
  switch (act) {
    case 0: break;                          // NONE
    case 1: lo = 0.f; break;                // RELU
    case 2: lo = -1.f; hi = 1.f; break;     // RELU_N1_TO_1
    case 3: lo = 0.f; hi = 6.f; break;      // RELU6
    default:
      return fail(ctx.m, Status::kUnsupported, "fused activation %d is not supported", act);
  }
  p.fact_min = lo;
  p.fact_max = hi;
  p.act_min = -128;
  p.act_max = 127;
  if (y.type == DType::kInt8) {
    // TFLite's CalculateActivationRangeQuantized: q(v) = zp + round(v / scale), clamped to int8.
    // Int8Arithmetic::kLiteRt: XNNPACK's xnn_qs8_quantize, rne(clamp(v / scale + zp)).
    const bool litert = ctx.m.arithmetic == Int8Arithmetic::kLiteRt;
    auto qv = [&](float v) {
      if (litert) {
        float f = v / y.scale + static_cast<float>(y.zero_point);
        f = f < -128.f ? -128.f : (f > 127.f ? 127.f : f);
        return static_cast<int32_t>(std::nearbyint(f));
      }
      return y.zero_point + static_cast<int32_t>(std::round(v / y.scale));
    };
    if (act != 0) {
      const int32_t qlo = qv(lo);
      p.act_min = qlo > -128 ? qlo : -128;
      if (hi != INFINITY) {
        const int32_t qhi = qv(hi);
        p.act_max = qhi < 127 ? qhi : 127;
      }
    }
  }
  return Status::kOk;
}

}  // namespace tinyvit::rt
