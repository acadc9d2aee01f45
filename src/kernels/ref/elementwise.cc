// Reference elementwise kernels.
// ONNX operators: unary math and activations (Abs .. Gelu, opsets 6-22), binary arithmetic,
// comparison and logic with multidirectional broadcasting (Add/Sub/Mul/Div 7-14, Pow 7-15,
// Equal/Less/Greater 7-19, ...), variadic Sum/Mean/Max/Min (8-13), Where (9-16), Clip (6-13),
// PRelu (7-16), Identity (1-21), Dropout (7-22). Cast and CastLike live in cast.cc.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "kernels/ref/broadcast.h"
#include "kernels/ref/common.h"
#include "kernels/ref/numpy_random.h"

namespace hone::ref {
namespace {

enum class UOp {
  kAbs,
  kNeg,
  kExp,
  kLog,
  kSqrt,
  kReciprocal,
  kFloor,
  kCeil,
  kRound,
  kSigmoid,
  kTanh,
  kRelu,
  kErf,
  kSin,
  kCos,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kSinh,
  kCosh,
  kAsinh,
  kAcosh,
  kAtanh,
  kSign,
  kSoftplus,
  kSoftsign,
  kLeakyRelu,
  kElu,
  kSelu,
  kHardSigmoid,
  kHardSwish,
  kThresholdedRelu,
  kCelu,
  kMish,
  kGelu,
  kNot,
  kBitwiseNot,
  kIsNaN,
  kIsInf,
};

struct UParams {
  double alpha = 0, beta = 0, gamma = 0;
  bool tanh_approx = false;                   // Gelu approximate="tanh"
  bool detect_pos = true, detect_neg = true;  // IsInf
};

// Which dtypes an op accepts: 0 float only, 1 signed numeric, 2 all numeric, 3 bool, 4 ints.
constexpr int DtypeGroup(UOp op) {
  switch (op) {
    case UOp::kAbs:
    case UOp::kNeg:
    case UOp::kSign:
    case UOp::kRelu:
      return 2;
    case UOp::kNot:
      return 3;
    case UOp::kBitwiseNot:
      return 4;
    default:
      return 0;
  }
}

template <UOp kOp, typename C>
inline C ApplyUnary(C x, const UParams& p) {
  if constexpr (kOp == UOp::kAbs) {
    if constexpr (std::is_unsigned_v<C>)
      return x;
    else
      return x < 0 ? static_cast<C>(-x) : x;
  } else if constexpr (kOp == UOp::kNeg) {
    return static_cast<C>(-x);
  } else if constexpr (kOp == UOp::kSign) {
    return static_cast<C>((x > C(0)) - (x < C(0)));
  } else if constexpr (kOp == UOp::kRelu) {
    return x > C(0) ? x : C(0);
  } else if constexpr (kOp == UOp::kNot) {
    return !x;
  } else if constexpr (kOp == UOp::kBitwiseNot) {
    return static_cast<C>(~x);
  } else {
    using std::exp, std::log, std::tanh;
    switch (kOp) {
      case UOp::kExp:
        return exp(x);
      case UOp::kLog:
        return log(x);
      case UOp::kSqrt:
        return std::sqrt(x);
      case UOp::kReciprocal:
        return C(1) / x;
      case UOp::kFloor:
        return std::floor(x);
      case UOp::kCeil:
        return std::ceil(x);
      case UOp::kRound:
        return std::nearbyint(x);  // default rounding mode: half to even
      case UOp::kSigmoid:
        return x >= 0 ? C(1) / (C(1) + exp(-x)) : exp(x) / (C(1) + exp(x));
      case UOp::kTanh:
        return tanh(x);
      case UOp::kErf:
        return std::erf(x);
      case UOp::kSin:
        return std::sin(x);
      case UOp::kCos:
        return std::cos(x);
      case UOp::kTan:
        return std::tan(x);
      case UOp::kAsin:
        return std::asin(x);
      case UOp::kAcos:
        return std::acos(x);
      case UOp::kAtan:
        return std::atan(x);
      case UOp::kSinh:
        return std::sinh(x);
      case UOp::kCosh:
        return std::cosh(x);
      case UOp::kAsinh:
        return std::asinh(x);
      case UOp::kAcosh:
        return std::acosh(x);
      case UOp::kAtanh:
        return std::atanh(x);
      case UOp::kSoftplus:
        return x > C(0) ? x + std::log1p(exp(-x)) : std::log1p(exp(x));
      case UOp::kSoftsign:
        return x / (C(1) + std::fabs(x));
      case UOp::kLeakyRelu:
        return x >= C(0) ? x : static_cast<C>(p.alpha) * x;
      case UOp::kElu:
        return x >= C(0) ? x : static_cast<C>(p.alpha) * (exp(x) - C(1));
      case UOp::kSelu:
        return static_cast<C>(p.gamma) *
               (x > C(0) ? x : static_cast<C>(p.alpha) * exp(x) - static_cast<C>(p.alpha));
      case UOp::kHardSigmoid:
        return std::max(C(0), std::min(C(1), static_cast<C>(p.alpha) * x + static_cast<C>(p.beta)));
      case UOp::kHardSwish:
        return x * std::max(C(0), std::min(C(1), x / C(6) + C(0.5)));
      case UOp::kThresholdedRelu:
        return x > static_cast<C>(p.alpha) ? x : C(0);
      case UOp::kCelu: {
        C a = static_cast<C>(p.alpha);
        return std::max(C(0), x) + std::min(C(0), a * (exp(x / a) - C(1)));
      }
      case UOp::kMish: {
        C sp = x > C(0) ? x + std::log1p(exp(-x)) : std::log1p(exp(x));
        return x * tanh(sp);
      }
      case UOp::kGelu:
        if (p.tanh_approx)
          return C(0.5) * x * (C(1) + tanh(C(0.7978845608028654) * (x + C(0.044715) * x * x * x)));
        return C(0.5) * x * (C(1) + std::erf(x * C(0.7071067811865476)));
      default:
        return x;
    }
  }
}

template <UOp kOp>
class Unary final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    switch (kOp) {
      case UOp::kLeakyRelu:
        p_.alpha = ctx.attr_float("alpha", 0.01f);
        break;
      case UOp::kElu:
        p_.alpha = ctx.attr_float("alpha", 1.0f);
        break;
      case UOp::kCelu:
        p_.alpha = ctx.attr_float("alpha", 1.0f);
        break;
      case UOp::kThresholdedRelu:
        p_.alpha = ctx.attr_float("alpha", 1.0f);
        break;
      case UOp::kSelu:
        p_.alpha = ctx.attr_float("alpha", 1.67326319217681884765625f);
        p_.gamma = ctx.attr_float("gamma", 1.05070102214813232421875f);
        break;
      case UOp::kHardSigmoid:
        p_.alpha = ctx.attr_float("alpha", 0.2f);
        p_.beta = ctx.attr_float("beta", 0.5f);
        break;
      case UOp::kGelu: {
        std::string a = ctx.attr_string("approximate", "none");
        if (a != "none" && a != "tanh") return ctx.Invalid("approximate must be none or tanh");
        p_.tanh_approx = a == "tanh";
        break;
      }
      case UOp::kIsInf:
        p_.detect_pos = ctx.attr_int("detect_positive", 1) != 0;
        p_.detect_neg = ctx.attr_int("detect_negative", 1) != 0;
        break;
      default:
        break;
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const int64_t n = x.numel();
    if constexpr (kOp == UOp::kIsNaN || kOp == UOp::kIsInf) {
      Tensor& y = ctx.Output(0, DataType::kBool, x.shape());
      return VisitFloat(ctx.node(), x.dtype(), [&]<typename T>() {
        const T* src = x.data<T>();
        bool* dst = y.data<bool>();
        for (int64_t i = 0; i < n; ++i) {
          auto v = static_cast<Acc<T>>(src[i]);
          if constexpr (kOp == UOp::kIsNaN) {
            dst[i] = std::isnan(v);
          } else {
            dst[i] = std::isinf(v) && ((v > 0 && p_.detect_pos) || (v < 0 && p_.detect_neg));
          }
        }
        return Status::Ok();
      });
    } else {
      Tensor& y = ctx.Output(0, x.dtype(), x.shape());
      auto body = [&]<typename T>() {
        const T* src = x.data<T>();
        T* dst = y.data<T>();
        for (int64_t i = 0; i < n; ++i)
          dst[i] = static_cast<T>(ApplyUnary<kOp, Acc<T>>(static_cast<Acc<T>>(src[i]), p_));
        return Status::Ok();
      };
      constexpr int group = DtypeGroup(kOp);
      if constexpr (group == 0) return VisitFloat(ctx.node(), x.dtype(), body);
      if constexpr (group == 2) return VisitNumeric(ctx.node(), x.dtype(), body);
      if constexpr (group == 4) return VisitInt(ctx.node(), x.dtype(), body);
      if constexpr (group == 3) {
        if (x.dtype() != DataType::kBool) return UnsupportedDtype(ctx.node(), x.dtype());
        return body.template operator()<bool>();
      }
      return Status::Ok();
    }
  }

