// MAX_POOL_2D, NHWC: y[n, oy, ox, c] = act(max over the window of x[n, iy, ix, c]), taps
// outside the image are skipped (SAME padding as in TFLite).
#include "kernels/kernel.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

// p.i: 0 stride_h, 1 stride_w, 2 filter_h, 3 filter_w, 4 pad_top, 5 pad_left
template <typename T>
void run(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const OpParams& p = ctx.op.p;
  const int N = x.dims[0], H = x.dims[1], W = x.dims[2], C = x.dims[3];
  const int OH = y.dims[1], OW = y.dims[2];
  const T* xp = x.as<const T>();
  T* yp = y.as<T>();
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < OH; ++oy)
      for (int ox = 0; ox < OW; ++ox)
        for (int c = 0; c < C; ++c) {
          bool any = false;
          T m = T(0);
          for (int ky = 0; ky < p.i[2]; ++ky) {
            const int iy = oy * p.i[0] - p.i[4] + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < p.i[3]; ++kx) {
              const int ix = ox * p.i[1] - p.i[5] + kx;
              if (ix < 0 || ix >= W) continue;
              const T v = xp[((static_cast<int64_t>(n) * H + iy) * W + ix) * C + c];
              if (!any || v > m) m = v;
              any = true;
            }
          }
          T out;
          if constexpr (sizeof(T) == 4) {
            float v = static_cast<float>(m);
            out = v < p.fact_min ? p.fact_min : (v > p.fact_max ? p.fact_max : v);
          } else {
            out = static_cast<T>(q::clamp(m, p.act_min, p.act_max));
          }
          yp[((static_cast<int64_t>(n) * OH + oy) * OW + ox) * C + c] = out;
        }
}

void eval_f(const OpContext& ctx) { run<float>(ctx); }
void eval_q(const OpContext& ctx) { run<int8_t>(ctx); }

}  // namespace

Status prepare_max_pool2d(OpContext& ctx) {
  Status s = expect_io(ctx, 1, 1);
  if (s != Status::kOk) return s;
  const Tensor& x = ctx.in(0);
  const Tensor& y = ctx.out();
  const auto* o = static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_Pool2DOptions();
  if (!o) return fail(ctx.m, Status::kMalformedModel, "missing Pool2DOptions");
  if (x.rank != 4 || y.rank != 4) return fail(ctx.m, Status::kMalformedModel, "must be 4-D");
  const int sh = o->stride_h(), sw = o->stride_w(), fh = o->filter_height(), fw = o->filter_width();
  if (sh < 1 || sw < 1 || fh < 1 || fw < 1 || sh > 64 || sw > 64 || fh > 64 || fw > 64)
    return fail(ctx.m, Status::kMalformedModel, "bad stride or filter size");
  const bool same = o->padding() == tfl::Padding::SAME;
  const int H = x.dims[1], W = x.dims[2];
  const int OH = same ? (H + sh - 1) / sh : (H >= fh ? (H - fh) / sh + 1 : 0);
  const int OW = same ? (W + sw - 1) / sw : (W >= fw ? (W - fw) / sw + 1 : 0);
  if (y.dims[0] != x.dims[0] || y.dims[1] != OH || y.dims[2] != OW || y.dims[3] != x.dims[3])
    return fail(ctx.m, Status::kMalformedModel, "output shape is wrong");
  if (x.type != y.type || x.type == DType::kInt32)
    return fail(ctx.m, Status::kUnsupported, "types %s -> %s", dtype_name(x.type), dtype_name(y.type));
  if (x.type == DType::kInt8 && (x.scale != y.scale || x.zero_point != y.zero_point))
    return fail(ctx.m, Status::kMalformedModel, "max pool must keep the quantization");
  OpParams& p = ctx.op.p;
  p.i[0] = sh; p.i[1] = sw; p.i[2] = fh; p.i[3] = fw;
  const int th = (OH - 1) * sh + fh - H, tw = (OW - 1) * sw + fw - W;
  p.i[4] = same && th > 0 ? th / 2 : 0;
  p.i[5] = same && tw > 0 ? tw / 2 : 0;
  s = set_activation(ctx, static_cast<int>(o->fused_activation_function()));
  if (s != Status::kOk) return s;
  ctx.op.eval = x.type == DType::kFloat32 ? eval_f : eval_q;
  return Status::kOk;
}

}  // namespace tinyvit::rt
