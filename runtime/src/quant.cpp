#include "quant.h"

#include <cmath>

namespace tinyvit::rt::q {

void quantize_multiplier(double m, int32_t* multiplier, int* shift) {
  if (m == 0.0 || !std::isfinite(m)) {
    *multiplier = 0;
    *shift = 0;
    return;
  }
  int e = 0;
  const double frac = std::frexp(m, &e);  // m = frac * 2^e, frac in [0.5, 1)
  int64_t qf = static_cast<int64_t>(std::round(frac * static_cast<double>(int64_t{1} << 31)));
  if (qf == (int64_t{1} << 31)) {
    qf /= 2;
    ++e;
  }
  if (e < -31) {
    e = 0;
    qf = 0;
  }
  if (e > 30) {  // newer TFLite clamps huge multipliers
    e = 30;
    qf = (int64_t{1} << 31) - 1;
  }
  *multiplier = static_cast<int32_t>(qf);
  *shift = e;
}

int32_t round_to_int(float v) {
  const float r = std::round(v);
  if (!(r > -2147483520.f)) return INT32_MIN;  // also NaN
  if (r > 2147483520.f) return INT32_MAX;
  return static_cast<int32_t>(r);
}

namespace {

// gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl: a in Q0.31, [-1/4, 0).
// Taylor expansion around -1/8: exp(-1/8) (1 + x + x^2/2 + x^3/6 + x^4/24), x = a + 1/8.
int32_t exp_on_interval_between_negative_one_quarter_and_0(int32_t a) {
  constexpr int32_t kExpMinusOneEighth = 1895147668;  // exp(-1/8) in Q0.31
  constexpr int32_t kOneThird = 715827883;             // 1/3 in Q0.31
  const int32_t x = a + (1 << 28);                     // + 1/8
  const int32_t x2 = saturating_rounding_doubling_high_mul(x, x);
  const int32_t x3 = saturating_rounding_doubling_high_mul(x2, x);
  const int32_t x4 = saturating_rounding_doubling_high_mul(x2, x2);
  const int32_t x4_over_4 = rounding_divide_by_pot(x4, 2);
  const int32_t poly = rounding_divide_by_pot(
      saturating_rounding_doubling_high_mul(x4_over_4 + x3, kOneThird) + x2, 1);
  return kExpMinusOneEighth + saturating_rounding_doubling_high_mul(kExpMinusOneEighth, x + poly);
}

}  // namespace

int32_t exp_on_negative_values_q5(int32_t a) {
  constexpr int kFractionalBits = 26;  // Q5.26
  constexpr int32_t kOneQuarter = 1 << (kFractionalBits - 2);
  const int32_t a_mod_quarter_minus_one_quarter = (a & (kOneQuarter - 1)) - kOneQuarter;
  // Rescale<0>: Q5.26 -> Q0.31 (x 2^5, saturating; the value is in [-1/4, 0) so it fits).
  int32_t result = exp_on_interval_between_negative_one_quarter_and_0(
      saturating_left_shift(a_mod_quarter_minus_one_quarter, 5));
  const int32_t remainder =
      static_cast<int32_t>(static_cast<int64_t>(a_mod_quarter_minus_one_quarter) - a);
  // Barrel shifter: multiply by exp(-2^k) for every bit k of the remainder (k = -2 .. 4).
  static constexpr int32_t kExpMinusPow2[7] = {1672461947, 1302514674, 790015084, 290630308,
                                               39332535,   720401,     242};
  for (int k = -2; k <= 4; ++k)
    if (remainder & (1 << (kFractionalBits + k)))
      result = saturating_rounding_doubling_high_mul(result, kExpMinusPow2[k + 2]);
  // (kIntegerBits = 5 is not > 5: gemmlowp's clamp to 0 below -32 does not apply.)
  return a == 0 ? INT32_MAX : result;
}

int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t half_denominator = rounding_half_sum(a, INT32_MAX);  // Q0.31
  constexpr int32_t k48Over17 = 1515870810;       // Q2.29
  constexpr int32_t kMinus32Over17 = -1010580540;  // Q2.29
  int32_t x = k48Over17 + saturating_rounding_doubling_high_mul(half_denominator, kMinus32Over17);
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x);
    const int32_t one_minus = (1 << 29) - half_denominator_times_x;  // Q2.29
    // x * one_minus is Q4.27; Rescale<2> -> Q2.29.
    x = x + saturating_left_shift(saturating_rounding_doubling_high_mul(x, one_minus), 2);
  }
  // ExactMulByPot<-1> (Q2.29 -> Q1.30, same raw), then Rescale<0> (x 2^1, saturating).
  return saturating_left_shift(x, 1);
}

