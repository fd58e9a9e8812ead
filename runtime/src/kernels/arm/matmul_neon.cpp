// aarch64 NEON variants of FULLY_CONNECTED, BATCH_MATMUL and CONV_2D (float32 and int8), the
// counterpart of x86/matmul_avx2.cpp. Same prepared parameters as the reference kernels
// (reference/*.cpp); chosen by select() after prepare() on aarch64 builds (NEON is mandatory
// there, so there is no run-time check).
//   int8: no SDOT (vdotq_s32 is optional before Armv8.4 and would need an HWCAP_ASIMDDP
//         check): x and w are widened to int16 (vmovl_s8), the input offset is added in int16
//         (|x - zx| <= 255), and vmlal_s16 accumulates the exact int16 x int16 products
//         (|p| <= 32640) in int32 lanes; the same requantization (MBQM) follows, so results
//         are bit-exact with the reference.
//   float: 4-lane FMA (vfmaq_f32) partial sums, i.e. another summation order than the
//          reference (differences of a few ulp of the sum; tests allow 1e-5 relative).
#include <arm_neon.h>

#include "kernels/arm/arm_kernels.h"
#include "kernels/reference/batch_matmul.h"
#include "kernels/reference/int8_common.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt::arm {
namespace {

inline float dot_f(const float* x, const float* w, int n) {
  float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, a2 = a0, a3 = a0;
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    a0 = vfmaq_f32(a0, vld1q_f32(x + k), vld1q_f32(w + k));
    a1 = vfmaq_f32(a1, vld1q_f32(x + k + 4), vld1q_f32(w + k + 4));
    a2 = vfmaq_f32(a2, vld1q_f32(x + k + 8), vld1q_f32(w + k + 8));
    a3 = vfmaq_f32(a3, vld1q_f32(x + k + 12), vld1q_f32(w + k + 12));
  }
  for (; k + 4 <= n; k += 4) a0 = vfmaq_f32(a0, vld1q_f32(x + k), vld1q_f32(w + k));
  float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
  for (; k < n; ++k) s += x[k] * w[k];
  return s;
}

// Four output units at once: each x vector is loaded once for 4 weight rows.
inline void dot_f4(const float* x, const float* w, int64_t ws, int n, float out[4]) {
  float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, a2 = a0, a3 = a0;
  int k = 0;
  for (; k + 4 <= n; k += 4) {
    const float32x4_t xv = vld1q_f32(x + k);
    a0 = vfmaq_f32(a0, xv, vld1q_f32(w + k));
    a1 = vfmaq_f32(a1, xv, vld1q_f32(w + ws + k));
    a2 = vfmaq_f32(a2, xv, vld1q_f32(w + 2 * ws + k));
    a3 = vfmaq_f32(a3, xv, vld1q_f32(w + 3 * ws + k));
  }
  out[0] = vaddvq_f32(a0);
  out[1] = vaddvq_f32(a1);
  out[2] = vaddvq_f32(a2);
  out[3] = vaddvq_f32(a3);
  for (; k < n; ++k)
    for (int j = 0; j < 4; ++j) out[j] += x[k] * w[j * ws + k];
}

// acc += w * (x + off) over 16 values, exact: int16 operands, int32 lanes.
inline int32x4_t mac16(int32x4_t acc, int8x16_t xv, int8x16_t wv, int16x8_t o16) {
  const int16x8_t xl = vaddq_s16(vmovl_s8(vget_low_s8(xv)), o16);
  const int16x8_t xh = vaddq_s16(vmovl_high_s8(xv), o16);
  const int16x8_t wl = vmovl_s8(vget_low_s8(wv));
  const int16x8_t wh = vmovl_high_s8(wv);
  acc = vmlal_s16(acc, vget_low_s16(xl), vget_low_s16(wl));
  acc = vmlal_high_s16(acc, xl, wl);
  acc = vmlal_s16(acc, vget_low_s16(xh), vget_low_s16(wh));
  return vmlal_high_s16(acc, xh, wh);
}

// sum_k w[k] * (x[k] + off), exact in int32.
inline int32_t dot_q(const int8_t* x, const int8_t* w, int n, int32_t off) {
  const int16x8_t o16 = vdupq_n_s16(static_cast<int16_t>(off));
  int32x4_t acc = vdupq_n_s32(0);
  int k = 0;
  for (; k + 16 <= n; k += 16) acc = mac16(acc, vld1q_s8(x + k), vld1q_s8(w + k), o16);
  int32_t s = vaddvq_s32(acc);
  for (; k < n; ++k) s += static_cast<int32_t>(w[k]) * (x[k] + off);
  return s;
}

