#include "kernels/ref/common.h"

#include <cstring>

namespace hone::ref {

StatusOr<Shape> BroadcastShapes(const Node& node, const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      return InvalidArgument("{}: shapes {} and {} cannot be broadcast (dimension {}: {} vs {})",
                             node.Describe(), ShapeToString(a), ShapeToString(b), i, da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape Strides(const Shape& shape) {
  Shape s(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    s[static_cast<size_t>(i)] = s[static_cast<size_t>(i) + 1] * shape[static_cast<size_t>(i) + 1];
  return s;
}

Shape BroadcastStrides(const Shape& in, const Shape& out) {
  Shape s(out.size(), 0);
  Shape is = Strides(in);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) s[i + off] = in[i] == 1 ? 0 : is[i];
  return s;
}

StatusOr<Shape> ToInt64Vector(const Node& node, const Tensor& t, const char* what) {
  if (t.rank() > 1)
    return InvalidArgument("{}: {} must be 1-D, got shape {}", node.Describe(), what,
                           ShapeToString(t.shape()));
  Shape v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DataType::kInt64) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<int64_t>()[i];
  } else if (t.dtype() == DataType::kInt32) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<int32_t>()[i];
  } else {
    return InvalidArgument("{}: {} must be int64 (or int32), got {}", node.Describe(), what,
                           DataTypeName(t.dtype()));
  }
  return v;
}

StatusOr<double> ToScalar(const Node& node, const Tensor& t, const char* what) {
  if (t.numel() != 1)
    return InvalidArgument("{}: {} must have one element, got shape {}", node.Describe(), what,
                           ShapeToString(t.shape()));
  double v = 0;
  Status s = VisitAll(node, t.dtype(), [&]<typename T>() {
    v = static_cast<double>(static_cast<Acc<T>>(t.data<T>()[0]));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return v;
}

void CopyElements(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset,
                  int64_t count) {
  if (src.dtype() == DataType::kString) {
    for (int64_t i = 0; i < count; ++i)
      dst.data<std::string>()[dst_offset + i] = src.data<std::string>()[src_offset + i];
    return;
  }
  size_t es = DataTypeSize(src.dtype());
  std::memcpy(static_cast<char*>(dst.raw_data()) + dst_offset * es,
              static_cast<const char*>(src.raw_data()) + src_offset * es,
              static_cast<size_t>(count) * es);
}

int64_t CheckedShapeSize(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  return n;
}

int64_t Product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) p *= s[i];
  return p;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Status ReadDoubles(const ComputeContext& ctx, const Tensor& t, std::vector<double>& out) {
  out.resize(static_cast<size_t>(t.numel()));
  return VisitFloat(ctx.node(), t.dtype(), [&]<typename T>() {
    const T* p = t.data<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(static_cast<Acc<T>>(p[i]));
    return Status::Ok();
  });
}

Status WriteFloats(const ComputeContext& ctx, const std::vector<double>& v, Tensor& out) {
  return VisitFloat(ctx.node(), out.dtype(), [&]<typename T>() {
    T* dst = out.data<T>();
    for (size_t i = 0; i < v.size(); ++i) dst[i] = static_cast<T>(static_cast<Acc<T>>(v[i]));
    return Status::Ok();
  });
}

}  // namespace hone::ref
