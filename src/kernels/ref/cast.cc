// Reference Cast and CastLike.
// ONNX operators: Cast (1-22; opsets 1-5 name the target type as a string, 19 adds the float8
// types and `saturate`, 21 adds int4/uint4), CastLike (15-22; 19 adds `saturate`).
//
// Conversions: float -> integer truncates (NaN and out-of-range values are implementation-defined
// in ONNX; here they clamp, NaN -> 0). Anything -> int4/uint4 rounds to nearest even and clamps to
// [-8, 7] / [0, 15] as the ONNX reference does. float8 conversions follow core/float8.h.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/float8.h"
#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

template <typename To, typename From>
To ConvertValue(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return static_cast<Acc<From>>(v) != Acc<From>(0);
  } else if constexpr (kIsFloat<To>) {
    return static_cast<To>(static_cast<Acc<To>>(static_cast<Acc<From>>(v)));
  } else if constexpr (kIsFloat<From>) {
    // float -> int: truncate; NaN/out of range are implementation-defined in ONNX, clamp here.
    double d = static_cast<double>(static_cast<Acc<From>>(v));
    if (std::isnan(d)) return To(0);
    if (d <= static_cast<double>(std::numeric_limits<To>::lowest()))
      return std::numeric_limits<To>::lowest();
    if (d >= static_cast<double>(std::numeric_limits<To>::max()))
      return std::numeric_limits<To>::max();
    return static_cast<To>(d);
  } else {
    return static_cast<To>(v);
  }
}

// The float8 and 4-bit types have no C++ element type; they are read and written through double
// (exact for every value they hold).
bool IsPacked(DataType d) { return Float8KindOf(d).has_value() || Is4BitInt(d); }

double LoadPacked(const Tensor& t, int64_t i) {
  if (auto k = Float8KindOf(t.dtype())) return Float8ToFloat(t.data<uint8_t>()[i], *k);
  return LoadInt4(t.data<uint8_t>(), i, t.dtype() == DataType::kInt4);
}

void StorePacked(Tensor& t, int64_t i, double v, bool saturate) {
  if (auto k = Float8KindOf(t.dtype())) {
    t.data<uint8_t>()[i] = FloatToFloat8(static_cast<float>(v), *k, saturate);
    return;
  }
  const bool is_signed = t.dtype() == DataType::kInt4;
  const double lo = is_signed ? -8 : 0, hi = is_signed ? 7 : 15;
  const double r = std::isnan(v) ? 0 : std::nearbyint(std::fmin(std::fmax(v, lo), hi));
  StoreInt4(t.data<uint8_t>(), i, static_cast<int>(r));
}

std::string FormatFloat(double d, bool single) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "INF" : "-INF";
  return single ? fmt::format("{}", static_cast<float>(d)) : fmt::format("{}", d);
}

StatusOr<double> ParseNumber(const Node& node, const std::string& s) {
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end == s.c_str())
    return InvalidArgument("{}: cannot cast '{}' to a number", node.Describe(), s);
  return d;
}

