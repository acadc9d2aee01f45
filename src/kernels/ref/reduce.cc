// Reference reduction and normalisation-along-an-axis kernels.
// ONNX operators: ReduceSum (1-22; axes an attribute before 13, an input from
// 13), ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
// ReduceLogSum, ReduceLogSumExp, ReduceSumSquare (1-22; axes an attribute
// before 18, an input from 18; keepdims, noop_with_empty_axes), ArgMax / ArgMin
// (1-22; select_last_index from 12), Softmax / LogSoftmax / Hardmax (1-22;
// before 13 the input is coerced to 2-D at `axis`, default 1; from 13 along one
// axis, default -1), TopK (1-22; k an attribute before 10, an input from 10;
// largest and sorted from 11; ties keep the lower index first), CumSum (11-22).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>
#include <vector>

#include "kernels/ref/broadcast.h"
#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

enum class RKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// The accumulator of a reduction: double for floats, 64-bit integers for
// integers.
template <typename T>
using RAcc = std::conditional_t<kIsFloat<T>, double,
                                std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;

template <RKind kKind>
class Reduce final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    keepdims_ = ctx.attr_int("keepdims", 1) != 0;
    noop_ = ctx.attr_int("noop_with_empty_axes", 0) != 0;
    const int64_t axes_input_since = kKind == RKind::kSum ? 13 : 18;
    axes_from_input_ = ctx.opset() >= axes_input_since;
    if (!axes_from_input_) axes_ = ctx.attr_ints("axes");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    std::vector<int64_t> axes = axes_;
    if (axes_from_input_ && ctx.input(1)) {
      HONE_ASSIGN_OR_RETURN(axes, ToInt64Vector(ctx.node(), *ctx.input(1), "axes"));
    }
    const size_t rank = static_cast<size_t>(x.rank());
    std::vector<bool> reduced(rank, axes.empty());
    if (axes.empty() && noop_) {
      ctx.SetOutput(0, x);
      return Status::Ok();
    }
    for (int64_t a : axes) {
      HONE_ASSIGN_OR_RETURN(int64_t ax, NormalizeAxis(ctx.node(), a, x.rank(), "axes entry"));
      reduced[static_cast<size_t>(ax)] = true;
    }
    Shape keep_shape(rank), out_shape;
    for (size_t d = 0; d < rank; ++d) {
      keep_shape[d] = reduced[d] ? 1 : x.shape()[d];
      if (!reduced[d] || keepdims_) out_shape.push_back(keep_shape[d]);
    }
    Tensor& y = ctx.Output(0, x.dtype(), out_shape);
    const int64_t n_out = y.numel();
    const int64_t count = n_out == 0 ? 0 : x.numel() / n_out;
    auto body = [&]<typename T>() {
      using A = RAcc<T>;
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      // Calls f(out_offset, value) for every input element.
      auto each = [&](auto&& f) {
        ForEachBroadcast<1>(x.shape(), {&keep_shape},
                            [&](int64_t i, const std::array<int64_t, 1>& off) {
                              f(off[0], static_cast<A>(static_cast<Acc<T>>(src[i])));
                            });
      };
      std::vector<A> acc(static_cast<size_t>(n_out));
      if constexpr (kKind == RKind::kMax || kKind == RKind::kMin) {
        const bool is_max = kKind == RKind::kMax;
        A init;
        if constexpr (std::is_floating_point_v<A>) {
          init = is_max ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::infinity();
        } else {
          using L = std::numeric_limits<Acc<T>>;
          init = is_max ? static_cast<A>(L::lowest()) : static_cast<A>(L::max());
        }
        std::fill(acc.begin(), acc.end(), init);
        each([&](int64_t o, A v) {
          A& a = acc[static_cast<size_t>(o)];
          if constexpr (std::is_floating_point_v<A>) {
            if (std::isnan(a)) return;
            if (std::isnan(v)) {
              a = v;
              return;
            }
          }
          if (is_max ? v > a : v < a) a = v;
        });
        for (int64_t o = 0; o < n_out; ++o)
          dst[o] = static_cast<T>(static_cast<Acc<T>>(acc[static_cast<size_t>(o)]));
      } else if constexpr (kKind == RKind::kLogSumExp) {
        // max + log(sum(exp(x - max))), in double.
        std::vector<double> mx(static_cast<size_t>(n_out),
                               -std::numeric_limits<double>::infinity());
        std::vector<double> sum(static_cast<size_t>(n_out), 0.0);
        each([&](int64_t o, A v) {
          mx[static_cast<size_t>(o)] = std::max(mx[static_cast<size_t>(o)], static_cast<double>(v));
        });
        each([&](int64_t o, A v) {
          const double m = mx[static_cast<size_t>(o)];
          sum[static_cast<size_t>(o)] += std::isinf(m) ? std::exp(static_cast<double>(v))
                                                       : std::exp(static_cast<double>(v) - m);
        });
        for (int64_t o = 0; o < n_out; ++o) {
          const double m = mx[static_cast<size_t>(o)];
          const double r = (std::isinf(m) ? 0.0 : m) + std::log(sum[static_cast<size_t>(o)]);
          dst[o] = static_cast<T>(static_cast<Acc<T>>(r));
        }
      } else {
        if constexpr (kKind == RKind::kProd) std::fill(acc.begin(), acc.end(), A(1));
        each([&](int64_t o, A v) {
          A& a = acc[static_cast<size_t>(o)];
          if constexpr (kKind == RKind::kProd) {
            a = static_cast<A>(a * v);
          } else if constexpr (kKind == RKind::kL1) {
            if constexpr (std::is_unsigned_v<A>) {
              a += v;
            } else {
              a += v < A(0) ? static_cast<A>(-v) : v;
            }
          } else if constexpr (kKind == RKind::kL2 || kKind == RKind::kSumSquare) {
            a = static_cast<A>(a + v * v);
          } else {
            a = static_cast<A>(a + v);
          }
        });
        for (int64_t o = 0; o < n_out; ++o) {
          A a = acc[static_cast<size_t>(o)];
          if constexpr (kKind == RKind::kMean) {
            if constexpr (std::is_floating_point_v<A>) {
              a = a / static_cast<A>(count);
            } else {
              a = count == 0 ? A(0) : static_cast<A>(a / static_cast<A>(count));
            }
          }
          if constexpr (kKind == RKind::kL2 || kKind == RKind::kLogSum) {
            const double r = kKind == RKind::kL2 ? std::sqrt(static_cast<double>(a))
                                                 : std::log(static_cast<double>(a));
            dst[o] = static_cast<T>(static_cast<Acc<T>>(r));
          } else {
            dst[o] = static_cast<T>(static_cast<Acc<T>>(a));
          }
        }
      }
      return Status::Ok();
    };
    // ReduceMax/ReduceMin accept bool from opset 20.
    if (x.dtype() == DataType::kBool && (kKind == RKind::kMax || kKind == RKind::kMin))
      return body.template operator()<bool>();
    return VisitNumeric(ctx.node(), x.dtype(), body);
  }

 private:
  bool keepdims_ = true;
  bool noop_ = false;
  bool axes_from_input_ = false;
  std::vector<int64_t> axes_;
};

