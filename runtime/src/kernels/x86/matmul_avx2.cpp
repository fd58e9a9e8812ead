// AVX2 + FMA variants of FULLY_CONNECTED, BATCH_MATMUL and CONV_2D (float32 and int8), and of
// the int8 elementwise ADD / SUB / MUL / SQUARED_DIFFERENCE (8 lanes of the same int32
// arithmetic as reference/elementwise.cpp, requantized with mbqm8).
// Same prepared parameters as the reference kernels (reference/*.cpp), chosen by prepare()
// when the CPU has AVX2 and FMA (checked once at run time).
//   int8: the integer sums are exact, so results are bit-exact with the reference: products
//         w * (x - zx) with |x - zx| <= 255, |w| <= 128 fit int16 x int16 -> int32 pairs
//         (_mm256_madd_epi16, sum of two <= 65280), accumulated in int32 lanes (BATCH_MATMUL:
//         (a - za)(b - zb), both <= 255, pairs of k interleaved, sum of two <= 130050); the
//         same requantization (MBQM) follows, on 8 lanes (mbqm8) where 8 outputs are ready.
//         FULLY_CONNECTED works on 2 token rows x 4 units at a time.
//   float: 8-lane FMA partial sums, i.e. another summation order than the reference
//         (differences of a few ulp of the sum; tests allow 1e-5 relative).
#include <immintrin.h>

#include "kernels/reference/batch_matmul.h"
#include "kernels/reference/int8_common.h"
#include "kernels/shape_util.h"
#include "kernels/x86/x86_kernels.h"
#include "quant.h"

namespace tinyvit::rt::x86 {
namespace {

inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

inline int32_t hsum_i32(__m256i v) {
  __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
  lo = _mm_add_epi32(lo, hi);
  lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4E));
  lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xB1));
  return _mm_cvtsi128_si32(lo);
}

inline float dot_f(const float* x, const float* w, int n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8), _mm256_loadu_ps(w + k + 8), a1);
  }
  for (; k + 8 <= n; k += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), a0);
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; k < n; ++k) s += x[k] * w[k];
  return s;
}

// sum_k w[k] * (x[k] + off), exact in int32.
inline int32_t dot_q(const int8_t* x, const int8_t* w, int n, int32_t off) {
  const __m256i o16 = _mm256_set1_epi16(static_cast<int16_t>(off));
  __m256i acc = _mm256_setzero_si256();
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m256i xv = _mm256_add_epi16(
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + k))), o16);
    const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k)));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
  }
  int32_t s = hsum_i32(acc);
  for (; k < n; ++k) s += static_cast<int32_t>(w[k]) * (x[k] + off);
  return s;
}

// Four output units at once: the converted x vector is reused 4 times.
inline void dot_q4(const int8_t* x, const int8_t* w, int64_t ws, int n, int32_t off, int32_t out[4]) {
  const __m256i o16 = _mm256_set1_epi16(static_cast<int16_t>(off));
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m256i xv = _mm256_add_epi16(
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + k))), o16);
    auto wl = [&](int j) {
      return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + j * ws + k)));
    };
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(xv, wl(0)));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(xv, wl(1)));
    a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(xv, wl(2)));
    a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(xv, wl(3)));
  }
  out[0] = hsum_i32(a0);
  out[1] = hsum_i32(a1);
  out[2] = hsum_i32(a2);
  out[3] = hsum_i32(a3);
  for (; k < n; ++k)
    for (int j = 0; j < 4; ++j) out[j] += static_cast<int32_t>(w[j * ws + k]) * (x[k] + off);
}

