// Accuracy of simd.h's vectorisable math against the C library (the bounds simd.h promises),
// on a dense grid and at special values. The vector paths are checked through the kernels that
// use them (cpu_kernels_test.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/cpu/simd.h"

namespace hone::cpu {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(CpuSimd, ExpWithinTwoUlp) {
  double worst = 0;
  for (double v = -87.3; v <= 88.72; v += 1e-4) {
    const float x = static_cast<float>(v);
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(ExpF(x) - want) / want);
  }
  EXPECT_LT(worst, 2 * 5.97e-8);  // 2 ulp of float (2^-24 relative each)
  EXPECT_EQ(ExpF(0.0f), 1.0f);
  EXPECT_EQ(ExpF(-kInf), 0.0f);
  EXPECT_EQ(ExpF(-100.0f), 0.0f);
  EXPECT_EQ(ExpF(kInf), kInf);
  EXPECT_EQ(ExpF(100.0f), kInf);
  EXPECT_TRUE(std::isnan(ExpF(std::nanf(""))));
}

TEST(CpuSimd, ErfWithinFiveTenthsOfAMillionth) {
  double worst = 0;
  for (double v = -8.0; v <= 8.0; v += 1e-5) {
    const float x = static_cast<float>(v);
    worst = std::max(worst, std::fabs(ErfF(x) - std::erf(static_cast<double>(x))));
  }
  EXPECT_LT(worst, 5e-7);
  EXPECT_EQ(ErfF(0.0f), 0.0f);
  EXPECT_EQ(ErfF(kInf), 1.0f);
  EXPECT_EQ(ErfF(-kInf), -1.0f);
  EXPECT_TRUE(std::isnan(ErfF(std::nanf(""))));
}

TEST(CpuSimd, TanhAndSigmoidWithinTwoTenthsOfAMillionth) {
  double worst_tanh = 0, worst_tanh_rel = 0, worst_sigmoid = 0;
  for (double v = -20.0; v <= 20.0; v += 1e-5) {
    const float x = static_cast<float>(v);
    const double t = std::tanh(static_cast<double>(x));
    worst_tanh = std::max(worst_tanh, std::fabs(TanhF(x) - t));
    if (t != 0) worst_tanh_rel = std::max(worst_tanh_rel, std::fabs(TanhF(x) - t) / std::fabs(t));
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(x)));
    worst_sigmoid = std::max(worst_sigmoid, std::fabs(SigmoidF(x) - s));
  }
  EXPECT_LT(worst_tanh, 2e-7);
  EXPECT_LT(worst_tanh_rel, 1e-5);  // no cancellation near 0
  EXPECT_LT(worst_sigmoid, 2e-7);
  EXPECT_EQ(TanhF(kInf), 1.0f);
  EXPECT_EQ(TanhF(-kInf), -1.0f);
  EXPECT_EQ(SigmoidF(-kInf), 0.0f);
  EXPECT_EQ(SigmoidF(kInf), 1.0f);
  EXPECT_TRUE(std::isnan(TanhF(std::nanf(""))));
}

TEST(CpuSimd, RowReductions) {
  std::vector<float> v(37);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 7) - 2.5f;
  v[20] = 9.0f;
  for (int64_t n : {1, 15, 16, 17, 37}) {
    double sum = 0;
    float mx = v[0];
    for (int64_t i = 0; i < n; ++i) {
      sum += v[static_cast<size_t>(i)];
      mx = std::max(mx, v[static_cast<size_t>(i)]);
    }
    EXPECT_FLOAT_EQ(SumRow(v.data(), n), static_cast<float>(sum)) << n;
    EXPECT_EQ(MaxRow(v.data(), n), mx) << n;
  }
}

}  // namespace
}  // namespace hone::cpu