 private:
  UParams p_;
};

enum class BOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,
  kMod,
  kMax,
  kMin,
  kEqual,
  kLess,
  kGreater,
  kLessOrEqual,
  kGreaterOrEqual,
  kAnd,
  kOr,
  kXor,
  kBitShift,
  kBitwiseAnd,
  kBitwiseOr,
  kBitwiseXor,
  kPRelu,
};

constexpr bool IsCompare(BOp op) {
  return op == BOp::kEqual || op == BOp::kLess || op == BOp::kGreater || op == BOp::kLessOrEqual ||
         op == BOp::kGreaterOrEqual;
}
constexpr bool IsLogic(BOp op) { return op == BOp::kAnd || op == BOp::kOr || op == BOp::kXor; }
constexpr bool IsBitwise(BOp op) {
  return op == BOp::kBitShift || op == BOp::kBitwiseAnd || op == BOp::kBitwiseOr ||
         op == BOp::kBitwiseXor;
}

template <BOp kOp, typename C>
inline C ApplyArith(C a, C b, bool fmod_flag, bool shift_left) {
  if constexpr (kOp == BOp::kAdd) return static_cast<C>(a + b);
  if constexpr (kOp == BOp::kSub) return static_cast<C>(a - b);
  if constexpr (kOp == BOp::kMul) return static_cast<C>(a * b);
  if constexpr (kOp == BOp::kDiv) return static_cast<C>(a / b);
  if constexpr (kOp == BOp::kMax) {
    if constexpr (std::is_floating_point_v<C>)
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<C>::quiet_NaN();
    return a > b ? a : b;
  }
  if constexpr (kOp == BOp::kMin) {
    if constexpr (std::is_floating_point_v<C>)
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<C>::quiet_NaN();
    return a < b ? a : b;
  }
  if constexpr (kOp == BOp::kPRelu) return a < C(0) ? static_cast<C>(a * b) : a;
  if constexpr (kOp == BOp::kMod) {
    if constexpr (std::is_floating_point_v<C>) {
      return std::fmod(a, b);
    } else {
      if (b == 0) return 0;
      C r = static_cast<C>(a % b);
      if (!fmod_flag && r != 0 && ((r < 0) != (b < 0))) r = static_cast<C>(r + b);
      return r;
    }
  }
  if constexpr (IsBitwise(kOp)) {
    if constexpr (std::is_integral_v<C>) {
      if constexpr (kOp == BOp::kBitwiseAnd) return static_cast<C>(a & b);
      if constexpr (kOp == BOp::kBitwiseOr) return static_cast<C>(a | b);
      if constexpr (kOp == BOp::kBitwiseXor) return static_cast<C>(a ^ b);
      if constexpr (kOp == BOp::kBitShift) {
        if (b >= static_cast<C>(sizeof(C) * 8)) return 0;
        return shift_left ? static_cast<C>(a << b) : static_cast<C>(a >> b);
      }
    }
    return a;
  }
  return a;
}