// Four output units at once (the widened x is reused 4 times).
inline void dot_q4(const int8_t* x, const int8_t* w, int64_t ws, int n, int32_t off, int32_t out[4]) {
  const int16x8_t o16 = vdupq_n_s16(static_cast<int16_t>(off));
  int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    const int8x16_t xv = vld1q_s8(x + k);
    a0 = mac16(a0, xv, vld1q_s8(w + k), o16);
    a1 = mac16(a1, xv, vld1q_s8(w + ws + k), o16);
    a2 = mac16(a2, xv, vld1q_s8(w + 2 * ws + k), o16);
    a3 = mac16(a3, xv, vld1q_s8(w + 3 * ws + k), o16);
  }
  out[0] = vaddvq_s32(a0);
  out[1] = vaddvq_s32(a1);
  out[2] = vaddvq_s32(a2);
  out[3] = vaddvq_s32(a3);
  for (; k < n; ++k)
    for (int j = 0; j < 4; ++j) out[j] += static_cast<int32_t>(w[j * ws + k]) * (x[k] + off);
}

inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

}  // namespace

bool available() { return true; }

void select(OpContext& ctx) {
  if (ctx.m.kernels != KernelSet::kAuto) return;
  using B = tfl::BuiltinOperator;
  const bool f32 = ctx.in(0).type == DType::kFloat32;
  const bool i8 = ctx.in(0).type == DType::kInt8 && ctx.out().type == DType::kInt8;
  Op& op = ctx.op;
  EvalFn fn = nullptr;
  if (op.code == static_cast<int>(B::FULLY_CONNECTED)) {
    fn = f32 ? fully_connected_float_neon : (i8 ? fully_connected_int8_neon : nullptr);
  } else if (op.code == static_cast<int>(B::CONV_2D)) {
    fn = f32 ? conv2d_float_neon : (i8 ? conv2d_int8_neon : nullptr);
  } else if (op.code == static_cast<int>(B::BATCH_MATMUL)) {
    if (op.p.i[0] || op.p.i[1]) return;  // adj_x / adj_y: reference only
    if (i8 && op.p.f[0] != 0.f) return;   // Int8Arithmetic::kLiteRt's float scale: reference only
    fn = f32 ? batch_matmul_float_neon : (i8 ? batch_matmul_int8_neon : nullptr);
  }
  if (!fn) return;
  op.eval = fn;
  op.kernel = "neon";
}

void fully_connected_float_neon(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const OpParams& p = ctx.op.p;
  const float* b = ctx.has_in(2) ? ctx.in(2).as<const float>() : nullptr;
  const int K = w.dims[1], U = w.dims[0];
  const int64_t R = x.elements / K;
  const float* xp = x.as<const float>();
  const float* wp = w.as<const float>();
  float* yp = ctx.out().as<float>();
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = xp + r * K;
    float* yr = yp + r * U;
    int u = 0;
    for (; u + 4 <= U; u += 4) {
      float s[4];
      dot_f4(xr, wp + static_cast<int64_t>(u) * K, K, K, s);
      for (int j = 0; j < 4; ++j) yr[u + j] = clampf(s[j] + (b ? b[u + j] : 0.f), p.fact_min, p.fact_max);
    }
    for (; u < U; ++u)
      yr[u] = clampf(dot_f(xr, wp + static_cast<int64_t>(u) * K, K) + (b ? b[u] : 0.f), p.fact_min,
                     p.fact_max);
  }
}

void fully_connected_int8_neon(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& y = ctx.out();
  const OpParams& p = ctx.op.p;
  const int32_t* b = ctx.has_in(2) ? ctx.in(2).as<const int32_t>() : nullptr;
  const int K = w.dims[1], U = w.dims[0];
  const int64_t R = x.elements / K;
  const int32_t off = -x.zero_point;
  const int8_t* xp = x.as<const int8_t>();
  const int8_t* wp = w.as<const int8_t>();
  int8_t* yp = y.as<int8_t>();
  auto finish = [&](int32_t acc, int u) { return requantize_channel(acc, b, p, u, y.zero_point); };
  for (int64_t r = 0; r < R; ++r) {
    const int8_t* xr = xp + r * K;
    int8_t* yr = yp + r * U;
    int u = 0;
    for (; u + 4 <= U; u += 4) {
      int32_t s[4];
      dot_q4(xr, wp + static_cast<int64_t>(u) * K, K, K, off, s);
      for (int j = 0; j < 4; ++j) yr[u + j] = finish(s[j], u + j);
    }
    for (; u < U; ++u) yr[u] = finish(dot_q(xr, wp + static_cast<int64_t>(u) * K, K, off), u);
  }
}

