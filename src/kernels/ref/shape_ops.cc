// Reference shape and constant kernels.
// ONNX operators: Reshape (5-22, allowzero from 14), Flatten (1-22), Squeeze
// and Unsqueeze (1-22; axes an attribute before 13, an input from 13), Shape
// (1-22; start/end from 15), Size (1-22), Constant (1-22: value,
// value_float(s), value_int(s), value_string(s), sparse_value), ConstantOfShape
// (9-22), Range (11-22), Expand (8-22), EyeLike (9-22). Reshape, Flatten,
// Squeeze and Unsqueeze return views of their input (no copy).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/ref/broadcast.h"
#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

class Reshape final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    allowzero_ = ctx.attr_int("allowzero", 0) != 0;
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const Tensor* s = ctx.input(1);
    if (s == nullptr) return ctx.Error("input 'shape' is required");
    HONE_ASSIGN_OR_RETURN(hone::Shape shape, ToInt64Vector(ctx.node(), *s, "shape"));
    int64_t infer = -1;
    int64_t known = 1;
    bool has_zero = false;
    for (size_t i = 0; i < shape.size(); ++i) {
      int64_t d = shape[i];
      if (d == 0 && !allowzero_) {
        if (static_cast<int64_t>(i) >= x.rank())
          return ctx.Error(
              "shape[{}] is 0 (copy the input dimension) but the "
              "input has rank {}",
              i, x.rank());
        d = shape[i] = x.dim(static_cast<int64_t>(i));
      }
      if (d == -1) {
        if (infer >= 0) return ctx.Error("shape {} has more than one -1", ShapeToString(shape));
        infer = static_cast<int64_t>(i);
        continue;
      }
      if (d < 0) return ctx.Error("shape[{}] is {}: dimensions must be >= -1", i, d);
      if (d == 0) has_zero = true;
      if (__builtin_mul_overflow(known, d, &known))
        return ctx.Error("shape {} has too many elements", ShapeToString(shape));
    }
    const int64_t n = x.numel();
    if (infer >= 0) {
      if (has_zero) {
        if (n != 0)
          return ctx.Error("cannot infer the -1 dimension of shape {} with a zero dimension",
                           ShapeToString(shape));
        shape[static_cast<size_t>(infer)] = 0;
      } else {
        if (known == 0 || n % known != 0)
          return ctx.Error("cannot reshape input of shape {} ({} elements) to {}",
                           ShapeToString(x.shape()), n, ShapeToString(shape));
        shape[static_cast<size_t>(infer)] = n / known;
      }
    }
    if (ShapeSize(shape) != n)
      return ctx.Error("cannot reshape input of shape {} ({} elements) to {}",
                       ShapeToString(x.shape()), n, ShapeToString(shape));
    ctx.SetOutput(0, x.Reshaped(std::move(shape)));
    return Status::Ok();
  }

 private:
  bool allowzero_ = false;
};

class Flatten final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", 1);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    int64_t axis = axis_;
    if (axis < -x.rank() || axis > x.rank())
      return ctx.Error("axis {} is out of range for input rank {}", axis, x.rank());
    if (axis < 0) axis += x.rank();
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < x.rank(); ++i) (i < axis ? outer : inner) *= x.dim(i);
    ctx.SetOutput(0, x.Reshaped({outer, inner}));
    return Status::Ok();
  }

 private:
  int64_t axis_ = 1;
};

// Reads axes from the attribute (before opset 13) or from input 1 (from opset
// 13).
class AxesFromAttrOrInput {
 protected:
  void InitAxes(const InitContext& ctx) {
    from_input_ = ctx.opset() >= 13;
    if (!from_input_) {
      has_axes_ = ctx.has_attr("axes");
      attr_axes_ = ctx.attr_ints("axes");
    }
  }
  // Sets *has to false when no axes were given.
  StatusOr<hone::Shape> Axes(const ComputeContext& ctx, bool* has) const {
    if (!from_input_) {
      *has = has_axes_;
      return attr_axes_;
    }
    const Tensor* a = ctx.input(1);
    *has = a != nullptr;
    if (a == nullptr) return hone::Shape{};
    return ToInt64Vector(ctx.node(), *a, "axes");
  }