// The four int32 lane sums of a0..a3 (exact: integer additions in any order).
inline __m128i hsum4_i32(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  const __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
  return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

// q::multiply_by_quantized_multiplier on 8 int32 lanes, bit for bit, for multipliers >= 0
// (quantize_multiplier gives 0 or [2^30, 2^31)): x << max(shift, 0); SRDHM as
// floor((x * m + 2^30) / 2^31) (equal to the reference's nudge-and-truncate for every product,
// and SRDHM's one saturating case needs m = INT32_MIN); then RoundingDivideByPOT(max(-shift, 0)).
inline __m256i mbqm8(__m256i x, __m256i m, __m256i shift) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i left = _mm256_max_epi32(shift, zero);
  const __m256i right = _mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero);
  x = _mm256_sllv_epi32(x, left);
  const __m256i nudge = _mm256_set1_epi64x(int64_t{1} << 30);
  // Even lanes (low halves of the 64-bit lanes) and odd lanes, 32 x 32 -> 64 signed.
  const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, m), nudge);
  const __m256i po = _mm256_add_epi64(
      _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)), nudge);
  // Bits 31..62 of each product: the even results in the low halves, the odd ones moved up.
  const __m256i he = _mm256_srli_epi64(pe, 31);
  const __m256i ho = _mm256_slli_epi64(_mm256_srli_epi64(po, 31), 32);
  const __m256i high = _mm256_blend_epi32(he, ho, 0xAA);
  // RoundingDivideByPOT(high, right).
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(1), right),
                                        _mm256_set1_epi32(1));
  const __m256i remainder = _mm256_and_si256(high, mask);
  const __m256i threshold =
      _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), _mm256_cmpgt_epi32(zero, high));
  return _mm256_sub_epi32(_mm256_srav_epi32(high, right), _mm256_cmpgt_epi32(remainder, threshold));
}

// Two rows x0, x1 by four output units: each converted weight vector serves both rows, each
// converted x vector all four units (8 accumulators). out[r * 4 + j] = sum_k w_j[k] (x_r[k] + off).
inline void dot_q2x4(const int8_t* x0, const int8_t* x1, const int8_t* w, int64_t ws, int n,
                     int32_t off, int32_t out[8]) {
  const __m256i o16 = _mm256_set1_epi16(static_cast<int16_t>(off));
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  __m256i b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m256i xv0 = _mm256_add_epi16(
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x0 + k))), o16);
    const __m256i xv1 = _mm256_add_epi16(
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x1 + k))), o16);
    __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k)));
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(xv0, wv));
    b0 = _mm256_add_epi32(b0, _mm256_madd_epi16(xv1, wv));
    wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + ws + k)));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(xv0, wv));
    b1 = _mm256_add_epi32(b1, _mm256_madd_epi16(xv1, wv));
    wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * ws + k)));
    a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(xv0, wv));
    b2 = _mm256_add_epi32(b2, _mm256_madd_epi16(xv1, wv));
    wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 3 * ws + k)));
    a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(xv0, wv));
    b3 = _mm256_add_epi32(b3, _mm256_madd_epi16(xv1, wv));
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), hsum4_i32(a0, a1, a2, a3));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4), hsum4_i32(b0, b1, b2, b3));
  for (; k < n; ++k)
    for (int j = 0; j < 4; ++j) {
      out[j] += static_cast<int32_t>(w[j * ws + k]) * (x0[k] + off);
      out[4 + j] += static_cast<int32_t>(w[j * ws + k]) * (x1[k] + off);
    }
}

// Four output units for float.
inline void dot_f4(const float* x, const float* w, int64_t ws, int n, float out[4]) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256 xv = _mm256_loadu_ps(x + k);
    a0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + k), a0);
    a1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + ws + k), a1);
    a2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + 2 * ws + k), a2);
    a3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + 3 * ws + k), a3);
  }
  out[0] = hsum(a0);
  out[1] = hsum(a1);
  out[2] = hsum(a2);
  out[3] = hsum(a3);
  for (; k < n; ++k)
    for (int j = 0; j < 4; ++j) out[j] += x[k] * w[j * ws + k];
}

inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

}  // namespace

bool available() { return cpu_has_avx2_fma(); }

void requantize8_avx2(const int32_t* x, const int32_t* m, const int32_t* shift, int32_t* out) {
  const __m256i v = mbqm8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)),
                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m)),
                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(shift)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), v);
}

