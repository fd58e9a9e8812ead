// CONV_2D, NHWC input (N, H, W, Ci), filter OHWI (Co, kh, kw, Ci), bias (Co).
//   y[n, oy, ox, co] = act(b[co] + sum_{ky, kx, ci} x[n, iy, ix, ci] * w[co, ky, kx, ci])
//   iy = oy * stride_h - pad_top + ky * dilation_h   (taps outside the image contribute 0,
//   i.e. the input's zero point in int8)
// Padding: VALID = none; SAME = total ((out - 1) * stride + eff_k - in), pad_top = total / 2.
#include "kernels/kernel.h"
#include "kernels/reference/int8_common.h"
#include "kernels/x86/x86_kernels.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

// p.i: 0 stride_h, 1 stride_w, 2 dil_h, 3 dil_w, 4 pad_top, 5 pad_left
void eval_float(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& y = ctx.out();
  const OpParams& p = ctx.op.p;
  const float* b = ctx.has_in(2) ? ctx.in(2).as<const float>() : nullptr;
  const int N = x.dims[0], H = x.dims[1], W = x.dims[2], Ci = x.dims[3];
  const int Co = w.dims[0], KH = w.dims[1], KW = w.dims[2];
  const int OH = y.dims[1], OW = y.dims[2];
  const float* xp = x.as<const float>();
  const float* wp = w.as<const float>();
  float* yp = y.as<float>();
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < OH; ++oy)
      for (int ox = 0; ox < OW; ++ox)
        for (int co = 0; co < Co; ++co) {
          float acc = b ? b[co] : 0.f;
          for (int ky = 0; ky < KH; ++ky) {
            const int iy = oy * p.i[0] - p.i[4] + ky * p.i[2];
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < KW; ++kx) {
              const int ix = ox * p.i[1] - p.i[5] + kx * p.i[3];
              if (ix < 0 || ix >= W) continue;
              const float* xr = xp + ((static_cast<int64_t>(n) * H + iy) * W + ix) * Ci;
              const float* wr = wp + ((static_cast<int64_t>(co) * KH + ky) * KW + kx) * Ci;
              for (int ci = 0; ci < Ci; ++ci) acc += xr[ci] * wr[ci];
            }
          }
          acc = acc < p.fact_min ? p.fact_min : (acc > p.fact_max ? p.fact_max : acc);
          yp[((static_cast<int64_t>(n) * OH + oy) * OW + ox) * Co + co] = acc;
        }
}

void eval_int8(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& y = ctx.out();
  const OpParams& p = ctx.op.p;
  const int32_t* b = ctx.has_in(2) ? ctx.in(2).as<const int32_t>() : nullptr;
  const int N = x.dims[0], H = x.dims[1], W = x.dims[2], Ci = x.dims[3];
  const int Co = w.dims[0], KH = w.dims[1], KW = w.dims[2];
  const int OH = y.dims[1], OW = y.dims[2];
  const int32_t in_offset = -x.zero_point;
  const int8_t* xp = x.as<const int8_t>();
  const int8_t* wp = w.as<const int8_t>();
  int8_t* yp = y.as<int8_t>();
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < OH; ++oy)
      for (int ox = 0; ox < OW; ++ox)
        for (int co = 0; co < Co; ++co) {
          int32_t acc = 0;
          for (int ky = 0; ky < KH; ++ky) {
            const int iy = oy * p.i[0] - p.i[4] + ky * p.i[2];
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < KW; ++kx) {
              const int ix = ox * p.i[1] - p.i[5] + kx * p.i[3];
              if (ix < 0 || ix >= W) continue;
              const int8_t* xr = xp + ((static_cast<int64_t>(n) * H + iy) * W + ix) * Ci;
              const int8_t* wr = wp + ((static_cast<int64_t>(co) * KH + ky) * KW + kx) * Ci;
              for (int ci = 0; ci < Ci; ++ci) acc += static_cast<int32_t>(wr[ci]) * (xr[ci] + in_offset);
            }
          }
          yp[((static_cast<int64_t>(n) * OH + oy) * OW + ox) * Co + co] =
              requantize_channel(acc, b, p, co, y.zero_point);
        }
}

int out_size(int in, int k, int stride, int dil, bool same) {
  const int eff = (k - 1) * dil + 1;
  if (same) return (in + stride - 1) / stride;
  return in >= eff ? (in - eff) / stride + 1 : 0;
}