int32_t get_reciprocal(int32_t x, int integer_digits, int* num_bits_over_unit) {
  const int headroom_plus_one = __builtin_clz(static_cast<uint32_t>(x));
  *num_bits_over_unit = integer_digits - headroom_plus_one;
  const int32_t shifted_sum_minus_one = static_cast<int32_t>(
      (static_cast<uint32_t>(x) << headroom_plus_one) - (static_cast<uint32_t>(1) << 31));
  return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}

void inv_sqrt_quantized_multiplier_exp(int32_t input, int32_t* multiplier, int* shift) {
  if (input <= 1) {
    *multiplier = INT32_MAX;
    *shift = 0;
    return;
  }
  int s = 11;
  while (input >= (1 << 29)) {
    input /= 4;
    ++s;
  }
  const int max_left_shift_bits = __builtin_clz(static_cast<uint32_t>(input)) - 1;
  const int left_shift_bit_pairs = max_left_shift_bits / 2 - 1;
  s -= left_shift_bit_pairs;
  input <<= 2 * left_shift_bit_pairs;  // now in [2^27, 2^29)
  // Q3.28 Newton-Raphson for 1/sqrt: x <- 3/2 x - (input/2) x^3, from x = 1.
  const int32_t fixedpoint_input = input >> 1;
  const int32_t half_input = rounding_divide_by_pot(fixedpoint_input, 1);
  constexpr int32_t kHalfThree = (1 << 28) + (1 << 27);  // 1.5 in Q3.28
  int32_t x = 1 << 28;                     // 1.0 in Q3.28
  for (int i = 0; i < 5; ++i) {
    // x*x*x is Q9.22; Rescale<3> -> x 2^6.
    const int32_t x3 = saturating_left_shift(
        saturating_rounding_doubling_high_mul(saturating_rounding_doubling_high_mul(x, x), x), 6);
    // Q6.25 difference; Rescale<3> -> x 2^3.
    x = saturating_left_shift(saturating_rounding_doubling_high_mul(kHalfThree, x) -
                                  saturating_rounding_doubling_high_mul(half_input, x3),
                              3);
  }
  constexpr int32_t kHalfSqrt2 = 1518500250;  // sqrt(2)/2 in Q0.31
  x = saturating_rounding_doubling_high_mul(x, kHalfSqrt2);
  if (s < 0) {
    x = static_cast<int32_t>(static_cast<uint32_t>(x) << -s);
    s = 0;
  }
  *multiplier = x;
  *shift = -s;  // reverse_shift = -1: a right shift becomes a negative (left-positive) shift
}


bool xnn_add_params(float ra, float rb, int32_t* ma, int32_t* mb, int* shift) {
  const float abs_a = std::fabs(ra), abs_b = std::fabs(rb);
  auto in_range = [](float r) { return r >= 1.f / 1024 && r < 256.f; };
  if (!in_range(abs_a) || !in_range(abs_b)) return false;
  *shift = 20 - std::ilogb(abs_a > abs_b ? abs_a : abs_b);  // 13 .. 30
  const int32_t abs_ma = static_cast<int32_t>(std::lrint(std::ldexp(abs_a, *shift)));
  const int32_t abs_mb = static_cast<int32_t>(std::lrint(std::ldexp(abs_b, *shift)));
  *ma = std::signbit(ra) ? -abs_ma : abs_ma;
  *mb = std::signbit(rb) ? -abs_mb : abs_mb;
  return true;
}

void xnn_mean_params(float sx, int32_t zx, float sy, int32_t zy, int32_t n, float* inv, float* zy_folded) {
  *inv = (sx / sy) * (1.f / static_cast<float>(n));
  *zy_folded = static_cast<float>(zy) - static_cast<float>(n * zx) * *inv;
}

void softmax_float_table(float sx, float beta, float table[256]) {
  const float k = -sx * beta;
  for (int d = 0; d < 256; ++d) table[d] = std::exp(k * static_cast<float>(d));
}

}  // namespace tinyvit::rt::q
