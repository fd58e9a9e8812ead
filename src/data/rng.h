#pragma once
// Portable, seedable random numbers for the data pipeline. std::mt19937_64 is specified
// bit-exactly by the standard, but the std:: distributions are not, so every draw below is
// computed here: the same seed gives the same numbers with every compiler and library.
#include <cmath>
#include <cstdint>
#include <random>

namespace tinyvit::data {

// splitmix64 finalizer: mixes several integers into one well-spread seed.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
inline uint64_t derive_seed(uint64_t a, uint64_t b) { return mix64(mix64(a) ^ (b + 0x632be59bd9b4e019ULL)); }
inline uint64_t derive_seed(uint64_t a, uint64_t b, uint64_t c) { return derive_seed(derive_seed(a, b), c); }
inline uint64_t derive_seed(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  return derive_seed(derive_seed(a, b, c), d);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : eng_(seed) {}
  uint64_t next_u64() { return eng_(); }
  // Uniform integer in [0, n), unbiased (rejection sampling). n must be > 0.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do { x = eng_(); } while (x >= limit);
    return x % n;
  }
  // Uniform integer in [lo, hi] (inclusive).
  int64_t range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(uint64_t(hi - lo) + 1)); }
  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return double(eng_() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  bool bernoulli(double p) { return uniform() < p; }
  // Standard normal (Box-Muller, no cached second value to keep the stream simple).
  double normal() {
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Gamma(shape, 1) by Marsaglia-Tsang; shape < 1 via the boost u^(1/shape).
  double gamma(double shape) {
    if (shape < 1.0) {
      double u = uniform();
      while (u <= 0.0) u = uniform();
      return gamma(shape + 1.0) * std::pow(u, 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }
  double beta(double a, double b) {
    const double x = gamma(a), y = gamma(b);
    return (x + y) > 0 ? x / (x + y) : 0.5;
  }
  // Fisher-Yates shuffle (portable, unlike std::shuffle).
  template <class T>
  void shuffle(T* data, int64_t n) {
    for (int64_t i = n - 1; i > 0; --i) {
      const int64_t j = static_cast<int64_t>(below(uint64_t(i) + 1));
      std::swap(data[i], data[j]);
    }
  }

 private:
  std::mt19937_64 eng_;
};

}  // namespace tinyvit::data
