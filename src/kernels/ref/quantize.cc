// Reference quantization kernels.
// ONNX operators: QuantizeLinear and DequantizeLinear (opsets 10-22: per-tensor; per-axis `axis`
// from 13; float8 outputs and `saturate` from 19; blocked `block_size`, `output_dtype`, int16/
// uint16 and int4/uint4 from 21), DynamicQuantizeLinear (11-22), QLinearMatMul (10-22: per-tensor,
// per-row A and per-column B scales/zero points; int8/uint8) and QLinearConv (10-22: per-tensor or
// per-output-channel weight scales/zero points, optional int32 bias; int8/uint8).
//
// Arithmetic follows the spec (and the ONNX reference implementation's precision):
//   quantize:    y = saturate(round_half_even(x / scale) + zero_point), x / scale in float32;
//                float8 outputs: y = float8(x / scale) with `saturate` (zero point must be 0).
//   dequantize:  y = (x - zero_point) * scale in float32, stored as scale's dtype.
//   QLinear ops: the integer product/convolution of (a - a_zp) and (b - b_zp) is requantized with
//                the multiplier a_scale * b_scale / y_scale (computed in the scales' dtype), then
//                rounded half to even, offset by y_zp and saturated to the output type.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "core/float8.h"
#include "kernels/ref/broadcast.h"
#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

// ---- element access for the quantized and the float types ----

bool IsQuantizedInt(DataType d) {
  switch (d) {
    case DataType::kInt8:
    case DataType::kUInt8:
    case DataType::kInt16:
    case DataType::kUInt16:
    case DataType::kInt4:
    case DataType::kUInt4:
      return true;
    default:
      return false;
  }
}
bool IsQuantized(DataType d) { return IsQuantizedInt(d) || Float8KindOf(d).has_value(); }
bool IsScaleType(DataType d) {
  return d == DataType::kFloat32 || d == DataType::kFloat16 || d == DataType::kBFloat16;
}

// [lo, hi] of an integer quantized type.
std::pair<int32_t, int32_t> IntRange(DataType d) {
  switch (d) {
    case DataType::kInt8:
      return {-128, 127};
    case DataType::kUInt8:
      return {0, 255};
    case DataType::kInt16:
      return {-32768, 32767};
    case DataType::kUInt16:
      return {0, 65535};
    case DataType::kInt4:
      return {-8, 7};
    case DataType::kUInt4:
      return {0, 15};
    default:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
  }
}

// Element i of an integer tensor (quantized types and int32) as int32.
int32_t LoadInt(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kInt8:
      return t.data<int8_t>()[i];
    case DataType::kUInt8:
      return t.data<uint8_t>()[i];
    case DataType::kInt16:
      return t.data<int16_t>()[i];
    case DataType::kUInt16:
      return t.data<uint16_t>()[i];
    case DataType::kInt32:
      return t.data<int32_t>()[i];
    case DataType::kInt4:
    case DataType::kUInt4:
      return LoadInt4(t.data<uint8_t>(), i, t.dtype() == DataType::kInt4);
    default:
      return 0;
  }
}

// Stores an integer already clamped to the range of t's dtype.
void StoreInt(Tensor& t, int64_t i, int32_t v) {
  switch (t.dtype()) {
    case DataType::kInt8:
      t.data<int8_t>()[i] = static_cast<int8_t>(v);
      break;
    case DataType::kUInt8:
      t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
      break;
    case DataType::kInt16:
      t.data<int16_t>()[i] = static_cast<int16_t>(v);
      break;
    case DataType::kUInt16:
      t.data<uint16_t>()[i] = static_cast<uint16_t>(v);
      break;
    case DataType::kInt4:
    case DataType::kUInt4:
      StoreInt4(t.data<uint8_t>(), i, v);
      break;
    default:
      break;
  }
}

// Element i of a float (or int32, QuantizeLinear-10's x) tensor as float.
float LoadFloat(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kFloat32:
      return t.data<float>()[i];
    case DataType::kFloat16:
      return t.data<Half>()[i];
    case DataType::kBFloat16:
      return t.data<BFloat16>()[i];
    case DataType::kInt32:
      return static_cast<float>(t.data<int32_t>()[i]);
    default:
      return 0;
  }
}

