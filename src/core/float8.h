// 8-bit floats (ONNX FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ) and the packed
// 4-bit integers (INT4, UINT4): conversion to and from float as the ONNX Cast-19/21 spec states.
//
// float -> float8 rounds to nearest even. `saturate` (Cast-19, QuantizeLinear-19):
//   true:  |x| beyond the largest finite value, infinities included, becomes +/- that value;
//   false: it becomes NaN (E4M3FN, the FNUZ types) or +/- inf (E5M2).
// NaN becomes NaN: 0x7F | sign for E4M3FN and E5M2, 0x80 for the FNUZ types. The FNUZ types have
// no negative zero: -0 (and negatives that round to zero) become 0.
//
// 4-bit integers are packed two per byte, element 2k in the low nibble of byte k.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>

#include "hone/tensor.h"

namespace hone {

enum class Float8Kind { kE4M3FN, kE4M3FNUZ, kE5M2, kE5M2FNUZ };

struct Float8Format {
  int man_bits;      // mantissa bits (3 or 2)
  int bias;          // exponent bias
  bool uz;           // no negative zero; NaN is 0x80
  bool has_inf;      // E5M2 only: 0x7C is inf
  uint8_t max_code;  // the largest finite value (without the sign bit)
  uint8_t nan_code;  // the NaN produced for a NaN input (without the sign bit for non-uz)
};

constexpr Float8Format Float8FormatOf(Float8Kind k) {
  switch (k) {
    case Float8Kind::kE4M3FN:
      return {3, 7, false, false, 0x7E, 0x7F};  // max 448
    case Float8Kind::kE4M3FNUZ:
      return {3, 8, true, false, 0x7F, 0x80};  // max 240
    case Float8Kind::kE5M2:
      return {2, 15, false, true, 0x7B, 0x7F};  // max 57344, inf 0x7C
    case Float8Kind::kE5M2FNUZ:
      return {2, 16, true, false, 0x7F, 0x80};  // max 57344
  }
  return {3, 7, false, false, 0x7E, 0x7F};
}

inline float Float8ToFloat(uint8_t v, Float8Kind k) {
  const Float8Format f = Float8FormatOf(k);
  const bool neg = (v & 0x80u) != 0;
  const uint8_t mag = v & 0x7Fu;
  if (f.uz) {
    if (v == 0x80u) return std::nanf("");
  } else if (f.has_inf) {
    if (mag == 0x7Cu) return neg ? -INFINITY : INFINITY;
    if (mag > 0x7Cu) return neg ? -std::nanf("") : std::nanf("");
  } else if (mag == 0x7Fu) {
    return neg ? -std::nanf("") : std::nanf("");
  }
  const int exp = mag >> f.man_bits;
  const int man = mag & ((1 << f.man_bits) - 1);
  // Subnormals (exp 0) are man * 2^(1 - bias - man_bits); normals (1.man) * 2^(exp - bias).
  float r =
      exp == 0 ? std::ldexp(static_cast<float>(man), 1 - f.bias - f.man_bits)
               : std::ldexp(static_cast<float>((1 << f.man_bits) | man), exp - f.bias - f.man_bits);
  return neg ? -r : r;
}

inline uint8_t FloatToFloat8(float x, Float8Kind k, bool saturate) {
  const Float8Format f = Float8FormatOf(k);
  const uint8_t sign = std::signbit(x) ? 0x80u : 0;
  const uint8_t overflow = saturate    ? static_cast<uint8_t>(sign | f.max_code)
                           : f.uz      ? uint8_t{0x80}
                           : f.has_inf ? static_cast<uint8_t>(sign | 0x7C)
                                       : static_cast<uint8_t>(sign | f.nan_code);
  if (std::isnan(x)) return f.uz ? f.nan_code : static_cast<uint8_t>(sign | f.nan_code);
  if (std::isinf(x)) return overflow;
  // Exact in double: scale |x| so that one unit in the last place of the target is 1, round to
  // nearest even (the default rounding mode), then assemble exponent and mantissa.
  const double a = std::fabs(static_cast<double>(x));
  if (a == 0) return f.uz ? 0 : sign;
  const int min_exp = 1 - f.bias;  // exponent of the smallest normal
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  e -= 1;             // a = 1.xxx * 2^e
  if (e < min_exp) e = min_exp;
  const double q = std::nearbyint(std::ldexp(a, f.man_bits - e));  // in [0, 2^(man_bits+1)]
  // q < 2^man_bits only in the subnormal range; the code arithmetic carries into the exponent.
  const int64_t code = (static_cast<int64_t>(e - min_exp) << f.man_bits) + static_cast<int64_t>(q);
  if (code == 0) return f.uz ? 0 : sign;
  if (code > f.max_code) return overflow;
  return static_cast<uint8_t>(sign | code);
}

// The float8 kind of a dtype, or nullopt for the other dtypes.
inline std::optional<Float8Kind> Float8KindOf(DataType d) {
  switch (d) {
    case DataType::kFloat8E4M3FN:
      return Float8Kind::kE4M3FN;
    case DataType::kFloat8E4M3FNUZ:
      return Float8Kind::kE4M3FNUZ;
    case DataType::kFloat8E5M2:
      return Float8Kind::kE5M2;
    case DataType::kFloat8E5M2FNUZ:
      return Float8Kind::kE5M2FNUZ;
    default:
      return std::nullopt;
  }
}
inline bool Is4BitInt(DataType d) { return d == DataType::kInt4 || d == DataType::kUInt4; }

// 4-bit integers: element i of a packed buffer, sign-extended for int4.
inline int8_t LoadInt4(const uint8_t* p, int64_t i, bool is_signed) {
  uint8_t nib = (p[i >> 1] >> ((i & 1) * 4)) & 0x0Fu;
  if (is_signed && (nib & 0x08u)) return static_cast<int8_t>(nib | 0xF0u);
  return static_cast<int8_t>(nib);
}
inline void StoreInt4(uint8_t* p, int64_t i, int v) {
  const int shift = static_cast<int>(i & 1) * 4;
  uint8_t& b = p[i >> 1];
  b = static_cast<uint8_t>((b & ~(0x0Fu << shift)) | ((static_cast<unsigned>(v) & 0x0Fu) << shift));
}

}  // namespace hone