template <BOp kOp>
class Binary final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    fmod_ = ctx.attr_int("fmod", 0) != 0;
    if constexpr (kOp == BOp::kBitShift) {
      std::string d = ctx.attr_string("direction", "");
      if (d != "LEFT" && d != "RIGHT") return ctx.Invalid("direction must be LEFT or RIGHT");
      shift_left_ = d == "LEFT";
    }
    // Opsets before 7 used axis/broadcast attributes instead of numpy broadcasting.
    if (ctx.has_attr("broadcast") || ctx.has_attr("axis"))
      legacy_axis_ = ctx.attr_int("broadcast", 0) ? ctx.attr_int("axis", -1) : INT64_MIN;
    has_legacy_ = ctx.has_attr("broadcast");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& a = *ctx.input(0);
    Tensor b = *ctx.input(1);
    if (has_legacy_ && legacy_axis_ != INT64_MIN && b.rank() < a.rank()) {
      // Legacy broadcast: b's dims align with a's starting at `axis`.
      int64_t axis = legacy_axis_ < 0 ? a.rank() - b.rank() : legacy_axis_;
      std::vector<int64_t> s(static_cast<size_t>(a.rank()), 1);
      for (int64_t i = 0; i < b.rank(); ++i) s[static_cast<size_t>(axis + i)] = b.dim(i);
      b = b.Reshaped(s);
    }
    if constexpr (kOp == BOp::kPRelu) {
      // slope broadcasts unidirectionally to X
      if (b.rank() == 1 && a.rank() >= 2 && b.dim(0) == a.dim(1) &&
          a.dim(a.rank() - 1) != b.dim(0)) {
        std::vector<int64_t> s(static_cast<size_t>(a.rank()), 1);
        s[1] = b.dim(0);
        b = b.Reshaped(s);  // common legacy per-channel slope
      }
    }
    if (kOp != BOp::kPow && a.dtype() != b.dtype())
      return ctx.Error("inputs have different dtypes: {} and {}", DataTypeName(a.dtype()),
                       DataTypeName(b.dtype()));
    HONE_ASSIGN_OR_RETURN(Shape out_shape, BroadcastShapes(ctx.node(), a.shape(), b.shape()));
    const bool out_bool = IsCompare(kOp) || IsLogic(kOp);
    Tensor& y = ctx.Output(0, out_bool ? DataType::kBool : a.dtype(), out_shape);

    if constexpr (IsLogic(kOp)) {
      if (a.dtype() != DataType::kBool) return UnsupportedDtype(ctx.node(), a.dtype());
      const bool* pa = a.data<bool>();
      const bool* pb = b.data<bool>();
      bool* py = y.data<bool>();
      ForEachBroadcast<2>(
          out_shape, {&a.shape(), &b.shape()}, [&](int64_t o, const std::array<int64_t, 2>& off) {
            bool u = pa[off[0]], v = pb[off[1]];
            py[o] = kOp == BOp::kAnd ? (u && v) : kOp == BOp::kOr ? (u || v) : (u != v);
          });
      return Status::Ok();
    } else if constexpr (kOp == BOp::kPow) {
      return VisitNumeric(ctx.node(), a.dtype(), [&]<typename T>() {
        return VisitNumeric(ctx.node(), b.dtype(), [&]<typename E>() {
          const T* pa = a.data<T>();
          const E* pb = b.data<E>();
          T* py = y.data<T>();
          ForEachBroadcast<2>(out_shape, {&a.shape(), &b.shape()},
                              [&](int64_t o, const std::array<int64_t, 2>& off) {
                                double base = static_cast<double>(static_cast<Acc<T>>(pa[off[0]]));
                                double e = static_cast<double>(static_cast<Acc<E>>(pb[off[1]]));
                                if constexpr (kIsFloat<T>) {
                                  py[o] = static_cast<T>(static_cast<Acc<T>>(std::pow(base, e)));
                                } else {
                                  py[o] = static_cast<T>(static_cast<int64_t>(std::pow(base, e)));
                                }
                              });
          return Status::Ok();
        });
      });
    } else {
      auto body = [&]<typename T>() -> Status {
        using C = Acc<T>;
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        if constexpr (!kIsFloat<T> && (kOp == BOp::kDiv || kOp == BOp::kMod)) {
          for (int64_t i = 0; i < b.numel(); ++i)
            if (pb[i] == T(0)) return ctx.Error("integer division by zero");
        }
        if constexpr (IsCompare(kOp)) {
          bool* py = y.data<bool>();
          ForEachBroadcast<2>(out_shape, {&a.shape(), &b.shape()},
                              [&](int64_t o, const std::array<int64_t, 2>& off) {
                                C u = static_cast<C>(pa[off[0]]), v = static_cast<C>(pb[off[1]]);
                                switch (kOp) {
                                  case BOp::kEqual:
                                    py[o] = u == v;
                                    break;
                                  case BOp::kLess:
                                    py[o] = u < v;
                                    break;
                                  case BOp::kGreater:
                                    py[o] = u > v;
                                    break;
                                  case BOp::kLessOrEqual:
                                    py[o] = u <= v;
                                    break;
                                  default:
                                    py[o] = u >= v;
                                    break;
                                }
                              });
        } else {
          T* py = y.data<T>();
          if (a.shape() == b.shape()) {
            const int64_t n = a.numel();
            for (int64_t i = 0; i < n; ++i)
              py[i] = static_cast<T>(ApplyArith<kOp, C>(static_cast<C>(pa[i]),
                                                        static_cast<C>(pb[i]), fmod_, shift_left_));
          } else {
            ForEachBroadcast<2>(
                out_shape, {&a.shape(), &b.shape()},
                [&](int64_t o, const std::array<int64_t, 2>& off) {
                  py[o] = static_cast<T>(ApplyArith<kOp, C>(
                      static_cast<C>(pa[off[0]]), static_cast<C>(pb[off[1]]), fmod_, shift_left_));
                });
          }
        }
        return Status::Ok();
      };
      if constexpr (IsBitwise(kOp)) return VisitInt(ctx.node(), a.dtype(), body);
      if constexpr (kOp == BOp::kEqual) {
        if (a.dtype() == DataType::kBool) return body.template operator()<bool>();
        if (a.dtype() == DataType::kString) {
          bool* py = y.data<bool>();
          const auto* pa = a.data<std::string>();
          const auto* pb = b.data<std::string>();
          ForEachBroadcast<2>(out_shape, {&a.shape(), &b.shape()},
                              [&](int64_t o, const std::array<int64_t, 2>& off) {
                                py[o] = pa[off[0]] == pb[off[1]];
                              });
          return Status::Ok();
        }
      }
      return VisitNumeric(ctx.node(), a.dtype(), body);
    }
  }

 private:
  bool fmod_ = false;
  bool shift_left_ = false;
  bool has_legacy_ = false;
  int64_t legacy_axis_ = INT64_MIN;
};