template <bool kMax>
class ArgReduce final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", 0);
    keepdims_ = ctx.attr_int("keepdims", 1) != 0;
    last_ = ctx.attr_int("select_last_index", 0) != 0;
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, x.rank()));
    const size_t ua = static_cast<size_t>(axis);
    const int64_t dim = x.dim(axis);
    if (dim == 0)
      return ctx.Error("cannot take Arg{} over the empty axis {}", kMax ? "Max" : "Min", axis);
    const int64_t outer = Product(x.shape(), 0, ua);
    const int64_t inner = Product(x.shape(), ua + 1, x.shape().size());
    Shape out_shape = x.shape();
    if (keepdims_) {
      out_shape[ua] = 1;
    } else {
      out_shape.erase(out_shape.begin() + axis);
    }
    Tensor& y = ctx.Output(0, DataType::kInt64, out_shape);
    int64_t* dst = y.data<int64_t>();
    return VisitNumeric(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* src = x.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const T* p = src + o * dim * inner + i;
          int64_t best = 0;
          Acc<T> bv = static_cast<Acc<T>>(p[0]);
          for (int64_t k = 1; k < dim; ++k) {
            Acc<T> v = static_cast<Acc<T>>(p[k * inner]);
            const bool better = kMax ? (last_ ? v >= bv : v > bv) : (last_ ? v <= bv : v < bv);
            if (better) {
              bv = v;
              best = k;
            }
          }
          dst[o * inner + i] = best;
        }
      return Status::Ok();
    });
  }

 private:
  int64_t axis_ = 0;
  bool keepdims_ = true;
  bool last_ = false;
};