void StoreFloat(Tensor& t, int64_t i, float v) {
  switch (t.dtype()) {
    case DataType::kFloat32:
      t.data<float>()[i] = v;
      break;
    case DataType::kFloat16:
      t.data<Half>()[i] = Half(v);
      break;
    case DataType::kBFloat16:
      t.data<BFloat16>()[i] = BFloat16(v);
      break;
    default:
      break;
  }
}

// Rounds a float32 result to the precision of `d` (float16/bfloat16 arithmetic in the reference).
float RoundTo(DataType d, float v) {
  if (d == DataType::kFloat16) return Half(v);
  if (d == DataType::kBFloat16) return BFloat16(v);
  return v;
}

// round_half_even(v) + offset, saturated to [lo, hi]. NaN gives the offset.
int32_t RoundSaturate(double v, double offset, int32_t lo, int32_t hi) {
  double r = std::isnan(v) ? offset : std::nearbyint(v) + offset;
  return static_cast<int32_t>(std::clamp(r, static_cast<double>(lo), static_cast<double>(hi)));
}

// ---- scale / zero-point layout (QuantizeLinear, DequantizeLinear) ----

// Maps an element of x to its scale / zero-point element: per tensor, per axis or blocked.
struct QuantLayout {
  enum class Kind { kTensor, kAxis, kBlocked } kind = Kind::kTensor;
  int64_t axis_dim = 1, inner = 1;  // x's dim at axis, product of x's dims after it
  int64_t block = 0, scale_axis_dim = 1;

  int64_t Index(int64_t i) const {
    switch (kind) {
      case Kind::kTensor:
        return 0;
      case Kind::kAxis:
        return (i / inner) % axis_dim;
      case Kind::kBlocked: {
        const int64_t in = i % inner, a = (i / inner) % axis_dim, outer = i / (inner * axis_dim);
        return (outer * scale_axis_dim + a / block) * inner + in;
      }
    }
    return 0;
  }
};

StatusOr<QuantLayout> PlanLayout(const ComputeContext& ctx, const Tensor& x, const Tensor& scale,
                                 const Tensor* zp, int64_t axis_attr, int64_t block) {
  QuantLayout l;
  if (zp != nullptr && zp->shape() != scale.shape() && (zp->numel() != 1 || scale.numel() != 1))
    return ctx.Error("zero point shape {} differs from scale shape {}", ShapeToString(zp->shape()),
                     ShapeToString(scale.shape()));
  const bool scalar = scale.rank() == 0 || (scale.rank() == 1 && scale.numel() == 1);
  if (block <= 0 && scalar) return l;
  if (x.rank() == 0) return ctx.Error("a scalar x needs a scalar scale");
  HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_attr, x.rank()));
  l.axis_dim = x.dim(axis);
  l.inner = 1;
  for (int64_t d = axis + 1; d < x.rank(); ++d) l.inner *= x.dim(d);
  if (block <= 0) {
    if (scale.rank() != 1 || scale.dim(0) != l.axis_dim)
      return ctx.Error("per-axis scale: expected shape [{}] (x dim {}), got {}", l.axis_dim, axis,
                       ShapeToString(scale.shape()));
    l.kind = QuantLayout::Kind::kAxis;
    return l;
  }
  const int64_t want = (l.axis_dim + block - 1) / block;
  bool ok = scale.rank() == x.rank();
  for (int64_t d = 0; ok && d < x.rank(); ++d) ok = scale.dim(d) == (d == axis ? want : x.dim(d));
  if (!ok)
    return ctx.Error(
        "blocked scale (block_size {} on axis {}): expected x's shape {} with {} at "
        "the axis, got {}",
        block, axis, ShapeToString(x.shape()), want, ShapeToString(scale.shape()));
  l.kind = QuantLayout::Kind::kBlocked;
  l.block = block;
  l.scale_axis_dim = want;
  return l;
}

// ---- QuantizeLinear ----