void fully_connected_float_avx2(const OpContext& ctx) {
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

void fully_connected_int8_avx2(const OpContext& ctx) {
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
  // 8 units at a time: bias, requantization (mbqm8, or Int8Arithmetic::kLiteRt's float scale:
  // cvtps2dq rounds to nearest even like q::requantize_fp32), zero point and clamp on 8 lanes.
  const __m256i zp8 = _mm256_set1_epi32(y.zero_point);
  const __m256i lo8 = _mm256_set1_epi32(p.act_min), hi8 = _mm256_set1_epi32(p.act_max);
  const __m256 flo8 = _mm256_set1_ps(static_cast<float>(p.act_min - y.zero_point));
  const __m256 fhi8 = _mm256_set1_ps(static_cast<float>(p.act_max - y.zero_point));
  auto finish8 = [&](const int32_t* acc, int u, int8_t* out) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc));
    if (b) v = _mm256_add_epi32(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + u)));
    if (p.channel_scales) {
      __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_loadu_ps(p.channel_scales + u));
      f = _mm256_min_ps(_mm256_max_ps(f, flo8), fhi8);  // max_ps(NaN, lo) = lo, as the scalar
      v = _mm256_cvtps_epi32(f);
    } else {
      v = mbqm8(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.channel_multipliers + u)),
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.channel_shifts + u)));
    }
    v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, zp8), lo8), hi8);
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packs_epi16(w16, w16));
  };
  int64_t r = 0;
  for (; r + 2 <= R; r += 2) {  // row pairs: 2 x 4 blocks, then the unit tail row by row
    const int8_t* x0 = xp + r * K;
    int8_t* y0 = yp + r * U;
    int u = 0;
    for (; u + 8 <= U; u += 8) {
      alignas(32) int32_t s0[8], s1[8], t[8];
      dot_q2x4(x0, x0 + K, wp + static_cast<int64_t>(u) * K, K, K, off, t);
      for (int j = 0; j < 4; ++j) {
        s0[j] = t[j];
        s1[j] = t[4 + j];
      }
      dot_q2x4(x0, x0 + K, wp + static_cast<int64_t>(u + 4) * K, K, K, off, t);
      for (int j = 0; j < 4; ++j) {
        s0[4 + j] = t[j];
        s1[4 + j] = t[4 + j];
      }
      finish8(s0, u, y0 + u);
      finish8(s1, u, y0 + U + u);
    }
    for (; u + 4 <= U; u += 4) {
      int32_t s[8];
      dot_q2x4(x0, x0 + K, wp + static_cast<int64_t>(u) * K, K, K, off, s);
      for (int j = 0; j < 4; ++j) {
        y0[u + j] = finish(s[j], u + j);
        y0[U + u + j] = finish(s[4 + j], u + j);
      }
    }
    for (; u < U; ++u) {
      y0[u] = finish(dot_q(x0, wp + static_cast<int64_t>(u) * K, K, off), u);
      y0[U + u] = finish(dot_q(x0 + K, wp + static_cast<int64_t>(u) * K, K, off), u);
    }
  }
  for (; r < R; ++r) {
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
void batch_matmul_float_avx2(const OpContext& ctx) {
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
      for (; n + 32 <= g.N; n += 32) {
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        for (int k = 0; k < g.K; ++k) {
          const __m256 av = _mm256_set1_ps(ar[k]);
          const float* br = b + static_cast<int64_t>(k) * g.N + n;
          c0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(br), c0);
          c1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(br + 8), c1);
          c2 = _mm256_fmadd_ps(av, _mm256_loadu_ps(br + 16), c2);
          c3 = _mm256_fmadd_ps(av, _mm256_loadu_ps(br + 24), c3);
        }
        _mm256_storeu_ps(yr + n, c0);
        _mm256_storeu_ps(yr + n + 8, c1);
        _mm256_storeu_ps(yr + n + 16, c2);
        _mm256_storeu_ps(yr + n + 24, c3);
      }
      for (; n + 8 <= g.N; n += 8) {
        __m256 c0 = _mm256_setzero_ps();
        for (int k = 0; k < g.K; ++k)
          c0 = _mm256_fmadd_ps(_mm256_set1_ps(ar[k]), _mm256_loadu_ps(b + static_cast<int64_t>(k) * g.N + n), c0);
        _mm256_storeu_ps(yr + n, c0);
      }
      for (; n < g.N; ++n) {
        float s = 0.f;
        for (int k = 0; k < g.K; ++k) s += ar[k] * b[static_cast<int64_t>(k) * g.N + n];
        yr[n] = s;
      }
    }
  }
}