enum class SKind { kSoftmax, kLogSoftmax, kHardmax };

template <SKind kKind>
class SoftmaxLike final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    legacy_ = ctx.opset() < 13;
    axis_ = ctx.attr_int("axis", legacy_ ? 1 : -1);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const int64_t rank = std::max<int64_t>(x.rank(), 1);
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, rank));
    const Shape shape = x.rank() == 0 ? Shape{1} : x.shape();
    const size_t ua = static_cast<size_t>(axis);
    const int64_t outer = Product(shape, 0, ua);
    int64_t n, inner;
    if (legacy_) {
      n = Product(shape, ua, shape.size());
      inner = 1;
    } else {
      n = shape[ua];
      inner = Product(shape, ua + 1, shape.size());
    }
    Tensor& y = ctx.Output(0, x.dtype(), x.shape());
    if (n == 0) return Status::Ok();
    return VisitFloat(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const T* p = src + o * n * inner + i;
          T* q = dst + o * n * inner + i;
          double mx = static_cast<double>(static_cast<Acc<T>>(p[0]));
          int64_t arg = 0;
          for (int64_t k = 1; k < n; ++k) {
            double v = static_cast<double>(static_cast<Acc<T>>(p[k * inner]));
            if (v > mx) {
              mx = v;
              arg = k;
            }
          }
          if constexpr (kKind == SKind::kHardmax) {
            for (int64_t k = 0; k < n; ++k)
              q[k * inner] = static_cast<T>(static_cast<Acc<T>>(k == arg ? 1 : 0));
          } else {
            double sum = 0;
            for (int64_t k = 0; k < n; ++k)
              sum += std::exp(static_cast<double>(static_cast<Acc<T>>(p[k * inner])) - mx);
            const double log_sum = std::log(sum);
            for (int64_t k = 0; k < n; ++k) {
              const double v = static_cast<double>(static_cast<Acc<T>>(p[k * inner])) - mx;
              const double r = kKind == SKind::kSoftmax ? std::exp(v) / sum : v - log_sum;
              q[k * inner] = static_cast<T>(static_cast<Acc<T>>(r));
            }
          }
        }
      return Status::Ok();
    });
  }

 private:
  bool legacy_ = false;
  int64_t axis_ = -1;
};

class TopK final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", -1);
    largest_ = ctx.attr_int("largest", 1) != 0;
    k_from_input_ = ctx.opset() >= 10;
    if (!k_from_input_) {
      if (!ctx.has_attr("k")) return ctx.Invalid("attribute 'k' is required");
      k_ = ctx.attr_int("k", 0);
    }
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    int64_t k = k_;
    if (k_from_input_) {
      if (!ctx.input(1)) return ctx.Error("input 'K' is required");
      HONE_ASSIGN_OR_RETURN(std::vector<int64_t> kv, ToInt64Vector(ctx.node(), *ctx.input(1), "K"));
      if (kv.size() != 1) return ctx.Error("K must have one element, got {}", kv.size());
      k = kv[0];
    }
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, x.rank()));
    const size_t ua = static_cast<size_t>(axis);
    const int64_t dim = x.dim(axis);
    if (k < 0 || k > dim) return ctx.Error("K = {} is outside [0, {}] for axis {}", k, dim, axis);
    const int64_t outer = Product(x.shape(), 0, ua);
    const int64_t inner = Product(x.shape(), ua + 1, x.shape().size());
    Shape out_shape = x.shape();
    out_shape[ua] = k;
    Tensor& vals = ctx.Output(0, x.dtype(), out_shape);
    Tensor& idxs = ctx.Output(1, DataType::kInt64, out_shape);
    return VisitNumeric(ctx.node(), x.dtype(), [&]<typename T>() {
      using C = Acc<T>;
      const T* src = x.data<T>();
      T* vd = vals.data<T>();
      int64_t* id = idxs.data<int64_t>();
      std::vector<int64_t> order(static_cast<size_t>(dim));
      std::vector<C> v(static_cast<size_t>(dim));
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const T* p = src + o * dim * inner + i;
          for (int64_t j = 0; j < dim; ++j)
            v[static_cast<size_t>(j)] = static_cast<C>(p[j * inner]);
          std::iota(order.begin(), order.end(), 0);
          // NaN ranks above every number (as in NumPy's sort), ties by the
          // lower index.
          auto before = [&](int64_t a, int64_t b) {
            const C va = v[static_cast<size_t>(a)], vb = v[static_cast<size_t>(b)];
            if constexpr (kIsFloat<T>) {
              const bool na = std::isnan(static_cast<double>(va));
              const bool nb = std::isnan(static_cast<double>(vb));
              if (na || nb) {
                if (na && nb) return a < b;
                return largest_ ? na : nb;
              }
            }
            if (va != vb) return largest_ ? va > vb : va < vb;
            return a < b;
          };
          std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
          for (int64_t j = 0; j < k; ++j) {
            const int64_t s = order[static_cast<size_t>(j)];
            const int64_t off = (o * k + j) * inner + i;
            vd[off] = p[s * inner];
            id[off] = s;
          }
        }
      return Status::Ok();
    });
  }

 private:
  int64_t axis_ = -1;
  bool largest_ = true;
  bool k_from_input_ = true;
  int64_t k_ = 0;
};