class QuantizeLinear final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", 1);
    saturate_ = ctx.attr_int("saturate", 1) != 0;
    block_ = ctx.attr_int("block_size", 0);
    if (block_ < 0) return ctx.Invalid("block_size must be >= 0, got {}", block_);
    const int64_t od = ctx.attr_int("output_dtype", 0);
    if (od != 0) {
      output_dtype_ = static_cast<DataType>(od);
      if (!IsQuantized(*output_dtype_))
        return ctx.Invalid("output_dtype {} is not a quantized type", od);
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* zp = ctx.input(2);
    if (x == nullptr || scale == nullptr) return ctx.Error("expected inputs x and y_scale");
    if (!IsScaleType(x->dtype()) && x->dtype() != DataType::kInt32)
      return ctx.Error("input x: expected float32, float16, bfloat16 or int32, got {}",
                       DataTypeName(x->dtype()));
    if (!IsScaleType(scale->dtype()))
      return ctx.Error("input y_scale: expected a float type, got {}",
                       DataTypeName(scale->dtype()));
    DataType out = output_dtype_.value_or(DataType::kUInt8);
    if (zp != nullptr) {
      if (output_dtype_ && *output_dtype_ != zp->dtype())
        return ctx.Error("output_dtype {} differs from y_zero_point's dtype {}",
                         DataTypeName(*output_dtype_), DataTypeName(zp->dtype()));
      out = zp->dtype();
    }
    if (!IsQuantized(out))
      return ctx.Error("output dtype {} is not a quantized type", DataTypeName(out));
    HONE_ASSIGN_OR_RETURN(QuantLayout l, PlanLayout(ctx, *x, *scale, zp, axis_, block_));
    Tensor& y = ctx.Output(0, out, x->shape());
    const int64_t n = x->numel();
    // The division runs in the common type of x and the scale (float16 / float16 in float16).
    const DataType div_type = x->dtype() == scale->dtype() ? x->dtype() : DataType::kFloat32;
    if (auto kind = Float8KindOf(out)) {
      uint8_t* dst = y.data<uint8_t>();
      for (int64_t i = 0; i < n; ++i) {
        const float v = RoundTo(div_type, LoadFloat(*x, i) / LoadFloat(*scale, l.Index(i)));
        dst[i] = FloatToFloat8(v, *kind, saturate_);
      }
      return Status::Ok();
    }
    const auto [lo, hi] = IntRange(out);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t s = l.Index(i);
      const float v = RoundTo(div_type, LoadFloat(*x, i) / LoadFloat(*scale, s));
      const double z = zp != nullptr ? LoadInt(*zp, s) : 0;
      StoreInt(y, i, RoundSaturate(static_cast<double>(v), z, lo, hi));
    }
    return Status::Ok();
  }

 private:
  int64_t axis_ = 1;
  bool saturate_ = true;
  int64_t block_ = 0;
  std::optional<DataType> output_dtype_;
};

// ---- DequantizeLinear ----

class DequantizeLinear final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", 1);
    block_ = ctx.attr_int("block_size", 0);
    if (block_ < 0) return ctx.Invalid("block_size must be >= 0, got {}", block_);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* zp = ctx.input(2);
    if (x == nullptr || scale == nullptr) return ctx.Error("expected inputs x and x_scale");
    const auto kind = Float8KindOf(x->dtype());
    if (!IsQuantized(x->dtype()) && x->dtype() != DataType::kInt32)
      return ctx.Error("input x: expected a quantized type or int32, got {}",
                       DataTypeName(x->dtype()));
    if (!IsScaleType(scale->dtype()))
      return ctx.Error("input x_scale: expected a float type, got {}",
                       DataTypeName(scale->dtype()));
    if (zp != nullptr && zp->dtype() != x->dtype())
      return ctx.Error("x_zero_point dtype {} differs from x's {}", DataTypeName(zp->dtype()),
                       DataTypeName(x->dtype()));
    HONE_ASSIGN_OR_RETURN(QuantLayout l, PlanLayout(ctx, *x, *scale, zp, axis_, block_));
    if (kind && zp != nullptr) {
      // float8 zero points must be zero (the spec has no float8 offset).
      for (int64_t i = 0; i < zp->numel(); ++i)
        if (Float8ToFloat(zp->data<uint8_t>()[i], *kind) != 0)
          return ctx.Error("x_zero_point must be zero for {} input", DataTypeName(x->dtype()));
    }
    Tensor& y = ctx.Output(0, scale->dtype(), x->shape());
    const int64_t n = x->numel();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t s = l.Index(i);
      float v;
      if (kind) {
        v = Float8ToFloat(x->data<uint8_t>()[i], *kind);
      } else {
        const int64_t z = zp != nullptr ? LoadInt(*zp, s) : 0;
        v = static_cast<float>(static_cast<int64_t>(LoadInt(*x, i)) - z);
      }
      StoreFloat(y, i, v * LoadFloat(*scale, s));
    }
    return Status::Ok();
  }

 private:
  int64_t axis_ = 1;
  int64_t block_ = 0;
};

