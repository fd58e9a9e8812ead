#pragma once
// TensorFlow Lite's reference integer arithmetic (what TFLite's reference kernels and
// TensorFlow Lite Micro run), written for this runtime from the published definitions:
//
//   QuantizeMultiplier(m):  m = q * 2^shift with q in [2^30, 2^31) (Q0.31), q = round(frac*2^31)
//                           (round half away from zero); shift < -31 -> 0.
//   SaturatingRoundingDoublingHighMul(a, b) = (a*b + nudge) / 2^31, truncating division,
//                           nudge = 2^30 for a*b >= 0 else 1 - 2^30; INT32_MIN*INT32_MIN saturates.
//   RoundingDivideByPOT(x, e) = x >> e rounded half away from zero.
//   MultiplyByQuantizedMultiplier(x, q, shift):
//       RoundingDivideByPOT(SRDHM(x * 2^max(shift,0), q), max(-shift,0))   -- TWO roundings.
//   gemmlowp fixed point (SOFTMAX, RSQRT): see the functions below.
// XNNPACK (LiteRT.js's int8 path for most ops) instead multiplies in float and rounds once
// (ties to even), so it can differ by one step from these on rare inputs.
#include <cstdint>
#include <cstring>

namespace tinyvit::rt::q {

void quantize_multiplier(double m, int32_t* multiplier, int* shift);

inline int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  const bool overflow = a == b && a == INT32_MIN;
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  const int32_t high = static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));
  return overflow ? INT32_MAX : high;
}

inline int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  // |x| < 2^31: a division by 2^32 or more rounds to 0 (and x >> 32 would be undefined; only a
  // hostile file's scales get here)
  if (exponent > 31) return 0;
  const int32_t mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

inline int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  // x * 2^left in int32, as TFLite does (callers keep it in range: left <= 20 on 12-bit values).
  const int32_t shifted = static_cast<int32_t>(static_cast<uint32_t>(x) << left);
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right);
}

// a + b with two's-complement wrap-around (what TFLite's int32 accumulator + bias does on real
// hardware), without the undefined behaviour of signed overflow: a hostile file's bias may be
// anywhere in int32.
inline int32_t wrapping_add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// v + zero point, saturated to int32 (a requantized value of a hostile file can sit at the int32
// limits; in-range values are unchanged, and the caller clamps to int8 anyway).
inline int32_t add_zp(int32_t v, int32_t zp) {
  const int64_t s = static_cast<int64_t>(v) + zp;
  return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : static_cast<int32_t>(s));
}

// Longest int8 dot product whose int32 accumulator cannot overflow: |x - zx| <= 255,
// |w - zw| <= 255 for a hostile file -> 33,000 * 255^2 < 2^31.
constexpr int32_t kMaxInt8Reduction = 33000;

inline int32_t clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// ---- gemmlowp fixed point (what TFLite's int8 SOFTMAX and RSQRT are built on) ----------------
// A Qm.(31-m) value is an int32 raw r meaning r / 2^(31-m). Products of Qa and Qb values are
// SRDHM of the raws (a Q(a+b) value); additions are plain int32 additions.

// gemmlowp SaturatingRoundingMultiplyByPOT<e> for e > 0: x * 2^e, saturated to int32.
inline int32_t saturating_left_shift(int32_t x, int e) {
  const int32_t threshold = static_cast<int32_t>((int64_t{1} << (31 - e)) - 1);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return static_cast<int32_t>(static_cast<uint32_t>(x) << e);
}

// gemmlowp RoundingHalfSum: (a + b) / 2 rounded half away from zero, in 64 bits.
inline int32_t rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = static_cast<int64_t>(a) + b;
  return static_cast<int32_t>((sum + (sum >= 0 ? 1 : -1)) / 2);
}

// gemmlowp exp_on_negative_values for a Q5.26 input a <= 0 (TFLite softmax's
// kScaledDiffIntegerBits = 5); returns exp(a) as Q0.31 (a == 0 -> INT32_MAX).
int32_t exp_on_negative_values_q5(int32_t a);
// gemmlowp one_over_one_plus_x_for_x_in_0_1: a in Q0.31, [0, 1) -> 1 / (1 + a) in Q0.31
// (three Newton-Raphson steps from 48/17 - 32/17 d).
int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a);
// TFLite GetReciprocal(x, integer_digits): x > 0 in Q(integer_digits); returns the Q0.31
// mantissa of 1/x and sets *num_bits_over_unit so that 1/x = result / 2^(31 + bits).
int32_t get_reciprocal(int32_t x, int integer_digits, int* num_bits_over_unit);
// TFLite GetInvSqrtQuantizedMultiplierExp(input, reverse_shift = -1): 1/sqrt(input) for an
// int32 input >= 0 as (multiplier, shift) for multiply_by_quantized_multiplier; inputs 0 and
// 1 give (INT32_MAX, 0). Newton-Raphson in Q3.28, five steps.
void inv_sqrt_quantized_multiplier_exp(int32_t input, int32_t* multiplier, int* shift);