// Sum, Mean, Max, Min over any number of inputs, with broadcasting.
template <BOp kOp, bool kMean>
class Variadic final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const int n = ctx.num_inputs();
    if (n < 1) return ctx.Error("needs at least one input");
    Shape shape = ctx.input(0)->shape();
    for (int i = 1; i < n; ++i) {
      if (ctx.input(i)->dtype() != ctx.input(0)->dtype())
        return ctx.Error("inputs have different dtypes");
      HONE_ASSIGN_OR_RETURN(shape, BroadcastShapes(ctx.node(), shape, ctx.input(i)->shape()));
    }
    const DataType dt = ctx.input(0)->dtype();
    Tensor& y = ctx.Output(0, dt, shape);
    return VisitNumeric(ctx.node(), dt, [&]<typename T>() {
      using C = Acc<T>;
      std::vector<C> acc(static_cast<size_t>(ShapeSize(shape)));
      for (int i = 0; i < n; ++i) {
        const Tensor& x = *ctx.input(i);
        const T* px = x.data<T>();
        ForEachBroadcast<1>(shape, {&x.shape()}, [&](int64_t o, const std::array<int64_t, 1>& off) {
          C v = static_cast<C>(px[off[0]]);
          acc[static_cast<size_t>(o)] =
              i == 0 ? v : ApplyArith<kOp, C>(acc[static_cast<size_t>(o)], v, false, false);
        });
      }
      T* py = y.data<T>();
      for (size_t i = 0; i < acc.size(); ++i)
        py[i] = static_cast<T>(kMean ? static_cast<C>(acc[i] / static_cast<C>(n)) : acc[i]);
      return Status::Ok();
    });
  }
};