// y[m, :] = sum_k a[m, k] * b[k, :], vectorized over N (b rows are contiguous).
void batch_matmul_float_neon(const OpContext& ctx) {
  const BmmGeometry g = bmm_geometry(ctx);
  const float* ap = ctx.in(0).as<const float>();
  const float* bp = ctx.in(1).as<const float>();
  float* yp = ctx.out().as<float>();
  const int64_t msa = static_cast<int64_t>(g.M) * g.K, msb = static_cast<int64_t>(g.K) * g.N;
  for (int64_t i = 0; i < g.batches; ++i) {
    int64_t oa, ob;
    g.offsets(i, &oa, &ob);
    const float* a = ap + oa * msa;
    const float* b = bp + ob * msb;
    float* y = yp + i * static_cast<int64_t>(g.M) * g.N;
    for (int m = 0; m < g.M; ++m) {
      const float* ar = a + static_cast<int64_t>(m) * g.K;
      float* yr = y + static_cast<int64_t>(m) * g.N;
      int n = 0;
      for (; n + 16 <= g.N; n += 16) {
        float32x4_t c0 = vdupq_n_f32(0.f), c1 = c0, c2 = c0, c3 = c0;
        for (int k = 0; k < g.K; ++k) {
          const float av = ar[k];
          const float* br = b + static_cast<int64_t>(k) * g.N + n;
          c0 = vfmaq_n_f32(c0, vld1q_f32(br), av);
          c1 = vfmaq_n_f32(c1, vld1q_f32(br + 4), av);
          c2 = vfmaq_n_f32(c2, vld1q_f32(br + 8), av);
          c3 = vfmaq_n_f32(c3, vld1q_f32(br + 12), av);
        }
        vst1q_f32(yr + n, c0);
        vst1q_f32(yr + n + 4, c1);
        vst1q_f32(yr + n + 8, c2);
        vst1q_f32(yr + n + 12, c3);
      }
      for (; n + 4 <= g.N; n += 4) {
        float32x4_t c0 = vdupq_n_f32(0.f);
        for (int k = 0; k < g.K; ++k)
          c0 = vfmaq_n_f32(c0, vld1q_f32(b + static_cast<int64_t>(k) * g.N + n), ar[k]);
        vst1q_f32(yr + n, c0);
      }
      for (; n < g.N; ++n) {
        float s = 0.f;
        for (int k = 0; k < g.K; ++k) s += ar[k] * b[static_cast<int64_t>(k) * g.N + n];
        yr[n] = s;
      }
    }
  }
}

void batch_matmul_int8_neon(const OpContext& ctx) {
  const BmmGeometry g = bmm_geometry(ctx);
  const Tensor& A = ctx.in(0);
  const Tensor& B = ctx.in(1);
  const Tensor& Y = ctx.out();
  const OpParams& p = ctx.op.p;
  const int8_t* ap = A.as<const int8_t>();
  const int8_t* bp = B.as<const int8_t>();
  int8_t* yp = Y.as<int8_t>();
  const int32_t a_off = -A.zero_point, b_off = -B.zero_point;
  const int16x8_t bo = vdupq_n_s16(static_cast<int16_t>(b_off));
  const int64_t msa = static_cast<int64_t>(g.M) * g.K, msb = static_cast<int64_t>(g.K) * g.N;
  auto finish = [&](int32_t acc) {
    acc = q::add_zp(q::multiply_by_quantized_multiplier(acc, p.multiplier, p.shift), Y.zero_point);
    return static_cast<int8_t>(q::clamp(acc, -128, 127));
  };
  for (int64_t i = 0; i < g.batches; ++i) {
    int64_t oa, ob;
    g.offsets(i, &oa, &ob);
    const int8_t* a = ap + oa * msa;
    const int8_t* b = bp + ob * msb;
    int8_t* y = yp + i * static_cast<int64_t>(g.M) * g.N;
    for (int m = 0; m < g.M; ++m) {
      const int8_t* ar = a + static_cast<int64_t>(m) * g.K;
      int8_t* yr = y + static_cast<int64_t>(m) * g.N;
      int n = 0;
      for (; n + 16 <= g.N; n += 16) {
        int32x4_t c0 = vdupq_n_s32(0), c1 = c0, c2 = c0, c3 = c0;
        for (int k = 0; k < g.K; ++k) {
          const int16_t av = static_cast<int16_t>(ar[k] + a_off);  // |.| <= 255
          const int8x16_t bv = vld1q_s8(b + static_cast<int64_t>(k) * g.N + n);
          const int16x8_t bl = vaddq_s16(vmovl_s8(vget_low_s8(bv)), bo);
          const int16x8_t bh = vaddq_s16(vmovl_high_s8(bv), bo);
          c0 = vmlal_n_s16(c0, vget_low_s16(bl), av);
          c1 = vmlal_high_n_s16(c1, bl, av);
          c2 = vmlal_n_s16(c2, vget_low_s16(bh), av);
          c3 = vmlal_high_n_s16(c3, bh, av);
        }
        int32_t s[16];
        vst1q_s32(s, c0);
        vst1q_s32(s + 4, c1);
        vst1q_s32(s + 8, c2);
        vst1q_s32(s + 12, c3);
        for (int j = 0; j < 16; ++j) yr[n + j] = finish(s[j]);
      }
      for (; n < g.N; ++n) {
        int32_t s = 0;
        for (int k = 0; k < g.K; ++k) s += (ar[k] + a_off) * (b[static_cast<int64_t>(k) * g.N + n] + b_off);
        yr[n] = finish(s);
      }
    }
  }
}