void batch_matmul_int8_avx2(const OpContext& ctx) {
  const BmmGeometry g = bmm_geometry(ctx);
  const Tensor& A = ctx.in(0);
  const Tensor& B = ctx.in(1);
  const Tensor& Y = ctx.out();
  const OpParams& p = ctx.op.p;
  const int8_t* ap = A.as<const int8_t>();
  const int8_t* bp = B.as<const int8_t>();
  int8_t* yp = Y.as<int8_t>();
  const int32_t a_off = -A.zero_point, b_off = -B.zero_point;
  const __m256i bo16 = _mm256_set1_epi16(static_cast<int16_t>(b_off));
  const int64_t msa = static_cast<int64_t>(g.M) * g.K, msb = static_cast<int64_t>(g.K) * g.N;
  auto finish = [&](int32_t acc) {
    acc = q::add_zp(q::multiply_by_quantized_multiplier(acc, p.multiplier, p.shift), Y.zero_point);
    return static_cast<int8_t>(q::clamp(acc, -128, 127));
  };
  const __m256i m8 = _mm256_set1_epi32(p.multiplier), s8 = _mm256_set1_epi32(p.shift);
  const __m256i zp8 = _mm256_set1_epi32(Y.zero_point);
  const __m256i lo8 = _mm256_set1_epi32(-128), hi8 = _mm256_set1_epi32(127);
  auto finish8 = [&](__m256i v, int8_t* out) {
    v = _mm256_add_epi32(mbqm8(v, m8, s8), zp8);
    v = _mm256_min_epi32(_mm256_max_epi32(v, lo8), hi8);
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packs_epi16(w16, w16));
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
        // Pairs of k: (a[k] + a_off, a[k+1] + a_off) against the interleaved b rows k, k+1
        // (all |values| <= 255, so int16 products and pair sums are exact).
        __m256i clo = _mm256_setzero_si256(), chi = clo;
        int k = 0;
        for (; k + 2 <= g.K; k += 2) {
          const uint32_t lo16 = static_cast<uint16_t>(ar[k] + a_off);
          const uint32_t hi16 = static_cast<uint16_t>(ar[k + 1] + a_off);
          const __m256i av = _mm256_set1_epi32(static_cast<int32_t>(lo16 | (hi16 << 16)));
          const int8_t* br = b + static_cast<int64_t>(k) * g.N + n;
          const __m256i b0 = _mm256_add_epi16(
              _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(br))), bo16);
          const __m256i b1 = _mm256_add_epi16(
              _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(br + g.N))), bo16);
          clo = _mm256_add_epi32(clo, _mm256_madd_epi16(_mm256_unpacklo_epi16(b0, b1), av));
          chi = _mm256_add_epi32(chi, _mm256_madd_epi16(_mm256_unpackhi_epi16(b0, b1), av));
        }
        if (k < g.K) {  // odd K: the last row paired with zeros
          const __m256i av = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint16_t>(ar[k] + a_off)));
          const int8_t* br = b + static_cast<int64_t>(k) * g.N + n;
          const __m256i b0 = _mm256_add_epi16(
              _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(br))), bo16);
          const __m256i z = _mm256_setzero_si256();
          clo = _mm256_add_epi32(clo, _mm256_madd_epi16(_mm256_unpacklo_epi16(b0, z), av));
          chi = _mm256_add_epi32(chi, _mm256_madd_epi16(_mm256_unpackhi_epi16(b0, z), av));
        }
        // clo holds columns 0-3 and 8-11, chi 4-7 and 12-15.
        finish8(_mm256_permute2x128_si256(clo, chi, 0x20), yr + n);
        finish8(_mm256_permute2x128_si256(clo, chi, 0x31), yr + n + 8);
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
// contiguous run of KW * Ci values in both x and w when the whole row is inside the image.
void conv2d_float_avx2(const OpContext& ctx) {
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

void conv2d_int8_avx2(const OpContext& ctx) {
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

// ---- int8 elementwise -------------------------------------------------------------------------
// Op parameters as elementwise.cpp prepares them: p.i[0] = -za, p.i[1] = -zb, left_shift,
// (multiplier, shift) for a, b, y (MUL: multiplier/shift only), act_min/act_max, layout p.i[2],
// inner size p.i[3].
namespace {

enum BinKind { kBinAdd, kBinSub, kBinMul, kBinSqDiff };

template <int kKind>
struct BinOp {
  explicit BinOp(const OpContext& ctx) : p(ctx.op.p), zy(ctx.out().zero_point) {
    za8 = _mm256_set1_epi32(p.i[0]);
    zb8 = _mm256_set1_epi32(p.i[1]);
    m1 = _mm256_set1_epi32(p.multiplier);
    s1 = _mm256_set1_epi32(p.shift);
    m2 = _mm256_set1_epi32(p.multiplier2);
    s2 = _mm256_set1_epi32(p.shift2);
    m3 = _mm256_set1_epi32(p.multiplier3);
    s3 = _mm256_set1_epi32(p.shift3);
    zy8 = _mm256_set1_epi32(zy);
    lo8 = _mm256_set1_epi32(kKind == kBinSqDiff ? -128 : p.act_min);
    hi8 = _mm256_set1_epi32(kKind == kBinSqDiff ? 127 : p.act_max);
  }
  // The reference's scalar formula (elementwise.cpp), for tails.
  int8_t one(int8_t a, int8_t b) const {
    int32_t v;
    if (kKind == kBinMul) {
      v = q::add_zp(q::multiply_by_quantized_multiplier((a + p.i[0]) * (b + p.i[1]), p.multiplier, p.shift), zy);
      return static_cast<int8_t>(q::clamp(v, p.act_min, p.act_max));
    }
    const int32_t qa = q::multiply_by_quantized_multiplier((a + p.i[0]) * (1 << p.left_shift), p.multiplier, p.shift);
    const int32_t qb = q::multiply_by_quantized_multiplier((b + p.i[1]) * (1 << p.left_shift), p.multiplier2, p.shift2);
    if (kKind == kBinSqDiff) {
      v = q::add_zp(q::multiply_by_quantized_multiplier((qa - qb) * (qa - qb), p.multiplier3, p.shift3), zy);
      return static_cast<int8_t>(q::clamp(v, -128, 127));
    }
    const int32_t raw = kKind == kBinAdd ? qa + qb : qa - qb;
    v = q::add_zp(q::multiply_by_quantized_multiplier(raw, p.multiplier3, p.shift3), zy);
    return static_cast<int8_t>(q::clamp(v, p.act_min, p.act_max));
  }
  // 8 lanes of int8 values (sign-extended to int32) -> 8 int8 results in the low 8 bytes.
  __m128i eight(__m256i a, __m256i b) const {
    __m256i v;
    if (kKind == kBinMul) {
      v = mbqm8(_mm256_mullo_epi32(_mm256_add_epi32(a, za8), _mm256_add_epi32(b, zb8)), m1, s1);
    } else {
      const __m256i qa = mbqm8(_mm256_sll_epi32(_mm256_add_epi32(a, za8), _mm_cvtsi32_si128(p.left_shift)), m1, s1);
      const __m256i qb = mbqm8(_mm256_sll_epi32(_mm256_add_epi32(b, zb8), _mm_cvtsi32_si128(p.left_shift)), m2, s2);
      if (kKind == kBinSqDiff) {
        const __m256i d = _mm256_sub_epi32(qa, qb);
        v = mbqm8(_mm256_mullo_epi32(d, d), m3, s3);
      } else {
        v = mbqm8(kKind == kBinAdd ? _mm256_add_epi32(qa, qb) : _mm256_sub_epi32(qa, qb), m3, s3);
      }
    }
    v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, zy8), lo8), hi8);
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return _mm_packs_epi16(w16, w16);
  }
  const OpParams& p;
  int32_t zy;
  __m256i za8, zb8, m1, s1, m2, s2, m3, s3, zy8, lo8, hi8;
};