// Casts x into y (allocated by the caller with y's dtype and x's shape).
Status CastTensor(const Node& node, const Tensor& x, Tensor& y, bool saturate) {
  const int64_t n = x.numel();
  const DataType from = x.dtype(), to = y.dtype();
  if (IsPacked(from) || IsPacked(to)) {
    // Read each source element as a double, then store it.
    auto store = [&](int64_t i, double v) -> Status {
      if (IsPacked(to)) {
        StorePacked(y, i, v, saturate);
        return Status::Ok();
      }
      if (to == DataType::kString) {
        y.data<std::string>()[i] =
            Float8KindOf(from) ? FormatFloat(v, true) : fmt::format("{}", static_cast<int>(v));
        return Status::Ok();
      }
      return VisitAll(node, to, [&]<typename To>() {
        // int4 -> integer converts like the other integer casts (two's complement wrap).
        y.data<To>()[i] = Is4BitInt(from) ? ConvertValue<To, int64_t>(static_cast<int64_t>(v))
                                          : ConvertValue<To, double>(v);
        return Status::Ok();
      });
    };
    if (IsPacked(from)) {
      for (int64_t i = 0; i < n; ++i) HONE_RETURN_IF_ERROR(store(i, LoadPacked(x, i)));
      return Status::Ok();
    }
    if (from == DataType::kString) {
      for (int64_t i = 0; i < n; ++i) {
        HONE_ASSIGN_OR_RETURN(double d, ParseNumber(node, x.data<std::string>()[i]));
        HONE_RETURN_IF_ERROR(store(i, d));
      }
      return Status::Ok();
    }
    return VisitAll(node, from, [&]<typename From>() -> Status {
      const From* src = x.data<From>();
      for (int64_t i = 0; i < n; ++i)
        HONE_RETURN_IF_ERROR(store(i, static_cast<double>(static_cast<Acc<From>>(src[i]))));
      return Status::Ok();
    });
  }
  if (from == DataType::kString) {
    return VisitAll(node, to, [&]<typename To>() -> Status {
      const std::string* src = x.data<std::string>();
      To* dst = y.data<To>();
      for (int64_t i = 0; i < n; ++i) {
        const std::string& s = src[i];
        if constexpr (std::is_same_v<To, bool>) {
          dst[i] = !(s == "0" || s == "false" || s == "False" || s.empty());
        } else {
          HONE_ASSIGN_OR_RETURN(double d, ParseNumber(node, s));
          dst[i] = ConvertValue<To, double>(d);
        }
      }
      return Status::Ok();
    });
  }
  if (to == DataType::kString) {
    return VisitAll(node, from, [&]<typename From>() {
      const From* src = x.data<From>();
      std::string* dst = y.data<std::string>();
      for (int64_t i = 0; i < n; ++i) {
        if constexpr (kIsFloat<From>) {
          dst[i] = FormatFloat(static_cast<double>(static_cast<Acc<From>>(src[i])),
                               !std::is_same_v<From, double>);
        } else if constexpr (std::is_same_v<From, bool>) {
          dst[i] = src[i] ? "1" : "0";
        } else {
          dst[i] = std::to_string(src[i]);
        }
      }
      return Status::Ok();
    });
  }
  return VisitAll(node, from, [&]<typename From>() {
    return VisitAll(node, to, [&]<typename To>() {
      const From* src = x.data<From>();
      To* dst = y.data<To>();
      for (int64_t i = 0; i < n; ++i) dst[i] = ConvertValue<To, From>(src[i]);
      return Status::Ok();
    });
  });
}

bool CanCastTo(DataType d) {
  return DataTypeSize(d) != 0 || d == DataType::kString || Is4BitInt(d);
}

class Cast final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (ctx.opset() >= 6) {
      to_ = static_cast<DataType>(ctx.attr_int("to", 0));
    } else {
      auto name = ctx.attr_string("to", "");
      std::string lower;
      for (char c : name) lower += static_cast<char>(std::tolower(c));
      if (lower == "float") lower = "float32";
      if (lower == "double") lower = "float64";
      auto d = DataTypeFromName(lower);
      if (!d) return ctx.Invalid("unknown cast target '{}'", name);
      to_ = *d;
    }
    if (!CanCastTo(to_)) return ctx.Invalid("cast to {} is not supported", DataTypeName(to_));
    saturate_ = ctx.attr_int("saturate", 1) != 0;
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() == to_) {
      ctx.SetOutput(0, x);
      return Status::Ok();
    }
    Tensor& y = ctx.Output(0, to_, x.shape());
    return CastTensor(ctx.node(), x, y, saturate_);
  }

 private:
  DataType to_ = DataType::kUndefined;
  bool saturate_ = true;
};

class CastLike final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    saturate_ = ctx.attr_int("saturate", 1) != 0;
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    DataType to = ctx.input(1)->dtype();
    if (x.dtype() == to) {
      ctx.SetOutput(0, x);
      return Status::Ok();
    }
    if (!CanCastTo(to))
      return NotSupported("{}: cast to {} is not supported", ctx.node().Describe(),
                          DataTypeName(to));
    Tensor& y = ctx.Output(0, to, x.shape());
    return CastTensor(ctx.node(), x, y, saturate_);
  }

 private:
  bool saturate_ = true;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefCast() { return std::make_unique<Cast>(); }
std::unique_ptr<Kernel> CreateRefCastLike() { return std::make_unique<CastLike>(); }

}  // namespace hone::ref