class Where final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& c = *ctx.input(0);
    const Tensor& x = *ctx.input(1);
    const Tensor& yv = *ctx.input(2);
    if (c.dtype() != DataType::kBool) return ctx.Error("condition must be bool");
    if (x.dtype() != yv.dtype()) return ctx.Error("X and Y have different dtypes");
    HONE_ASSIGN_OR_RETURN(auto s1, BroadcastShapes(ctx.node(), c.shape(), x.shape()));
    HONE_ASSIGN_OR_RETURN(auto shape, BroadcastShapes(ctx.node(), s1, yv.shape()));
    Tensor& out = ctx.Output(0, x.dtype(), shape);
    return VisitAllWithString(ctx.node(), x.dtype(), [&]<typename T>() {
      const bool* pc = c.data<bool>();
      const T* px = x.data<T>();
      const T* py = yv.data<T>();
      T* po = out.data<T>();
      ForEachBroadcast<3>(shape, {&c.shape(), &x.shape(), &yv.shape()},
                          [&](int64_t o, const std::array<int64_t, 3>& off) {
                            po[o] = pc[off[0]] ? px[off[1]] : py[off[2]];
                          });
      return Status::Ok();
    });
  }
};

class Clip final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (ctx.opset() < 11) {
      lo_ = ctx.attr_float("min", -std::numeric_limits<float>::infinity());
      hi_ = ctx.attr_float("max", std::numeric_limits<float>::infinity());
      attrs_ = true;
    }
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    Tensor& y = ctx.Output(0, x.dtype(), x.shape());
    return VisitNumeric(ctx.node(), x.dtype(), [&]<typename T>() {
      using C = Acc<T>;
      C lo = std::numeric_limits<C>::lowest(), hi = std::numeric_limits<C>::max();
      if (attrs_) {
        lo = static_cast<C>(lo_);
        hi = static_cast<C>(hi_);
      } else {
        if (const Tensor* t = ctx.input(1)) lo = static_cast<C>(t->data<T>()[0]);
        if (const Tensor* t = ctx.input(2)) hi = static_cast<C>(t->data<T>()[0]);
      }
      const T* px = x.data<T>();
      T* py = y.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        C v = static_cast<C>(px[i]);
        py[i] = static_cast<T>(v < lo ? lo : (v > hi ? hi : v));
      }
      return Status::Ok();
    });
  }

 private:
  bool attrs_ = false;
  float lo_ = 0, hi_ = 0;
};