// ---- DynamicQuantizeLinear ----

class DynamicQuantizeLinear final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input x");
    if (x->dtype() != DataType::kFloat32)
      return ctx.Error("input x: expected float32, got {}", DataTypeName(x->dtype()));
    constexpr float kQmin = 0, kQmax = 255;
    const int64_t n = x->numel();
    const float* src = x->data<float>();
    float lo = 0, hi = 0;  // the range always includes 0
    for (int64_t i = 0; i < n; ++i) {
      lo = std::min(lo, src[i]);
      hi = std::max(hi, src[i]);
    }
    const float scale = (hi == lo ? 1.0f : hi - lo) / (kQmax - kQmin);
    const float zp = std::nearbyint(std::clamp(kQmin - lo / scale, kQmin, kQmax));
    Tensor& y = ctx.Output(0, DataType::kUInt8, x->shape());
    uint8_t* dst = y.data<uint8_t>();
    for (int64_t i = 0; i < n; ++i)
      dst[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(src[i] / scale) + zp, kQmin, kQmax));
    ctx.Output(1, DataType::kFloat32, {}).data<float>()[0] = scale;
    ctx.Output(2, DataType::kUInt8, {}).data<uint8_t>()[0] = static_cast<uint8_t>(zp);
    return Status::Ok();
  }
};

// ---- QLinearMatMul / QLinearConv shared pieces ----

// A scale or zero point that is a scalar or holds one value per row/column/channel.
struct QParam {
  const Tensor* t = nullptr;
  bool per_element = false;  // else per tensor
  int64_t Pick(int64_t i) const { return per_element ? i : 0; }
};

Status CheckQParam(const ComputeContext& ctx, const Tensor* t, int64_t count, const char* what,
                   QParam& out) {
  out.t = t;
  if (t == nullptr) return Status::Ok();
  if (t->numel() == 1) return Status::Ok();
  if (t->rank() > 1 || t->numel() != count)
    return ctx.Error("{}: expected a scalar or {} values, got shape {}", what, count,
                     ShapeToString(t->shape()));
  out.per_element = true;
  return Status::Ok();
}

Status CheckInt8(const ComputeContext& ctx, const Tensor* t, const char* what) {
  if (t->dtype() != DataType::kInt8 && t->dtype() != DataType::kUInt8)
    return ctx.Error("input {}: expected int8 or uint8, got {}", what, DataTypeName(t->dtype()));
  return Status::Ok();
}

// The requantization multiplier a_scale * b_scale / y_scale, each step rounded to the scales'
// dtype as the reference's numpy arithmetic does.
double Multiplier(float a, float b, float y, DataType d) {
  return RoundTo(d, RoundTo(d, a * b) / y);
}

// ---- QLinearMatMul ----

