#pragma once
// Requantization set-up shared by CONV_2D and FULLY_CONNECTED (int8): TFLite's
// PopulateConvolutionQuantizationParams. Per output channel c:
//   multiplier_c = double(in_scale) * double(w_scale_c) / double(out_scale)  -> (q_c, shift_c)
// and the kernels compute
//   acc = bias_c + sum (w - 0) * (x - in_zp);  y = clamp(MBQM(acc, q_c, shift_c) + out_zp).
#include "kernels/kernel.h"
#include "quant.h"

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
  p.channel_multipliers =
      static_cast<int32_t*>(persistent_alloc(ctx.m, sizeof(int32_t) * static_cast<std::size_t>(channels)));
  p.channel_shifts =
      static_cast<int32_t*>(persistent_alloc(ctx.m, sizeof(int32_t) * static_cast<std::size_t>(channels)));
  if (!p.channel_multipliers || !p.channel_shifts)
    return fail(ctx.m, Status::kOutOfMemory, "no room for per-channel multipliers");
  for (int c = 0; c < channels; ++c) {
    const float ws = w.num_scales > 1 ? w.scales[c] : w.scale;
    const double m = static_cast<double>(x.scale) * static_cast<double>(ws) /
                     static_cast<double>(y.scale);
    int shift = 0;
    q::quantize_multiplier(m, &p.channel_multipliers[c], &shift);
    p.channel_shifts[c] = shift;
  }
  return Status::kOk;
}

}  // namespace tinyvit::rt