// Identity passes any value through: tensors, sequences (16+) and optionals (16+).
class Identity final : public Kernel {
 public:
  bool AcceptsAnyValue() const override { return true; }
  Status Compute(ComputeContext& ctx) const override {
    const Value* v = ctx.input_value(0);
    ctx.SetOutputValue(0, v ? *v : Value::None());
    return Status::Ok();
  }
};

// Dropout. Inference (the usual case): Y = X and the optional mask is all true. Training mode
// (input 2 true, opset 12+): mask = uniform[0,1) >= ratio drawn like NumPy's RandomState(seed),
// Y = X * mask / (1 - ratio), as the ONNX reference does.
class Dropout final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    has_seed_ = ctx.has_attr("seed");
    seed_ = ctx.attr_int("seed", 0);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const Tensor* tm = ctx.input(2);
    const bool training =
        tm && tm->numel() == 1 && tm->dtype() == DataType::kBool && tm->data<bool>()[0];
    double ratio = 0.5;
    if (const Tensor* r = ctx.input(1)) {
      HONE_ASSIGN_OR_RETURN(ratio, ToScalar(ctx.node(), *r, "ratio"));
    }
    if (!training || ratio == 0) {
      ctx.SetOutput(0, x);
      if (ctx.num_outputs() > 1) {
        Tensor& m = ctx.Output(1, DataType::kBool, x.shape());
        std::fill(m.data<bool>(), m.data<bool>() + m.numel(), true);
      }
      return Status::Ok();
    }
    if (ratio < 0 || ratio >= 1) return ctx.Error("ratio must be in [0, 1), got {}", ratio);
    LegacyRandomState rng(has_seed_ ? static_cast<uint32_t>(seed_) : std::random_device{}());
    Tensor& y = ctx.Output(0, x.dtype(), x.shape());
    Tensor mask = Tensor::Empty(DataType::kBool, x.shape());
    bool* pm = mask.data<bool>();
    for (int64_t i = 0; i < x.numel(); ++i) pm[i] = rng.NextDouble() >= ratio;
    if (ctx.num_outputs() > 1) ctx.SetOutput(1, mask);
    return VisitFloat(ctx.node(), x.dtype(), [&]<typename T>() {
      using C = Acc<T>;
      const C scale = static_cast<C>(1.0 / (1.0 - ratio));
      const T* px = x.data<T>();
      T* py = y.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i)
        py[i] = static_cast<T>(pm[i] ? static_cast<C>(px[i]) * scale : C(0));
      return Status::Ok();
    });
  }

 private:
  bool has_seed_ = false;
  int64_t seed_ = 0;
};

}  // namespace

#define HONE_UNARY_FACTORY(Name) \
  std::unique_ptr<Kernel> CreateRef##Name() { return std::make_unique<Unary<UOp::k##Name>>(); }