class QLinearMatMul final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(3);
    const Tensor* a_scale = ctx.input(1);
    const Tensor* b_scale = ctx.input(4);
    const Tensor* y_scale = ctx.input(6);
    if (!a || !b || !a_scale || !b_scale || !y_scale || !ctx.input(2) || !ctx.input(5) ||
        !ctx.input(7))
      return ctx.Error("expected 8 inputs");
    HONE_RETURN_IF_ERROR(CheckInt8(ctx, a, "a"));
    HONE_RETURN_IF_ERROR(CheckInt8(ctx, b, "b"));
    const Tensor* y_zp = ctx.input(7);
    HONE_RETURN_IF_ERROR(CheckInt8(ctx, y_zp, "y_zero_point"));
    if (ctx.input(2)->dtype() != a->dtype() || ctx.input(5)->dtype() != b->dtype())
      return ctx.Error("zero points must have the dtypes of a and b");
    for (const Tensor* s : {a_scale, b_scale, y_scale})
      if (!IsScaleType(s->dtype()) || s->dtype() != a_scale->dtype())
        return ctx.Error("scales must share one float dtype, got {}", DataTypeName(s->dtype()));
    if (y_scale->numel() != 1 || y_zp->numel() != 1)
      return ctx.Error("y_scale and y_zero_point must be scalars");
    if (a->rank() < 2 || b->rank() < 2)
      return ctx.Error("a and b must have rank >= 2, got {} and {}", ShapeToString(a->shape()),
                       ShapeToString(b->shape()));
    const int64_t m = a->dim(a->rank() - 2), k = a->dim(a->rank() - 1);
    const int64_t n = b->dim(b->rank() - 1);
    if (b->dim(b->rank() - 2) != k)
      return ctx.Error("inner dimensions differ: a {} and b {}", ShapeToString(a->shape()),
                       ShapeToString(b->shape()));
    QParam as, az, bs, bz;
    HONE_RETURN_IF_ERROR(CheckQParam(ctx, a_scale, m, "a_scale", as));
    HONE_RETURN_IF_ERROR(CheckQParam(ctx, ctx.input(2), m, "a_zero_point", az));
    HONE_RETURN_IF_ERROR(CheckQParam(ctx, b_scale, n, "b_scale", bs));
    HONE_RETURN_IF_ERROR(CheckQParam(ctx, ctx.input(5), n, "b_zero_point", bz));
    Shape ba(a->shape().begin(), a->shape().end() - 2);
    Shape bb(b->shape().begin(), b->shape().end() - 2);
    HONE_ASSIGN_OR_RETURN(Shape batch, BroadcastShapes(ctx.node(), ba, bb));
    Shape out_shape = batch;
    out_shape.push_back(m);
    out_shape.push_back(n);
    Tensor& y = ctx.Output(0, y_zp->dtype(), out_shape);
    const auto [lo, hi] = IntRange(y_zp->dtype());
    const float ys = LoadFloat(*y_scale, 0);
    const int32_t yz = LoadInt(*y_zp, 0);
    const DataType sd = a_scale->dtype();
    ForEachBroadcast<2>(batch, {&ba, &bb}, [&](int64_t o, std::array<int64_t, 2> offs) {
      const int64_t a0 = offs[0] * m * k, b0 = offs[1] * k * n, y0 = o * m * n;
      for (int64_t i = 0; i < m; ++i) {
        const int32_t za = LoadInt(*az.t, az.Pick(i));
        for (int64_t j = 0; j < n; ++j) {
          const int32_t zb = LoadInt(*bz.t, bz.Pick(j));
          int64_t acc = 0;
          for (int64_t p = 0; p < k; ++p)
            acc += static_cast<int64_t>(LoadInt(*a, a0 + i * k + p) - za) *
                   (LoadInt(*b, b0 + p * n + j) - zb);
          const double mult =
              Multiplier(LoadFloat(*a_scale, as.Pick(i)), LoadFloat(*b_scale, bs.Pick(j)), ys, sd);
          StoreInt(y, y0 + i * n + j, RoundSaturate(static_cast<double>(acc) * mult, yz, lo, hi));
        }
      }
    });
    return Status::Ok();
  }
};

// ---- QLinearConv ----

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

