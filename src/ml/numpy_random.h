// NumPy's legacy RandomState stream (MT19937 seeded by an integer, as np.random.RandomState(s)),
// for the draws where hone reproduces scikit-learn's: RandomState(s) seeds MT19937 with the
// same recurrence as std::mt19937(s), random_sample() joins 27 + 26 bits of two draws, and
// shuffle() is Fisher-Yates from the end with masked rejection sampling.
//
//   ml::NumpyRandom rng(0);                   // RandomState(0)
//   double u = rng.Uniform(-0.1, 0.1);        // RandomState(0).uniform(-0.1, 0.1)
//   rng.Shuffle(order);                       // RandomState.shuffle on a 1-D array
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace hone::ml {

class NumpyRandom {
 public:
  explicit NumpyRandom(uint32_t seed) : mt_(seed) {}

  uint32_t Next32() { return static_cast<uint32_t>(mt_()); }
  // [0, 1) with 53 random bits.
  double Sample() {
    const uint64_t a = Next32() >> 5, b = Next32() >> 6;
    return (static_cast<double>(a) * 67108864.0 + static_cast<double>(b)) / 9007199254740992.0;
  }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Sample(); }
  // Uniform on [0, max]: the smallest all-ones mask >= max, redrawn until <= max.
  uint64_t Interval(uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = max;
    for (int s = 1; s < 64; s <<= 1) mask |= mask >> s;
    uint64_t v;
    if (max <= 0xffffffffu) {
      do v = Next32() & mask;
      while (v > max);
    } else {
      do v = ((static_cast<uint64_t>(Next32()) << 32) | Next32()) & mask;
      while (v > max);
    }
    return v;
  }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i-- > 1;) std::swap(v[i], v[Interval(i)]);
  }

 private:
  std::mt19937 mt_;
};

}  // namespace hone::ml