int pad_before(int in, int out, int k, int stride, int dil) {
  const int eff = (k - 1) * dil + 1;
  const int total = (out - 1) * stride + eff - in;
  return total > 0 ? total / 2 : 0;
}

}  // namespace

Status prepare_conv2d(OpContext& ctx) {
  Status s = expect_io(ctx, 2, 3);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& y = ctx.out();
  const auto* o = static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_Conv2DOptions();
  if (!o) return fail(ctx.m, Status::kMalformedModel, "missing Conv2DOptions");
  if (x.rank != 4 || w.rank != 4 || y.rank != 4)
    return fail(ctx.m, Status::kMalformedModel, "input, filter and output must be 4-D");
  if (!w.const_data) return fail(ctx.m, Status::kUnsupported, "filter must be constant");
  const int Co = w.dims[0], KH = w.dims[1], KW = w.dims[2], Ci = w.dims[3];
  if (x.dims[3] != Ci)
    return fail(ctx.m, Status::kUnsupported, "input has %d channels, filter %d (grouped "
                "convolution is not supported)", static_cast<int>(x.dims[3]), static_cast<int>(Ci));
  const int sh = o->stride_h(), sw = o->stride_w(), dh = o->dilation_h_factor(),
            dw = o->dilation_w_factor();
  if (sh < 1 || sw < 1 || dh < 1 || dw < 1 || sh > 64 || sw > 64 || dh > 64 || dw > 64)
    return fail(ctx.m, Status::kMalformedModel, "bad stride or dilation");
  const bool same = o->padding() == tfl::Padding::SAME;
  const int OH = out_size(x.dims[1], KH, sh, dh, same), OW = out_size(x.dims[2], KW, sw, dw, same);
  if (y.dims[0] != x.dims[0] || y.dims[1] != OH || y.dims[2] != OW || y.dims[3] != Co)
    return fail(ctx.m, Status::kMalformedModel, "output shape (%d, %d, %d, %d), expected "
                "(%d, %d, %d, %d)", static_cast<int>(y.dims[0]), static_cast<int>(y.dims[1]),
                static_cast<int>(y.dims[2]), static_cast<int>(y.dims[3]), static_cast<int>(x.dims[0]),
                static_cast<int>(OH), static_cast<int>(OW), static_cast<int>(Co));
  const Tensor* bias = ctx.has_in(2) ? &ctx.in(2) : nullptr;
  if (bias && (bias->elements != Co || !bias->const_data))
    return fail(ctx.m, Status::kMalformedModel, "bias must be a constant with %d values", Co);
  OpParams& p = ctx.op.p;
  p.i[0] = sh; p.i[1] = sw; p.i[2] = dh; p.i[3] = dw;
  p.i[4] = same ? pad_before(x.dims[1], OH, KH, sh, dh) : 0;
  p.i[5] = same ? pad_before(x.dims[2], OW, KW, sw, dw) : 0;
  s = set_activation(ctx, static_cast<int>(o->fused_activation_function()));
  if (s != Status::kOk) return s;
  const bool fast = ctx.m.kernels == KernelSet::kAuto && x86::available();
  if (x.type == DType::kFloat32) {
    if (w.type != DType::kFloat32 || y.type != DType::kFloat32 ||
        (bias && bias->type != DType::kFloat32))
      return fail(ctx.m, Status::kUnsupported, "float32 conv needs float32 filter, bias, output");
    ctx.op.eval = fast ? x86::conv2d_float_avx2 : eval_float;
    if (fast) ctx.op.kernel = "avx2";
    return Status::kOk;
  }
  if (x.type == DType::kInt8 && y.type == DType::kInt8) {
    if (static_cast<int64_t>(KH) * KW * Ci > q::kMaxInt8Reduction)
      return fail(ctx.m, Status::kUnsupported, "int8 reduction length %lld overflows int32",
                  static_cast<long long>(KH) * KW * Ci);
    s = prepare_int8_weights(ctx, x, w, bias, Co, 0);
    if (s != Status::kOk) return s;
    ctx.op.eval = fast ? x86::conv2d_int8_avx2 : eval_int8;
    if (fast) ctx.op.kernel = "avx2";
    return Status::kOk;
  }
  return fail(ctx.m, Status::kUnsupported, "input %s, output %s", dtype_name(x.type),
              dtype_name(y.type));
}

}  // namespace tinyvit::rt