HONE_UNARY_FACTORY(Abs)
HONE_UNARY_FACTORY(Neg)
HONE_UNARY_FACTORY(Exp)
HONE_UNARY_FACTORY(Log)
HONE_UNARY_FACTORY(Sqrt)
HONE_UNARY_FACTORY(Reciprocal)
HONE_UNARY_FACTORY(Floor)
HONE_UNARY_FACTORY(Ceil)
HONE_UNARY_FACTORY(Round)
HONE_UNARY_FACTORY(Sigmoid)
HONE_UNARY_FACTORY(Tanh)
HONE_UNARY_FACTORY(Relu)
HONE_UNARY_FACTORY(Erf)
HONE_UNARY_FACTORY(Sin)
HONE_UNARY_FACTORY(Cos)
HONE_UNARY_FACTORY(Tan)
HONE_UNARY_FACTORY(Asin)
HONE_UNARY_FACTORY(Acos)
HONE_UNARY_FACTORY(Atan)
HONE_UNARY_FACTORY(Sinh)
HONE_UNARY_FACTORY(Cosh)
HONE_UNARY_FACTORY(Asinh)
HONE_UNARY_FACTORY(Acosh)
HONE_UNARY_FACTORY(Atanh)
HONE_UNARY_FACTORY(Sign)
HONE_UNARY_FACTORY(Softplus)
HONE_UNARY_FACTORY(Softsign)
HONE_UNARY_FACTORY(LeakyRelu)
HONE_UNARY_FACTORY(Elu)
HONE_UNARY_FACTORY(Selu)
HONE_UNARY_FACTORY(HardSigmoid)
HONE_UNARY_FACTORY(HardSwish)
HONE_UNARY_FACTORY(ThresholdedRelu)
HONE_UNARY_FACTORY(Celu)
HONE_UNARY_FACTORY(Mish)
HONE_UNARY_FACTORY(Gelu)
HONE_UNARY_FACTORY(Not)
HONE_UNARY_FACTORY(BitwiseNot)
HONE_UNARY_FACTORY(IsNaN)
HONE_UNARY_FACTORY(IsInf)
#undef HONE_UNARY_FACTORY

#define HONE_BINARY_FACTORY(Name) \
  std::unique_ptr<Kernel> CreateRef##Name() { return std::make_unique<Binary<BOp::k##Name>>(); }
HONE_BINARY_FACTORY(Add)
HONE_BINARY_FACTORY(Sub)
HONE_BINARY_FACTORY(Mul)
HONE_BINARY_FACTORY(Div)
HONE_BINARY_FACTORY(Pow)
HONE_BINARY_FACTORY(Mod)
HONE_BINARY_FACTORY(Equal)
HONE_BINARY_FACTORY(Less)
HONE_BINARY_FACTORY(Greater)
HONE_BINARY_FACTORY(LessOrEqual)
HONE_BINARY_FACTORY(GreaterOrEqual)
HONE_BINARY_FACTORY(And)
HONE_BINARY_FACTORY(Or)
HONE_BINARY_FACTORY(Xor)
HONE_BINARY_FACTORY(BitShift)
HONE_BINARY_FACTORY(BitwiseAnd)
HONE_BINARY_FACTORY(BitwiseOr)
HONE_BINARY_FACTORY(BitwiseXor)
HONE_BINARY_FACTORY(PRelu)
#undef HONE_BINARY_FACTORY

std::unique_ptr<Kernel> CreateRefSum() { return std::make_unique<Variadic<BOp::kAdd, false>>(); }
std::unique_ptr<Kernel> CreateRefMean() { return std::make_unique<Variadic<BOp::kAdd, true>>(); }
std::unique_ptr<Kernel> CreateRefMax() { return std::make_unique<Variadic<BOp::kMax, false>>(); }
std::unique_ptr<Kernel> CreateRefMin() { return std::make_unique<Variadic<BOp::kMin, false>>(); }
std::unique_ptr<Kernel> CreateRefWhere() { return std::make_unique<Where>(); }
std::unique_ptr<Kernel> CreateRefClip() { return std::make_unique<Clip>(); }
std::unique_ptr<Kernel> CreateRefIdentity() { return std::make_unique<Identity>(); }
std::unique_ptr<Kernel> CreateRefDropout() { return std::make_unique<Dropout>(); }

}  // namespace hone::ref
