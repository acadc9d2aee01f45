// Shared helpers for the reference kernels: dtype dispatch, broadcasting, axis handling.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "core/errors.h"
#include "core/half.h"
#include "kernels/kernel.h"

namespace hone::ref {

// The arithmetic type used for a storage type: float for the 16-bit floats.
template <typename T>
struct ComputeType {
  using type = T;
};
template <>
struct ComputeType<Half> {
  using type = float;
};
template <>
struct ComputeType<BFloat16> {
  using type = float;
};
template <typename T>
using Acc = typename ComputeType<T>::type;

template <typename T>
constexpr bool kIsFloat =
    std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// Calls f.template operator()<T>() for the C++ type of `d`, or returns NotSupported.
// Groups: Float = f32 f64 f16 bf16; Int = all integer types; Numeric = Float + Int;
// All = Numeric + bool (+ string with VisitAllWithString).
#define HONE_CASE_(code, T) \
  case DataType::code:      \
    return f.template operator()<T>();

#define HONE_FLOAT_CASES_      \
  HONE_CASE_(kFloat32, float)  \
  HONE_CASE_(kFloat64, double) \
  HONE_CASE_(kFloat16, Half)   \
  HONE_CASE_(kBFloat16, BFloat16)

#define HONE_INT_CASES_         \
  HONE_CASE_(kInt8, int8_t)     \
  HONE_CASE_(kInt16, int16_t)   \
  HONE_CASE_(kInt32, int32_t)   \
  HONE_CASE_(kInt64, int64_t)   \
  HONE_CASE_(kUInt8, uint8_t)   \
  HONE_CASE_(kUInt16, uint16_t) \
  HONE_CASE_(kUInt32, uint32_t) \
  HONE_CASE_(kUInt64, uint64_t)

inline Status UnsupportedDtype(const Node& node, DataType d) {
  return NotSupported("{}: data type {} is not supported", node.Describe(), DataTypeName(d));
}

template <typename F>
Status VisitFloat(const Node& node, DataType d, F&& f) {
  switch (d) {
    HONE_FLOAT_CASES_
    default:
      return UnsupportedDtype(node, d);
  }
}
template <typename F>
Status VisitInt(const Node& node, DataType d, F&& f) {
  switch (d) {
    HONE_INT_CASES_
    default:
      return UnsupportedDtype(node, d);
  }
}
template <typename F>
Status VisitNumeric(const Node& node, DataType d, F&& f) {
  switch (d) {
    HONE_FLOAT_CASES_
    HONE_INT_CASES_
    default:
      return UnsupportedDtype(node, d);
  }
}
template <typename F>
Status VisitAll(const Node& node, DataType d, F&& f) {
  switch (d) {
    HONE_FLOAT_CASES_
    HONE_INT_CASES_
    HONE_CASE_(kBool, bool)
    default:
      return UnsupportedDtype(node, d);
  }
}
template <typename F>
Status VisitAllWithString(const Node& node, DataType d, F&& f) {
  switch (d) {
    HONE_FLOAT_CASES_
    HONE_INT_CASES_
    HONE_CASE_(kBool, bool)
    HONE_CASE_(kString, std::string)
    default:
      return UnsupportedDtype(node, d);
  }
}

// Copies elements of any dtype by their byte size (used by data-movement ops).
// Returns the element size in bytes; strings need the typed path.
inline size_t ElemSize(DataType d) { return DataTypeSize(d); }

// Normalises a possibly negative axis against `rank`; error names the node.
inline StatusOr<int64_t> NormalizeAxis(const Node& node, int64_t axis, int64_t rank,
                                       const char* what = "axis") {
  if (axis < -rank || axis >= rank)
    return InvalidArgument("{}: {} {} is out of range for rank {}", node.Describe(), what, axis,
                           rank);
  return axis < 0 ? axis + rank : axis;
}

// Numpy-style multidirectional broadcast of two shapes.
StatusOr<Shape> BroadcastShapes(const Node& node, const Shape& a, const Shape& b);

// Element strides of `in` broadcast to `out` (0 on broadcast dims); `in` right-aligned.
Shape BroadcastStrides(const Shape& in, const Shape& out);

// C-order strides of a shape.
Shape Strides(const Shape& shape);

// Reads the int64 values of a 1-D (or scalar) tensor of int32/int64 (shapes, axes, indices).
StatusOr<Shape> ToInt64Vector(const Node& node, const Tensor& t, const char* what);

// Reads a scalar (or 1-element tensor) as double.
StatusOr<double> ToScalar(const Node& node, const Tensor& t, const char* what);

// Calls f.template operator()<T>() with an unsigned integer type of the element's byte size, or
// std::string for strings: data movement does not need the element's arithmetic type.
template <typename F>
Status VisitBySize(const Node& node, DataType d, F&& f) {
  if (d == DataType::kString) return f.template operator()<std::string>();
  switch (DataTypeSize(d)) {
    case 1:
      return f.template operator()<uint8_t>();
    case 2:
      return f.template operator()<uint16_t>();
    case 4:
      return f.template operator()<uint32_t>();
    case 8:
      return f.template operator()<uint64_t>();
    default:
      return UnsupportedDtype(node, d);
  }
}

// Element count of a shape, or -1 when a dimension is negative or the product overflows.
int64_t CheckedShapeSize(const Shape& shape);

// Product of s[begin, end) (clipped to s.size()).
int64_t Product(const Shape& s, size_t begin, size_t end);

// Floor division (rounds towards negative infinity), b != 0.
int64_t FloorDiv(int64_t a, int64_t b);

// Reads a tensor of any float dtype into doubles / writes doubles into one.
Status ReadDoubles(const ComputeContext& ctx, const Tensor& t, std::vector<double>& out);
Status WriteFloats(const ComputeContext& ctx, const std::vector<double>& v, Tensor& out);

// Copies a whole tensor to another (same dtype and element count), strings included.
void CopyElements(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset,
                  int64_t count);

}  // namespace hone::ref