// TFLite's round(): half away from zero (std::round), for float -> int8 quantization.
int32_t round_to_int(float v);
// QUANTIZE (float -> int8): clamp(round(v / scale) + zp, -128, 127).
inline int8_t quantize(float v, float scale, int32_t zp) {
  return static_cast<int8_t>(clamp(round_to_int(v / scale) + zp, -128, 127));
}


// ---- XNNPACK's arithmetic (Int8Arithmetic::kLiteRt: what LiteRT's CPU delegate computes) -------

// fp32 requantization of an int32 accumulator (XNNPACK's "fmagic" GEMM epilogue; its SIMD
// variants are designed to give the same bits): f = float(acc) * scale (int32 -> float rounds
// to nearest even above 2^24, then ONE float multiply), clamped in float to [lo - zp, hi - zp],
// rounded half to EVEN by adding the magic bias 1.5 * 2^23, then + zp. A NaN (a hostile file's
// scale) clamps to lo.
// rne(clamp(f, lo, hi)) for small integer bounds (|lo|, |hi| < 2^22), NaN -> lo: the magic bias
// 1.5 * 2^23 leaves rne(f) in the low mantissa bits (the rounding XNNPACK's kernels use).
inline int32_t round_half_even_clamped(float f, int32_t lo, int32_t hi) {
  const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
  if (!(f >= flo)) f = flo;
  if (f > fhi) f = fhi;
  const float biased = f + 12582912.0f;
  uint32_t bits;
  std::memcpy(&bits, &biased, sizeof(bits));
  return static_cast<int32_t>(bits - 0x4B400000u);
}

inline int32_t requantize_fp32(int32_t acc, float scale, int32_t zp, int32_t lo, int32_t hi) {
  return round_half_even_clamped(static_cast<float>(acc) * scale, lo - zp, hi - zp) + zp;
}

// XNNPACK's ADD/SUB parameters (xnn_init_qs8_add_minmax_scalar_params) for the ratios
// ra = sa / sy, rb = +-sb / sy (float; SUB negates sb): shift = 20 - exponent(max |r|),
// m = rne(r * 2^shift) with r's sign. The kernel then computes
//   y = clamp(((a - za) ma + (b - zb) mb + 2^(shift-1)) >> shift + zy)   (round half up).
// Returns false where LiteRT's delegate does not take the op (a ratio outside [2^-10, 2^8)).
bool xnn_add_params(float ra, float rb, int32_t* ma, int32_t* mb, int* shift);

// XNNPACK's MEAN over n values (reduce + convert): y = rne(float(S) * inv + zy') with S the raw
// int32 sum, inv = (sx / sy) * (1 / n), zy' = zy - float(n * zx) * inv, all in float.
void xnn_mean_params(float sx, int32_t zx, float sy, int32_t zy, int32_t n, float* inv, float* zy_folded);

// LiteRT's builtin float-table SOFTMAX (optimized_ops::Softmax): table[d] = expf(-sx beta d)
// for d = max - x in [0, 255].
void softmax_float_table(float sx, float beta, float table[256]);

// One row of that SOFTMAX: sum = sum table[max - x] in float (in order), inv = 1 / (sum sy),
// y = clamp(round_half_away(table[max - x] * inv) + zy). T: int8_t (runtime) or int32_t
// (the exact simulation's tensors), holding int8 values.
template <typename T>
void softmax_row_float_table(const T* x, T* y, int64_t D, const float* table, float sy, int32_t zy) {
  int32_t mx = -128;
  for (int64_t i = 0; i < D; ++i) mx = x[i] > mx ? x[i] : mx;
  float sum = 0.f;
  for (int64_t i = 0; i < D; ++i) sum += table[mx - x[i]];
  const float inv = 1.0f / (sum * sy);
  for (int64_t i = 0; i < D; ++i) {
    // t * inv <= 1 / sy; a hostile file's scales can make it NaN or huge: clamp first
    float pr = table[mx - x[i]] * inv;
    pr = pr >= 0.f ? (pr < 512.f ? pr : 512.f) : 0.f;
    y[i] = static_cast<T>(clamp(round_to_int(pr) + zy, -128, 127));
  }
}

// One row of TFLite's integer L2_NORMALIZATION (reference_integer_ops::L2Normalization):
// v = x - zx; acc = sum v^2 (int32); (m, e) = GetInvSqrtQuantizedMultiplierExp(acc, -1);
// y = clamp(MBQM(v, m, e + 7), -128, 127) (output 1/128, 0). T as above.
template <typename T>
void l2_normalization_row(const T* x, T* y, int64_t D, int32_t zx) {
  int32_t acc = 0;
  for (int64_t k = 0; k < D; ++k) acc += (x[k] - zx) * (x[k] - zx);
  int32_t m = 0;
  int e = 0;
  inv_sqrt_quantized_multiplier_exp(acc, &m, &e);
  for (int64_t k = 0; k < D; ++k)
    y[k] = static_cast<T>(clamp(multiply_by_quantized_multiplier(x[k] - zx, m, e + 7), -128, 127));
}

}  // namespace tinyvit::rt::q