class QLinearConv final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const std::string ap = ctx.attr_string("auto_pad", "NOTSET");
    if (ap == "NOTSET" || ap.empty()) {
      auto_pad_ = AutoPad::kNotSet;
    } else if (ap == "SAME_UPPER") {
      auto_pad_ = AutoPad::kSameUpper;
    } else if (ap == "SAME_LOWER") {
      auto_pad_ = AutoPad::kSameLower;
    } else if (ap == "VALID") {
      auto_pad_ = AutoPad::kValid;
    } else {
      return ctx.Invalid("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '{}'", ap);
    }
    group_ = ctx.attr_int("group", 1);
    kernel_shape_ = ctx.attr_ints("kernel_shape");
    pads_ = ctx.attr_ints("pads");
    strides_ = ctx.attr_ints("strides");
    dilations_ = ctx.attr_ints("dilations");
    if (group_ < 1) return ctx.Invalid("group must be >= 1, got {}", group_);
    for (int64_t v : pads_)
      if (v < 0) return ctx.Invalid("pads must be >= 0");
    for (int64_t v : strides_)
      if (v < 1) return ctx.Invalid("strides must be >= 1");
    for (int64_t v : dilations_)
      if (v < 1) return ctx.Invalid("dilations must be >= 1");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(3);
    const Tensor* x_scale = ctx.input(1);
    const Tensor* w_scale = ctx.input(4);
    const Tensor* y_scale = ctx.input(6);
    const Tensor* y_zp = ctx.input(7);
    const Tensor* bias = ctx.input(8);
    if (!x || !w || !x_scale || !w_scale || !y_scale || !ctx.input(2) || !ctx.input(5) || !y_zp)
      return ctx.Error(
          "expected inputs x, x_scale, x_zero_point, w, w_scale, w_zero_point, "
          "y_scale, y_zero_point");
    HONE_RETURN_IF_ERROR(CheckInt8(ctx, x, "x"));
    HONE_RETURN_IF_ERROR(CheckInt8(ctx, w, "w"));
    HONE_RETURN_IF_ERROR(CheckInt8(ctx, y_zp, "y_zero_point"));
    if (ctx.input(2)->dtype() != x->dtype() || ctx.input(5)->dtype() != w->dtype())
      return ctx.Error("zero points must have the dtypes of x and w");
    for (const Tensor* s : {x_scale, w_scale, y_scale})
      if (s->dtype() != DataType::kFloat32)
        return ctx.Error("scales must be float32, got {}", DataTypeName(s->dtype()));
    if (x_scale->numel() != 1 || ctx.input(2)->numel() != 1 || y_scale->numel() != 1 ||
        y_zp->numel() != 1)
      return ctx.Error("x and y scales and zero points must be scalars");
    const int64_t rank = x->rank();
    if (rank < 3) return ctx.Error("input x rank: expected >= 3, got {}", rank);
    if (w->rank() != rank) return ctx.Error("input w rank: expected {}, got {}", rank, w->rank());
    const int64_t nd = rank - 2, batch = x->dim(0), c_in = x->dim(1), m = w->dim(0);
    if (c_in != w->dim(1) * group_)
      return ctx.Error("x has {} channels but w {} with group {} expects {}", c_in,
                       ShapeToString(w->shape()), group_, w->dim(1) * group_);
    if (m % group_ != 0)
      return ctx.Error("w has {} output channels, not a multiple of group {}", m, group_);
    QParam ws, wz;
    HONE_RETURN_IF_ERROR(CheckQParam(ctx, w_scale, m, "w_scale", ws));
    HONE_RETURN_IF_ERROR(CheckQParam(ctx, ctx.input(5), m, "w_zero_point", wz));
    if (bias != nullptr && (bias->dtype() != DataType::kInt32 || bias->numel() != m))
      return ctx.Error("input B: expected {} int32 values, got shape {} of {}", m,
                       ShapeToString(bias->shape()), DataTypeName(bias->dtype()));
    const size_t snd = static_cast<size_t>(nd);
    if ((!kernel_shape_.empty() && kernel_shape_.size() != snd) ||
        (!pads_.empty() && pads_.size() != 2 * snd) ||
        (!strides_.empty() && strides_.size() != snd) ||
        (!dilations_.empty() && dilations_.size() != snd))
      return ctx.Error("kernel_shape/pads/strides/dilations lengths do not fit {} spatial dims",
                       nd);
    std::vector<int64_t> in(snd), ker(snd), stride(snd), dil(snd), pad(snd), out(snd);
    Shape out_shape{batch, m};
    for (size_t d = 0; d < snd; ++d) {
      in[d] = x->dim(static_cast<int64_t>(d) + 2);
      ker[d] = w->dim(static_cast<int64_t>(d) + 2);
      stride[d] = strides_.empty() ? 1 : strides_[d];
      dil[d] = dilations_.empty() ? 1 : dilations_[d];
      const int64_t eff = (ker[d] - 1) * dil[d] + 1;
      switch (auto_pad_) {
        case AutoPad::kNotSet: {
          const int64_t pb = pads_.empty() ? 0 : pads_[d], pe = pads_.empty() ? 0 : pads_[d + snd];
          pad[d] = pb;
          out[d] = in[d] + pb + pe < eff ? 0 : (in[d] + pb + pe - eff) / stride[d] + 1;
          break;
        }
        case AutoPad::kValid:
          out[d] = in[d] < eff ? 0 : (in[d] - eff) / stride[d] + 1;
          break;
        case AutoPad::kSameUpper:
        case AutoPad::kSameLower: {
          out[d] = (in[d] + stride[d] - 1) / stride[d];
          const int64_t total = std::max<int64_t>(0, (out[d] - 1) * stride[d] + eff - in[d]);
          pad[d] = auto_pad_ == AutoPad::kSameUpper ? total / 2 : total - total / 2;
          break;
        }
      }
      if (!kernel_shape_.empty() && kernel_shape_[d] != ker[d])
        return ctx.Error("kernel_shape {} differs from w's spatial shape {}",
                         ShapeToString(kernel_shape_), ShapeToString(w->shape()));
      if (out[d] < 1)
        return ctx.Error("output spatial dim {} would be empty (input {}, kernel {})", d, in[d],
                         eff);
      out_shape.push_back(out[d]);
    }
    Tensor& y = ctx.Output(0, y_zp->dtype(), out_shape);
    const auto [lo, hi] = IntRange(y_zp->dtype());
    const int32_t xz = LoadInt(*ctx.input(2), 0), yz = LoadInt(*y_zp, 0);
    const float xs = LoadFloat(*x_scale, 0), ys = LoadFloat(*y_scale, 0);
    const int64_t in_size = ShapeSize(in), out_size = ShapeSize(out), ker_size = ShapeSize(ker);
    const int64_t cg = c_in / group_, mg = m / group_;
    std::vector<int64_t> opos(snd), kpos(snd);
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t oc = 0; oc < m; ++oc) {
        const int64_t g = oc / mg;
        const int32_t zw = LoadInt(*wz.t, wz.Pick(oc));
        const double mult =
            Multiplier(xs, LoadFloat(*w_scale, ws.Pick(oc)), ys, DataType::kFloat32);
        for (int64_t o = 0; o < out_size; ++o) {
          for (int64_t d = static_cast<int64_t>(snd) - 1, r = o; d >= 0; --d) {
            opos[static_cast<size_t>(d)] = r % out[static_cast<size_t>(d)];
            r /= out[static_cast<size_t>(d)];
          }
          int64_t acc = bias != nullptr ? bias->data<int32_t>()[oc] : 0;
          for (int64_t kk = 0; kk < ker_size; ++kk) {
            // Input position of this tap; skipped when it falls in the padding.
            int64_t off = 0;
            bool inside = true;
            for (int64_t d = static_cast<int64_t>(snd) - 1, r = kk; d >= 0; --d) {
              kpos[static_cast<size_t>(d)] = r % ker[static_cast<size_t>(d)];
              r /= ker[static_cast<size_t>(d)];
            }
            for (size_t d = 0; d < snd && inside; ++d) {
              const int64_t p = opos[d] * stride[d] + kpos[d] * dil[d] - pad[d];
              inside = p >= 0 && p < in[d];
              off = off * in[d] + p;
            }
            if (!inside) continue;
            for (int64_t c = 0; c < cg; ++c) {
              const int64_t xi = (b * c_in + g * cg + c) * in_size + off;
              const int64_t wi = (oc * cg + c) * ker_size + kk;
              acc += static_cast<int64_t>(LoadInt(*x, xi) - xz) * (LoadInt(*w, wi) - zw);
            }
          }
          StoreInt(y, (b * m + oc) * out_size + o,
                   RoundSaturate(static_cast<double>(acc) * mult, yz, lo, hi));
        }
      }
    }
    return Status::Ok();
  }

 private:
  AutoPad auto_pad_ = AutoPad::kNotSet;
  int64_t group_ = 1;
  Shape kernel_shape_, pads_, strides_, dilations_;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefQuantizeLinear() { return std::make_unique<QuantizeLinear>(); }
std::unique_ptr<Kernel> CreateRefDequantizeLinear() { return std::make_unique<DequantizeLinear>(); }
std::unique_ptr<Kernel> CreateRefDynamicQuantizeLinear() {
  return std::make_unique<DynamicQuantizeLinear>();
}
std::unique_ptr<Kernel> CreateRefQLinearMatMul() { return std::make_unique<QLinearMatMul>(); }
std::unique_ptr<Kernel> CreateRefQLinearConv() { return std::make_unique<QLinearConv>(); }

}  // namespace hone::ref
