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

}  // namespace tinyvit::rt::q
