// core/float8.h: float8 encode/decode against the ONNX Cast-19 tables and a brute-force
// nearest-even oracle; 4-bit packing.
#include "core/float8.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <utility>
#include <vector>

namespace hone {
namespace {

constexpr Float8Kind kKinds[] = {Float8Kind::kE4M3FN, Float8Kind::kE4M3FNUZ, Float8Kind::kE5M2,
                                 Float8Kind::kE5M2FNUZ};

TEST(Float8, DecodesLimitsAndSpecials) {
  EXPECT_EQ(Float8ToFloat(0x7E, Float8Kind::kE4M3FN), 448.0f);
  EXPECT_EQ(Float8ToFloat(0x01, Float8Kind::kE4M3FN), 0.001953125f);  // 2^-9
  EXPECT_TRUE(std::isnan(Float8ToFloat(0x7F, Float8Kind::kE4M3FN)));
  EXPECT_TRUE(std::isnan(Float8ToFloat(0xFF, Float8Kind::kE4M3FN)));
  EXPECT_EQ(Float8ToFloat(0x7F, Float8Kind::kE4M3FNUZ), 240.0f);
  EXPECT_EQ(Float8ToFloat(0x01, Float8Kind::kE4M3FNUZ), 0.0009765625f);  // 2^-10
  EXPECT_TRUE(std::isnan(Float8ToFloat(0x80, Float8Kind::kE4M3FNUZ)));
  EXPECT_EQ(Float8ToFloat(0x7B, Float8Kind::kE5M2), 57344.0f);
  EXPECT_EQ(Float8ToFloat(0x7C, Float8Kind::kE5M2), INFINITY);
  EXPECT_EQ(Float8ToFloat(0xFC, Float8Kind::kE5M2), -INFINITY);
  EXPECT_TRUE(std::isnan(Float8ToFloat(0x7D, Float8Kind::kE5M2)));
  EXPECT_EQ(Float8ToFloat(0x7F, Float8Kind::kE5M2FNUZ), 57344.0f);
  EXPECT_TRUE(std::isnan(Float8ToFloat(0x80, Float8Kind::kE5M2FNUZ)));
}

TEST(Float8, SaturateAndSpecialsFollowTheCastTables) {
  const float inf = INFINITY, nan = std::nanf("");
  // saturate=1: out of range and +/-inf clamp to +/-max.
  EXPECT_EQ(FloatToFloat8(1e6f, Float8Kind::kE4M3FN, true), 0x7E);
  EXPECT_EQ(FloatToFloat8(-inf, Float8Kind::kE4M3FN, true), 0xFE);
  EXPECT_EQ(FloatToFloat8(inf, Float8Kind::kE4M3FNUZ, true), 0x7F);
  EXPECT_EQ(FloatToFloat8(inf, Float8Kind::kE5M2, true), 0x7B);
  EXPECT_EQ(FloatToFloat8(-1e6f, Float8Kind::kE5M2FNUZ, true), 0xFF);
  // saturate=0: NaN, or inf for E5M2.
  EXPECT_EQ(FloatToFloat8(1e6f, Float8Kind::kE4M3FN, false), 0x7F);
  EXPECT_EQ(FloatToFloat8(-inf, Float8Kind::kE4M3FN, false), 0xFF);
  EXPECT_EQ(FloatToFloat8(1e6f, Float8Kind::kE4M3FNUZ, false), 0x80);
  EXPECT_EQ(FloatToFloat8(-1e6f, Float8Kind::kE5M2, false), 0xFC);
  EXPECT_EQ(FloatToFloat8(inf, Float8Kind::kE5M2FNUZ, false), 0x80);
  // NaN and negative zero.
  EXPECT_EQ(FloatToFloat8(nan, Float8Kind::kE4M3FN, true), 0x7F);
  EXPECT_EQ(FloatToFloat8(nan, Float8Kind::kE5M2, true), 0x7F);
  EXPECT_EQ(FloatToFloat8(nan, Float8Kind::kE4M3FNUZ, true), 0x80);
  EXPECT_EQ(FloatToFloat8(-0.0f, Float8Kind::kE4M3FN, true), 0x80);
  EXPECT_EQ(FloatToFloat8(-0.0f, Float8Kind::kE5M2FNUZ, true), 0x00);
  EXPECT_EQ(FloatToFloat8(-1e-9f, Float8Kind::kE4M3FNUZ, true), 0x00);
  EXPECT_EQ(FloatToFloat8(0.0f, Float8Kind::kE5M2, false), 0x00);
}

TEST(Float8, FiniteCodesRoundTrip) {
  for (Float8Kind k : kKinds) {
    for (int c = 0; c < 256; ++c) {
      const float v = Float8ToFloat(static_cast<uint8_t>(c), k);
      if (std::isnan(v) || std::isinf(v)) continue;
      EXPECT_EQ(FloatToFloat8(v, k, true), c) << "kind " << static_cast<int>(k) << " code " << c;
    }
  }
}

// Every float rounds to the nearest finite value, ties to the even code; beyond max + half an
// ulp (or at it when max's code is odd) it overflows.
TEST(Float8, RoundsToNearestEvenLikeABruteForceOracle) {
  for (Float8Kind k : kKinds) {
    const Float8Format f = Float8FormatOf(k);
    std::vector<std::pair<double, int>> table;
    for (int c = 0; c <= f.max_code; ++c)
      table.push_back({Float8ToFloat(static_cast<uint8_t>(c), k), c});
    const double max = table.back().first;
    const double half_ulp = (max - table[table.size() - 2].first) / 2;
    std::mt19937 rng(static_cast<unsigned>(k));
    std::uniform_real_distribution<double> dist(-1.2 * max, 1.2 * max);
    for (int it = 0; it < 100000; ++it) {
      float x = static_cast<float>(dist(rng));
      if (it % 2) x = std::ldexp(x, -static_cast<int>(rng() % 24));
      const double a = std::fabs(static_cast<double>(x));
      int best = 0;
      double best_d = INFINITY;
      for (const auto& [v, c] : table) {
        const double d = std::fabs(v - a);
        if (d < best_d || (d == best_d && (c & 1) == 0)) {
          best_d = d;
          best = c;
        }
      }
      const bool over = a > max + half_ulp || (a == max + half_ulp && (f.max_code & 1));
      const uint8_t sign = std::signbit(x) ? 0x80 : 0;
      const uint8_t want = over ? sign | f.max_code : (best == 0 && f.uz) ? 0 : sign | best;
      ASSERT_EQ(FloatToFloat8(x, k, true), want) << "kind " << static_cast<int>(k) << " x " << x;
    }
  }
}

TEST(Int4, PacksLowNibbleFirstAndSignExtends) {
  uint8_t buf[2] = {0, 0};
  StoreInt4(buf, 0, -8);
  StoreInt4(buf, 1, 7);
  StoreInt4(buf, 2, -1);
  EXPECT_EQ(buf[0], 0x78);
  EXPECT_EQ(buf[1], 0x0F);
  EXPECT_EQ(LoadInt4(buf, 0, true), -8);
  EXPECT_EQ(LoadInt4(buf, 1, true), 7);
  EXPECT_EQ(LoadInt4(buf, 2, true), -1);
  EXPECT_EQ(LoadInt4(buf, 2, false), 15);
  StoreInt4(buf, 1, 0);  // overwrites only its nibble
  EXPECT_EQ(buf[0], 0x08);
}

}  // namespace
}  // namespace hone
