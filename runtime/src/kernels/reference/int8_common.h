#pragma once
// Requantization set-up shared by CONV_2D and FULLY_CONNECTED (int8): TFLite's
// PopulateConvolutionQuantizationParams. Per output channel c:
//   multiplier_c = double(in_scale) * double(w_scale_c) / double(out_scale)  -> (q_c, shift_c)
// and the kernels compute
//   acc = bias_c + sum (w - 0) * (x - in_zp);  y = clamp(MBQM(acc, q_c, shift_c) + out_zp).
// Int8Arithmetic::kLiteRt instead keeps XNNPACK's float scale per channel,
//   scale_c = float(in_scale) * float(w_scale_c) / float(out_scale)   (float operations)
// and requantizes with q::requantize_fp32 (one rounding, ties to even).
#include "kernels/kernel.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {

inline Status prepare_int8_weights(OpContext& ctx, const Tensor& x, const Tensor& w,
                                   const Tensor* bias, int channels, int channel_axis) {
  const Tensor& y = ctx.out();
  Status s = expect_per_tensor(ctx, x, "input");
  if (s == Status::kOk) s = expect_per_tensor(ctx, y, "output");
  if (s != Status::kOk) return s;
  if (w.type != DType::kInt8)
    return fail(ctx.m, Status::kUnsupported, "int8 input with %s weights (hybrid ops are not "
                "supported)", dtype_name(w.type));
  if (w.zero_point != 0)
    return fail(ctx.m, Status::kUnsupported, "weights '%s': zero point must be 0", w.name);
  if (w.num_scales != 1 && (w.num_scales != channels || w.quantized_dim != channel_axis))
    return fail(ctx.m, Status::kMalformedModel, "weights '%s': per-channel scales must be along "
                "the output channels", w.name);
  if (bias) {
    if (bias->type != DType::kInt32)
      return fail(ctx.m, Status::kUnsupported, "int8 op needs an int32 bias, '%s' is %s",
                  bias->name, dtype_name(bias->type));
  }
  OpParams& p = ctx.op.p;
  // LiteRT's XNNPACK delegate declines a CONV_2D without bias and any requantization scale
  // >= 256 (its builtin kernel, the reference arithmetic, then runs).
  bool xnn = ctx.m.arithmetic == Int8Arithmetic::kLiteRt &&
             (bias || ctx.op.code != static_cast<int>(tfl::BuiltinOperator::CONV_2D));
  for (int c = 0; xnn && c < channels; ++c)
    xnn = x.scale * (w.num_scales > 1 ? w.scales[c] : w.scale) / y.scale < 256.f;
  if (xnn) {
    p.channel_scales =
        static_cast<float*>(persistent_alloc(ctx.m, sizeof(float) * static_cast<std::size_t>(channels)));
    if (!p.channel_scales) return fail(ctx.m, Status::kOutOfMemory, "no room for channel scales");
    for (int c = 0; c < channels; ++c)
      p.channel_scales[c] = x.scale * (w.num_scales > 1 ? w.scales[c] : w.scale) / y.scale;
    return Status::kOk;
  }
  p.channel_multipliers =
      static_cast<int32_t*>(persistent_alloc(ctx.m, sizeof(int32_t) * static_cast<std::size_t>(channels)));
  p.channel_shifts =
      static_cast<int32_t*>(persistent_alloc(ctx.m, sizeof(int32_t) * static_cast<std::size_t>(channels)));
  if (!p.channel_multipliers || !p.channel_shifts)
    return fail(ctx.m, Status::kOutOfMemory, "no room for per-channel multipliers");
  // TFLite and TFLite Micro: per-channel weights (and every CONV_2D) through
  // PopulateConvolutionQuantizationParams, s_x * s_w[c] / s_y in double; a FULLY_CONNECTED with
  // per-tensor weights through GetQuantizedConvolutionMultipler, which rounds the product
  // s_x * s_w to float32 first (as for BATCH_MATMUL).
  const bool float_product =
      w.num_scales == 1 && ctx.op.code == static_cast<int>(tfl::BuiltinOperator::FULLY_CONNECTED);
  for (int c = 0; c < channels; ++c) {
    const float ws = w.num_scales > 1 ? w.scales[c] : w.scale;
    const double m = float_product
                         ? static_cast<double>(x.scale * ws) / static_cast<double>(y.scale)
                         : static_cast<double>(x.scale) * static_cast<double>(ws) /
                               static_cast<double>(y.scale);
    int shift = 0;
    q::quantize_multiplier(m, &p.channel_multipliers[c], &shift);
    p.channel_shifts[c] = shift;
  }
  return Status::kOk;
}

// The requantization epilogue of output channel c, shared by every FC / CONV_2D kernel
// (reference, AVX2, NEON): acc (without bias) + bias (wrapping, as TFLite's int32
// accumulator) -> int8, in the op's arithmetic.
inline int8_t requantize_channel(int32_t acc, const int32_t* bias, const OpParams& p, int c,
                                 int32_t out_zp) {
  if (bias) acc = q::wrapping_add(acc, bias[c]);
  if (p.channel_scales)
    return static_cast<int8_t>(q::requantize_fp32(acc, p.channel_scales[c], out_zp, p.act_min, p.act_max));
  acc = q::multiply_by_quantized_multiplier(acc, p.channel_multipliers[c], p.channel_shifts[c]);
  return static_cast<int8_t>(q::clamp(q::add_zp(acc, out_zp), p.act_min, p.act_max));
}

}  // namespace tinyvit::rt