inline __m256i load8(const int8_t* x) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x)));
}
inline void store8(int8_t* y, __m128i v) { _mm_storel_epi64(reinterpret_cast<__m128i*>(y), v); }

// y[i] = op(a[i], b[i]) for i < n, with a or b (kAScalar / kBScalar) one repeated value.
template <int kKind, bool kAScalar, bool kBScalar>
inline void bin_run(const BinOp<kKind>& op, const int8_t* a, const int8_t* b, int8_t* y, int64_t n) {
  const __m256i av = kAScalar ? _mm256_set1_epi32(a[0]) : _mm256_setzero_si256();
  const __m256i bv = kBScalar ? _mm256_set1_epi32(b[0]) : _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    store8(y + i, op.eight(kAScalar ? av : load8(a + i), kBScalar ? bv : load8(b + i)));
  for (; i < n; ++i) y[i] = op.one(kAScalar ? a[0] : a[i], kBScalar ? b[0] : b[i]);
}

template <int kKind>
void binary_int8_avx2(const OpContext& ctx) {
  const BinOp<kKind> op(ctx);
  const Tensor& ta = ctx.in(0);
  const Tensor& tb = ctx.in(1);
  const Tensor& ty = ctx.out();
  const int8_t* pa = ta.as<const int8_t>();
  const int8_t* pb = tb.as<const int8_t>();
  int8_t* py = ty.as<int8_t>();
  const int64_t total = ty.elements;
  const int64_t n = ctx.op.p.i[3];
  switch (ctx.op.p.i[2]) {
    case kLayoutSame:
      bin_run<kKind, false, false>(op, pa, pb, py, total);
      return;
    case kLayoutRowB:
      for (int64_t o = 0; o < total; o += n) bin_run<kKind, false, false>(op, pa + o, pb, py + o, n);
      return;
    case kLayoutRowA:
      for (int64_t o = 0; o < total; o += n) bin_run<kKind, false, false>(op, pa, pb + o, py + o, n);
      return;
    case kLayoutColB:
      for (int64_t o = 0, r = 0; o < total; o += n, ++r)
        bin_run<kKind, false, true>(op, pa + o, pb + r, py + o, n);
      return;
    case kLayoutColA:
      for (int64_t o = 0, r = 0; o < total; o += n, ++r)
        bin_run<kKind, true, false>(op, pa + r, pb + o, py + o, n);
      return;
    default:
      broadcast_apply<int8_t, int8_t>(ta, tb, ty, [&](int8_t a, int8_t b) { return op.one(a, b); });
      return;
  }
}

}  // namespace

void add_int8_avx2(const OpContext& ctx) { binary_int8_avx2<kBinAdd>(ctx); }
void sub_int8_avx2(const OpContext& ctx) { binary_int8_avx2<kBinSub>(ctx); }
void mul_int8_avx2(const OpContext& ctx) { binary_int8_avx2<kBinMul>(ctx); }
void squared_difference_int8_avx2(const OpContext& ctx) { binary_int8_avx2<kBinSqDiff>(ctx); }

}  // namespace tinyvit::rt::x86