 private:
  bool from_input_ = false;
  bool has_axes_ = false;
  hone::Shape attr_axes_;
};

class Squeeze final : public Kernel, AxesFromAttrOrInput {
 public:
  Status Init(const InitContext& ctx) override {
    InitAxes(ctx);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    bool has = false;
    HONE_ASSIGN_OR_RETURN(hone::Shape axes, Axes(ctx, &has));
    hone::Shape drop(static_cast<size_t>(x.rank()), 0);  // per axis: 1 = squeezed
    if (!has) {
      for (int64_t i = 0; i < x.rank(); ++i) drop[static_cast<size_t>(i)] = x.dim(i) == 1;
    } else {
      for (int64_t a : axes) {
        HONE_ASSIGN_OR_RETURN(int64_t ax, NormalizeAxis(ctx.node(), a, x.rank(), "axes entry"));
        if (x.dim(ax) != 1)
          return ctx.Error("cannot squeeze axis {}: its dimension is {}, not 1", a, x.dim(ax));
        drop[static_cast<size_t>(ax)] = true;
      }
    }
    Shape shape;
    for (int64_t i = 0; i < x.rank(); ++i)
      if (!drop[static_cast<size_t>(i)]) shape.push_back(x.dim(i));
    ctx.SetOutput(0, x.Reshaped(std::move(shape)));
    return Status::Ok();
  }
};

class Unsqueeze final : public Kernel, AxesFromAttrOrInput {
 public:
  Status Init(const InitContext& ctx) override {
    InitAxes(ctx);
    if (ctx.opset() < 13 && !ctx.has_attr("axes"))
      return ctx.Invalid("attribute 'axes' is required");
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    bool has = false;
    HONE_ASSIGN_OR_RETURN(hone::Shape axes, Axes(ctx, &has));
    if (!has) return ctx.Error("input 'axes' is required");
    const int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
    std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
    for (int64_t a : axes) {
      HONE_ASSIGN_OR_RETURN(int64_t ax, NormalizeAxis(ctx.node(), a, out_rank, "axes entry"));
      if (inserted[static_cast<size_t>(ax)]) return ctx.Error("axes entry {} is repeated", a);
      inserted[static_cast<size_t>(ax)] = true;
    }
    Shape shape(static_cast<size_t>(out_rank));
    int64_t j = 0;
    for (int64_t i = 0; i < out_rank; ++i)
      shape[static_cast<size_t>(i)] = inserted[static_cast<size_t>(i)] ? 1 : x.dim(j++);
    ctx.SetOutput(0, x.Reshaped(std::move(shape)));
    return Status::Ok();
  }
};

class Shape final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    start_ = ctx.attr_int("start", 0);
    has_end_ = ctx.has_attr("end");
    end_ = ctx.attr_int("end", 0);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const int64_t r = x.rank();
    auto clamp = [r](int64_t v) {
      if (v < 0) v += r;
      return std::clamp<int64_t>(v, 0, r);
    };
    int64_t start = clamp(start_);
    int64_t end = has_end_ ? clamp(end_) : r;
    int64_t n = std::max<int64_t>(0, end - start);
    Tensor& y = ctx.Output(0, DataType::kInt64, {n});
    for (int64_t i = 0; i < n; ++i) y.data<int64_t>()[i] = x.dim(start + i);
    return Status::Ok();
  }

 private:
  int64_t start_ = 0, end_ = 0;
  bool has_end_ = false;
};

class Size final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    Tensor& y = ctx.Output(0, DataType::kInt64, {});
    y.data<int64_t>()[0] = ctx.input(0)->numel();
    return Status::Ok();
  }
};

