// Vectorised float32 loops for the own CPU kernels (kernels/cpu/*.cc that do not use oneDNN).
//
// The kernels write plain loops that GCC and Clang auto-vectorise at -O3, and run them through
// Vectorized(), which compiles the loop three times (AVX-512, AVX2+FMA, baseline x86-64) and picks
// one by the CPU at run time, so the build works on any x86-64:
//
//   Vectorized([&] { for (int64_t i = 0; i < n; ++i) dst[i] = ExpF(src[i]); });
//
// The math helpers below are branch-free (selects, not branches) so that such loops vectorise.
// Their accuracy against the C library: ExpF within 2 ulp; ErfF within 5e-7 absolute; TanhF and
// SigmoidF within 2e-7 absolute (tests/unit/cpu_simd_test.cc).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>

namespace hone::cpu {

enum class CpuIsa { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

// What this CPU (and OS) supports, detected once: kAvx512 needs AVX-512 F/BW/DQ/VL, kAvx2 needs
// AVX2 and FMA.
CpuIsa DetectedIsa();
// The ISA Vectorized() uses: the detected one, capped by SetMaxCpuIsa.
CpuIsa ActiveIsa();
// Caps the ISA for the rest of the process (like oneDNN's dnnl_set_max_cpu_isa); the tests use
// it to run every compiled path. Safe to call while kernels run.
void SetMaxCpuIsa(CpuIsa isa);
const char* CpuIsaName(CpuIsa isa);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HONE_SIMD_DISPATCH 1
// `flatten` inlines everything fn calls, so the whole loop nest is compiled for the target.
template <typename Fn>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,bmi,bmi2,f16c,popcnt"),
               flatten)) void
RunAvx512(const Fn& fn) {
  fn();
}
template <typename Fn>
__attribute__((target("avx2,fma,bmi,bmi2,f16c,popcnt"), flatten)) void RunAvx2(const Fn& fn) {
  fn();
}
#endif

// Runs fn() compiled for the active ISA. fn should be a lambda whose loops do not call opaque
// functions (thread pools, allocation): only what is inlined gets the wider instructions.
template <typename Fn>
void Vectorized(const Fn& fn) {
#ifdef HONE_SIMD_DISPATCH
  switch (ActiveIsa()) {
    case CpuIsa::kAvx512:
      RunAvx512(fn);
      return;
    case CpuIsa::kAvx2:
      RunAvx2(fn);
      return;
    case CpuIsa::kBaseline:
      break;
  }
#endif
  fn();
}

// Lanes of the partial sums in the row reductions: one AVX-512 register, two AVX2 ones.
inline constexpr int kLanes = 16;

// e^x. Cody-Waite range reduction and a degree-6 polynomial (Cephes expf); 0 below the float
// range, +inf above it, NaN for NaN.
inline float ExpF(float x) {
  constexpr float kHi = 88.72283f, kLo = -87.33654f;
  const float xc = std::min(std::max(x, kLo), kHi);  // x first: NaN stays NaN
  // Round x*log2(e) to the nearest integer: adding 1.5 * 2^23 pushes the fraction out.
  constexpr float kRound = 12582912.0f;
  const float r = (xc * 1.44269504088896341f + kRound) - kRound;
  float f = xc - r * 0.693145751953125f;
  f = f - r * 1.428606765330187e-06f;
  float p = 1.9875691500e-4f;
  p = p * f + 1.3981999507e-3f;
  p = p * f + 8.3334519073e-3f;
  p = p * f + 4.1665795894e-2f;
  p = p * f + 1.6666665459e-1f;
  p = p * f + 5.0000001201e-1f;
  p = p * f * f + f + 1.0f;
  // p * 2^r in two steps: 2^128 (r at the top of the range) is not a float. A NaN r (from a NaN
  // x, which p already carries) must not reach the int conversion, where it is undefined.
  const int32_t e = static_cast<int32_t>(r == r ? r : 0.0f);
  const int32_t half = e >> 1;
  float y = p * std::bit_cast<float>((half + 127) << 23);
  y = y * std::bit_cast<float>((e - half + 127) << 23);
  y = x < kLo ? 0.0f : y;
  y = x > kHi ? std::numeric_limits<float>::infinity() : y;
  return y;
}

// erf(x): a rational approximation on [-4, 4] (Eigen's generic_fast_erf_float); outside that
// range erf is +-1 in float.
inline float ErfF(float a) {
  const float x = std::min(std::max(a, -4.0f), 4.0f);
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return x * p / q;
}

// tanh(x): its Taylor series below |x| = 0.25, 1 - 2 / (e^2|x| + 1) above, with x's sign.
inline float TanhF(float x) {
  const float ax = std::max(x, -x);
  const float big = 1.0f - 2.0f / (ExpF(2.0f * ax) + 1.0f);
  const float x2 = x * x;
  float s = x2 * (62.0f / 2835.0f) + (-17.0f / 315.0f);
  s = x2 * s + (2.0f / 15.0f);
  s = x2 * s + (-1.0f / 3.0f);
  const float small = x + x * x2 * s;
  const float signed_big = x < 0.0f ? -big : big;
  return ax < 0.25f ? small : signed_big;
}

// 1 / (1 + e^-x).
inline float SigmoidF(float x) { return 1.0f / (1.0f + ExpF(-x)); }

// Sum of src[0, n), accumulated in kLanes partial sums.
inline float SumRow(const float* src, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += src[i + j];
  float s = 0.0f;
  for (; i < n; ++i) s += src[i];
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return s;
}

// Max of src[0, n), n >= 1. NaN is not propagated (as the reference Softmax's running max).
inline float MaxRow(const float* src, int64_t n) {
  float acc[kLanes];
  for (int j = 0; j < kLanes; ++j) acc[j] = src[0];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] = src[i + j] > acc[j] ? src[i + j] : acc[j];
  float m = src[0];
  for (; i < n; ++i) m = src[i] > m ? src[i] : m;
  for (int j = 0; j < kLanes; ++j) m = acc[j] > m ? acc[j] : m;
  return m;
}

}  // namespace hone::cpu