// CONV_2D: for each output pixel and channel, per filter row ky the taps (kx, ci) are one
// contiguous run of KW * Ci values in both x and w when the whole row is inside the image
// (and dilation_w is 1).
void conv2d_float_neon(const OpContext& ctx) {
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
  const bool contiguous = p.i[3] == 1;
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < OH; ++oy)
      for (int ox = 0; ox < OW; ++ox) {
        const int ix0 = ox * p.i[1] - p.i[5];
        const bool row_inside = contiguous && ix0 >= 0 && ix0 + KW <= W;
        float* yr = yp + ((static_cast<int64_t>(n) * OH + oy) * OW + ox) * Co;
        for (int co = 0; co < Co; ++co) {
          float acc = b ? b[co] : 0.f;
          for (int ky = 0; ky < KH; ++ky) {
            const int iy = oy * p.i[0] - p.i[4] + ky * p.i[2];
            if (iy < 0 || iy >= H) continue;
            const float* wr = wp + ((static_cast<int64_t>(co) * KH + ky) * KW) * Ci;
            if (row_inside) {
              acc += dot_f(xp + ((static_cast<int64_t>(n) * H + iy) * W + ix0) * Ci, wr, KW * Ci);
              continue;
            }
            for (int kx = 0; kx < KW; ++kx) {
              const int ix = ix0 + kx * p.i[3];
              if (ix < 0 || ix >= W) continue;
              acc += dot_f(xp + ((static_cast<int64_t>(n) * H + iy) * W + ix) * Ci, wr + kx * Ci, Ci);
            }
          }
          yr[co] = clampf(acc, p.fact_min, p.fact_max);
        }
      }
}

void conv2d_int8_neon(const OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(1);
  const Tensor& y = ctx.out();
  const OpParams& p = ctx.op.p;
  const int32_t* b = ctx.has_in(2) ? ctx.in(2).as<const int32_t>() : nullptr;
  const int N = x.dims[0], H = x.dims[1], W = x.dims[2], Ci = x.dims[3];
  const int Co = w.dims[0], KH = w.dims[1], KW = w.dims[2];
  const int OH = y.dims[1], OW = y.dims[2];
  const int32_t off = -x.zero_point;
  const int8_t* xp = x.as<const int8_t>();
  const int8_t* wp = w.as<const int8_t>();
  int8_t* yp = y.as<int8_t>();
  const bool contiguous = p.i[3] == 1;
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < OH; ++oy)
      for (int ox = 0; ox < OW; ++ox) {
        const int ix0 = ox * p.i[1] - p.i[5];
        const bool row_inside = contiguous && ix0 >= 0 && ix0 + KW <= W;
        int8_t* yr = yp + ((static_cast<int64_t>(n) * OH + oy) * OW + ox) * Co;
        for (int co = 0; co < Co; ++co) {
          int32_t acc = 0;
          for (int ky = 0; ky < KH; ++ky) {
            const int iy = oy * p.i[0] - p.i[4] + ky * p.i[2];
            if (iy < 0 || iy >= H) continue;
            const int8_t* wr = wp + ((static_cast<int64_t>(co) * KH + ky) * KW) * Ci;
            if (row_inside) {
              acc += dot_q(xp + ((static_cast<int64_t>(n) * H + iy) * W + ix0) * Ci, wr, KW * Ci, off);
              continue;
            }
            for (int kx = 0; kx < KW; ++kx) {
              const int ix = ix0 + kx * p.i[3];
              if (ix < 0 || ix >= W) continue;
              acc += dot_q(xp + ((static_cast<int64_t>(n) * H + iy) * W + ix) * Ci, wr + kx * Ci, Ci, off);
            }
          }
          yr[co] = requantize_channel(acc, b, p, co, y.zero_point);
        }
      }
}

}  // namespace tinyvit::rt::arm