class Constant final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    int count = 0;
    if (const Tensor* t = ctx.attr_tensor("value")) {
      value_ = *t;
      ++count;
    }
    if (const Tensor* t = ctx.attr_tensor("sparse_value")) {
      value_ = *t;
      ++count;
    }
    if (ctx.has_attr("value_float")) {
      value_ = Tensor::Empty(DataType::kFloat32, {});
      value_.data<float>()[0] = ctx.attr_float("value_float", 0);
      ++count;
    }
    if (ctx.has_attr("value_floats")) {
      std::vector<float> v = ctx.attr_floats("value_floats");
      value_ = Tensor::Empty(DataType::kFloat32, {static_cast<int64_t>(v.size())});
      std::copy(v.begin(), v.end(), value_.data<float>());
      ++count;
    }
    if (ctx.has_attr("value_int")) {
      value_ = Tensor::Empty(DataType::kInt64, {});
      value_.data<int64_t>()[0] = ctx.attr_int("value_int", 0);
      ++count;
    }
    if (ctx.has_attr("value_ints")) {
      hone::Shape v = ctx.attr_ints("value_ints");
      value_ = Tensor::Empty(DataType::kInt64, {static_cast<int64_t>(v.size())});
      std::copy(v.begin(), v.end(), value_.data<int64_t>());
      ++count;
    }
    if (ctx.has_attr("value_string")) {
      value_ = Tensor::Empty(DataType::kString, {});
      value_.data<std::string>()[0] = ctx.attr_string("value_string", "");
      ++count;
    }
    if (ctx.has_attr("value_strings")) {
      std::vector<std::string> v = ctx.attr_strings("value_strings");
      value_ = Tensor::Empty(DataType::kString, {static_cast<int64_t>(v.size())});
      std::copy(v.begin(), v.end(), value_.data<std::string>());
      ++count;
    }
    if (count != 1) return ctx.Invalid("exactly one value attribute must be set, got {}", count);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    ctx.SetOutput(0, value_);
    return Status::Ok();
  }

 private:
  Tensor value_;
};

class ConstantOfShape final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (const Tensor* t = ctx.attr_tensor("value")) {
      if (t->numel() != 1)
        return ctx.Invalid("attribute 'value' must have one element, got shape {}",
                           ShapeToString(t->shape()));
      value_ = *t;
    } else {
      value_ = Tensor::Empty(DataType::kFloat32, {1});
    }
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    HONE_ASSIGN_OR_RETURN(hone::Shape shape, ToInt64Vector(ctx.node(), *ctx.input(0), "input"));
    if (CheckedShapeSize(shape) < 0)
      return ctx.Error("shape {} has a negative dimension or too many elements",
                       ShapeToString(shape));
    Tensor& y = ctx.Output(0, value_.dtype(), shape);
    const int64_t n = y.numel();
    return VisitBySize(ctx.node(), value_.dtype(), [&]<typename T>() {
      const T v = value_.data<T>()[0];
      T* dst = y.data<T>();
      for (int64_t i = 0; i < n; ++i) dst[i] = v;
      return Status::Ok();
    });
  }

 private:
  Tensor value_;
};

class Range final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& s = *ctx.input(0);
    const Tensor& l = *ctx.input(1);
    const Tensor& d = *ctx.input(2);
    if (s.dtype() != l.dtype() || s.dtype() != d.dtype())
      return ctx.Error("start, limit and delta must have one dtype, got {}, {}, {}",
                       DataTypeName(s.dtype()), DataTypeName(l.dtype()), DataTypeName(d.dtype()));
    if (s.numel() != 1 || l.numel() != 1 || d.numel() != 1)
      return ctx.Error("start, limit and delta must be scalars");
    return VisitNumeric(ctx.node(), s.dtype(), [&]<typename T>() -> Status {
      using C = Acc<T>;
      const C start = static_cast<C>(s.data<T>()[0]);
      const C limit = static_cast<C>(l.data<T>()[0]);
      const C delta = static_cast<C>(d.data<T>()[0]);
      if (delta == C(0)) return ctx.Error("delta must not be zero");
      double count = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) /
                               static_cast<double>(delta));
      if (!(count > 0)) count = 0;
      constexpr double kMaxElements = 1e12;
      if (count > kMaxElements) return ctx.Error("range of {} elements is too large", count);
      const int64_t n = static_cast<int64_t>(count);
      Tensor& y = ctx.Output(0, s.dtype(), {n});
      T* dst = y.data<T>();
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(start + static_cast<C>(i) * delta);
      return Status::Ok();
    });
  }
};