class CumSum final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    exclusive_ = ctx.attr_int("exclusive", 0) != 0;
    reverse_ = ctx.attr_int("reverse", 0) != 0;
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    HONE_ASSIGN_OR_RETURN(std::vector<int64_t> av,
                          ToInt64Vector(ctx.node(), *ctx.input(1), "axis"));
    if (av.size() != 1) return ctx.Error("axis must have one element, got {}", av.size());
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), av[0], x.rank()));
    const size_t ua = static_cast<size_t>(axis);
    const int64_t dim = x.dim(axis);
    const int64_t outer = Product(x.shape(), 0, ua);
    const int64_t inner = Product(x.shape(), ua + 1, x.shape().size());
    Tensor& y = ctx.Output(0, x.dtype(), x.shape());
    return VisitNumeric(ctx.node(), x.dtype(), [&]<typename T>() {
      using C = Acc<T>;
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          C sum = C(0);
          for (int64_t j = 0; j < dim; ++j) {
            const int64_t k = reverse_ ? dim - 1 - j : j;
            const int64_t off = (o * dim + k) * inner + i;
            const C v = static_cast<C>(src[off]);
            if (!exclusive_) sum = static_cast<C>(sum + v);
            dst[off] = static_cast<T>(sum);
            if (exclusive_) sum = static_cast<C>(sum + v);
          }
        }
      return Status::Ok();
    });
  }

 private:
  bool exclusive_ = false;
  bool reverse_ = false;
};

}  // namespace

#define HONE_REDUCE_FACTORY(Name, Kind) \
  std::unique_ptr<Kernel> CreateRef##Name() { return std::make_unique<Reduce<RKind::Kind>>(); }
HONE_REDUCE_FACTORY(ReduceSum, kSum)
HONE_REDUCE_FACTORY(ReduceMean, kMean)
HONE_REDUCE_FACTORY(ReduceMax, kMax)
HONE_REDUCE_FACTORY(ReduceMin, kMin)
HONE_REDUCE_FACTORY(ReduceProd, kProd)
HONE_REDUCE_FACTORY(ReduceL1, kL1)
HONE_REDUCE_FACTORY(ReduceL2, kL2)
HONE_REDUCE_FACTORY(ReduceLogSum, kLogSum)
HONE_REDUCE_FACTORY(ReduceLogSumExp, kLogSumExp)
HONE_REDUCE_FACTORY(ReduceSumSquare, kSumSquare)
#undef HONE_REDUCE_FACTORY

std::unique_ptr<Kernel> CreateRefArgMax() { return std::make_unique<ArgReduce<true>>(); }
std::unique_ptr<Kernel> CreateRefArgMin() { return std::make_unique<ArgReduce<false>>(); }
std::unique_ptr<Kernel> CreateRefSoftmax() {
  return std::make_unique<SoftmaxLike<SKind::kSoftmax>>();
}
std::unique_ptr<Kernel> CreateRefLogSoftmax() {
  return std::make_unique<SoftmaxLike<SKind::kLogSoftmax>>();
}
std::unique_ptr<Kernel> CreateRefHardmax() {
  return std::make_unique<SoftmaxLike<SKind::kHardmax>>();
}
std::unique_ptr<Kernel> CreateRefTopK() { return std::make_unique<TopK>(); }
std::unique_ptr<Kernel> CreateRefCumSum() { return std::make_unique<CumSum>(); }

}  // namespace hone::ref
