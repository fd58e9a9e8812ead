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
// XNNPACK (LiteRT.js's int8 path for most ops) instead multiplies in float and rounds once
// (ties to even), so it can differ by one step from these on rare inputs.
#include <cstdint>

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

inline int32_t clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// TFLite's round(): half away from zero (std::round), for float -> int8 quantization.
int32_t round_to_int(float v);
// QUANTIZE (float -> int8): clamp(round(v / scale) + zp, -128, 127).
inline int8_t quantize(float v, float scale, int32_t zp) {
  return static_cast<int8_t>(clamp(round_to_int(v / scale) + zp, -128, 127));
}

}  // namespace tinyvit::rt::q