class Expand final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    HONE_ASSIGN_OR_RETURN(hone::Shape shape, ToInt64Vector(ctx.node(), *ctx.input(1), "shape"));
    for (int64_t d : shape)
      if (d < 0) return ctx.Error("shape {} has a negative dimension", ShapeToString(shape));
    HONE_ASSIGN_OR_RETURN(hone::Shape out_shape, BroadcastShapes(ctx.node(), x.shape(), shape));
    if (CheckedShapeSize(out_shape) < 0)
      return ctx.Error("output shape {} has too many elements", ShapeToString(out_shape));
    Tensor& y = ctx.Output(0, x.dtype(), out_shape);
    return VisitBySize(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      ForEachBroadcast<1>(
          out_shape, {&x.shape()},
          [&](int64_t o, const std::array<int64_t, 1>& off) { dst[o] = src[off[0]]; });
      return Status::Ok();
    });
  }
};

class EyeLike final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (ctx.has_attr("dtype")) {
      dtype_ = static_cast<DataType>(ctx.attr_int("dtype", 0));
      if (DataTypeSize(dtype_) == 0 || dtype_ == DataType::kString)
        return ctx.Invalid("dtype {} is not supported", DataTypeName(dtype_));
    }
    k_ = ctx.attr_int("k", 0);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.rank() != 2)
      return ctx.Error("input must be 2-D, got shape {}", ShapeToString(x.shape()));
    DataType dt = dtype_ == DataType::kUndefined ? x.dtype() : dtype_;
    Tensor& y = ctx.Output(0, dt, x.shape());
    const int64_t rows = x.dim(0), cols = x.dim(1);
    auto body = [&]<typename T>() {
      T* dst = y.data<T>();
      if (k_ <= -rows || k_ >= cols) return Status::Ok();  // no diagonal entry inside
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t j = i + k_;
        if (j >= 0 && j < cols) dst[i * cols + j] = static_cast<T>(1);
      }
      return Status::Ok();
    };
    if (dt == DataType::kBool) return body.template operator()<bool>();
    return VisitNumeric(ctx.node(), dt, body);
  }

 private:
  DataType dtype_ = DataType::kUndefined;
  int64_t k_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefReshape() { return std::make_unique<Reshape>(); }
std::unique_ptr<Kernel> CreateRefFlatten() { return std::make_unique<Flatten>(); }
std::unique_ptr<Kernel> CreateRefSqueeze() { return std::make_unique<Squeeze>(); }
std::unique_ptr<Kernel> CreateRefUnsqueeze() { return std::make_unique<Unsqueeze>(); }
std::unique_ptr<Kernel> CreateRefShape() { return std::make_unique<Shape>(); }
std::unique_ptr<Kernel> CreateRefSize() { return std::make_unique<Size>(); }
std::unique_ptr<Kernel> CreateRefConstant() { return std::make_unique<Constant>(); }
std::unique_ptr<Kernel> CreateRefConstantOfShape() { return std::make_unique<ConstantOfShape>(); }
std::unique_ptr<Kernel> CreateRefRange() { return std::make_unique<Range>(); }
std::unique_ptr<Kernel> CreateRefExpand() { return std::make_unique<Expand>(); }
std::unique_ptr<Kernel> CreateRefEyeLike() { return std::make_unique<EyeLike>(); }

}  // namespace hone::ref
