// NumPy's legacy RandomState (MT19937 seeded like np.random.seed(int)) for the random and
// dropout reference kernels, so that seeded nodes reproduce the ONNX reference's draws.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

namespace hone::ref {

class LegacyRandomState {
 public:
  explicit LegacyRandomState(uint32_t seed) : mt_(seed) {}

  // random_sample(): 53-bit double in [0, 1).
  double NextDouble() {
    const uint32_t a = static_cast<uint32_t>(mt_()) >> 5, b = static_cast<uint32_t>(mt_()) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

  // legacy_gauss: polar Box-Muller, caching the second value.
  double Gauss() {
    if (has_gauss_) {
      has_gauss_ = false;
      return gauss_;
    }
    double x1, x2, r2;
    do {
      x1 = 2.0 * NextDouble() - 1.0;
      x2 = 2.0 * NextDouble() - 1.0;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = std::sqrt(-2.0 * std::log(r2) / r2);
    gauss_ = f * x1;
    has_gauss_ = true;
    return f * x2;
  }

  // random_binomial for n = 1 (binomial(1, p)), p in [0, 1]: inversion as numpy does it.
  int64_t Bernoulli(double p) {
    if (p == 0.0) return 0;
    if (p <= 0.5) return Inversion(p);
    return 1 - Inversion(1.0 - p);
  }

 private:
  int64_t Inversion(double p) {
    constexpr int64_t n = 1;
    const double q = 1.0 - p;
    const double qn = std::exp(static_cast<double>(n) * std::log(q));
    const double np = static_cast<double>(n) * p;
    const int64_t bound =
        std::min<int64_t>(n, static_cast<int64_t>(np + 10.0 * std::sqrt(np * q + 1)));
    int64_t x = 0;
    double px = qn;
    double u = NextDouble();
    while (u > px) {
      ++x;
      if (x > bound) {
        x = 0;
        px = qn;
        u = NextDouble();
      } else {
        u -= px;
        px = (static_cast<double>(n - x + 1) * p * px) / (static_cast<double>(x) * q);
      }
    }
    return x;
  }

  std::mt19937 mt_;
  bool has_gauss_ = false;
  double gauss_ = 0;
};

}  // namespace hone::ref
