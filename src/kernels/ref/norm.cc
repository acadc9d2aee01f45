// Reference normalization kernels.
// ONNX operators: BatchNormalization (opsets 1-22; inference, plus training_mode=1 from 14; the
// per-activation `spatial`=0 form of opsets 1-8), InstanceNormalization (1-22),
// LayerNormalization (17-22: axis, epsilon, stash_type, optional Mean and InvStdDev outputs),
// GroupNormalization (18-22: scale and bias per group in 18, per channel from 21), LRN (1-22),
// MeanVarianceNormalization (9-22), LpNormalization (1-22).
// Statistics are accumulated in double.
#include <algorithm>
#include <array>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/ref/broadcast.h"
#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

class BatchNormalization final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    epsilon_ = ctx.attr_float("epsilon", 1e-5f);
    momentum_ = ctx.attr_float("momentum", 0.9f);
    spatial_ = ctx.opset() < 9 ? ctx.attr_int("spatial", 1) != 0 : true;
    training_ = ctx.opset() >= 14 && ctx.attr_int("training_mode", 0) != 0;
    if (ctx.num_inputs() < 5) return ctx.Invalid("expected 5 inputs, got {}", ctx.num_inputs());
    // Inference with constant parameters: y = x * a + b per channel, computed once here.
    const Tensor *scale = ctx.constant_input(1), *bias = ctx.constant_input(2),
                 *mean = ctx.constant_input(3), *var = ctx.constant_input(4);
    if (!training_ && spatial_ && scale && bias && mean && var && IsFloatingPoint(scale->dtype()) &&
        scale->dtype() == bias->dtype() && scale->dtype() == mean->dtype() &&
        scale->dtype() == var->dtype() && scale->rank() == 1 && bias->shape() == scale->shape() &&
        mean->shape() == scale->shape() && var->shape() == scale->shape()) {
      std::vector<double> p[4];
      const Tensor* t[4] = {scale, bias, mean, var};
      for (int i = 0; i < 4; ++i) {
        p[i].resize(static_cast<size_t>(t[i]->numel()));
        const Status st = VisitFloat(ctx.node(), t[i]->dtype(), [&]<typename T>() {
          for (size_t j = 0; j < p[i].size(); ++j)
            p[i][j] = static_cast<double>(static_cast<Acc<T>>(t[i]->data<T>()[j]));
          return Status::Ok();
        });
        if (!st.ok()) return Status::Ok();  // Compute reports the dtype
      }
      for (size_t k = 0; k < p[0].size(); ++k) {
        const double a = p[0][k] / std::sqrt(p[3][k] + epsilon_);
        folded_.emplace_back(a, p[1][k] - p[2][k] * a);
      }
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    for (int i = 0; i < 5; ++i)
      if (ctx.input(i) == nullptr) return ctx.Error("input {} is missing", i);
    if (x->rank() < 2) return ctx.Error("input X rank: expected >= 2, got {}", x->rank());
    const int64_t n = x->dim(0), c = x->dim(1);
    const int64_t inner = c == 0 ? 0 : x->numel() / (n * c);
    // per-channel parameters, or per-activation (C x D1 x ...) for spatial=0
    const int64_t want = spatial_ ? c : c * inner;
    const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
    if (!folded_.empty() && static_cast<int64_t>(folded_.size()) == c && ctx.num_outputs() == 1)
      return ComputeFolded(ctx, *x, n, c, inner);
    std::array<std::vector<double>, 5> p;
    for (int i = 1; i < 5; ++i) {
      if (ctx.input(i)->numel() != want)
        return ctx.Error("input {}: expected {} elements, got shape {}", names[i], want,
                         ShapeToString(ctx.input(i)->shape()));
      HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *ctx.input(i), p[static_cast<size_t>(i)]));
    }
    std::vector<double> mean = p[3], var = p[4];
    if (training_) {
      // batch statistics over every axis but 1 (biased variance)
      std::vector<double> xs;
      HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *x, xs));
      const double cnt = static_cast<double>(n * inner);
      for (int64_t ch = 0; ch < c; ++ch) {
        double s = 0, s2 = 0;
        for (int64_t b = 0; b < n; ++b)
          for (int64_t i = 0; i < inner; ++i)
            s += xs[static_cast<size_t>((b * c + ch) * inner + i)];
        const double mu = s / cnt;
        for (int64_t b = 0; b < n; ++b)
          for (int64_t i = 0; i < inner; ++i) {
            const double d = xs[static_cast<size_t>((b * c + ch) * inner + i)] - mu;
            s2 += d * d;
          }
        mean[static_cast<size_t>(ch)] = mu;
        var[static_cast<size_t>(ch)] = s2 / cnt;
      }
    }
    Tensor& y = ctx.Output(0, x->dtype(), x->shape());
    HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() -> Status {
      using C = Acc<T>;
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      ctx.pool().ParallelFor(n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t ch = r % c;
          const T* xs = src + r * inner;
          T* ys = dst + r * inner;
          if (spatial_) {
            const size_t k = static_cast<size_t>(ch);
            const double a = p[1][k] / std::sqrt(var[k] + epsilon_);
            const C ac = static_cast<C>(a), bc = static_cast<C>(p[2][k] - mean[k] * a);
            for (int64_t i = 0; i < inner; ++i)
              ys[i] = static_cast<T>(static_cast<C>(xs[i]) * ac + bc);
          } else {
            for (int64_t i = 0; i < inner; ++i) {
              const size_t k = static_cast<size_t>(ch * inner + i);
              const double a = p[1][k] / std::sqrt(var[k] + epsilon_);
              ys[i] = static_cast<T>(static_cast<double>(static_cast<C>(xs[i])) * a + p[2][k] -
                                     mean[k] * a);
            }
          }
        }
      });
      // Optional outputs: running mean / var (training: updated with momentum), then, in
      // opsets < 14, the saved mean / var of the batch.
      for (int o = 1; o < ctx.num_outputs() && o < 5; ++o) {
        const std::vector<double>* v = nullptr;
        std::vector<double> upd;
        if (training_) {
          const std::vector<double>& in = o == 1 ? p[3] : p[4];
          const std::vector<double>& cur = o == 1 ? mean : var;
          upd.resize(in.size());
          for (size_t i = 0; i < in.size(); ++i)
            upd[i] = in[i] * momentum_ + cur[i] * (1.0 - momentum_);
          v = &upd;
        } else {
          v = (o == 1 || o == 3) ? &mean : &var;
        }
        Tensor& out = ctx.Output(o, x->dtype(), ctx.input(o == 1 || o == 3 ? 3 : 4)->shape());
        T* od = out.data<T>();
        for (size_t i = 0; i < v->size(); ++i) od[i] = static_cast<T>((*v)[i]);
      }
      return Status::Ok();
    }));
    return Status::Ok();
  }

 private:
  Status ComputeFolded(ComputeContext& ctx, const Tensor& x, int64_t n, int64_t c,
                       int64_t inner) const {
    Tensor& y = ctx.OutputUninitialized(0, x.dtype(), x.shape());
    return VisitFloat(ctx.node(), x.dtype(), [&]<typename T>() -> Status {
      using C = Acc<T>;
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      ctx.pool().ParallelFor(n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const auto& [a, b] = folded_[static_cast<size_t>(r % c)];
          const C ac = static_cast<C>(a), bc = static_cast<C>(b);
          for (int64_t i = 0; i < inner; ++i)
            dst[r * inner + i] = static_cast<T>(static_cast<C>(src[r * inner + i]) * ac + bc);
        }
      });
      return Status::Ok();
    });
  }

  double epsilon_ = 1e-5, momentum_ = 0.9;
  bool spatial_ = true, training_ = false;
  std::vector<std::pair<double, double>> folded_;  // per channel (a, b) of constant inference
};

class InstanceNormalization final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    epsilon_ = ctx.attr_float("epsilon", 1e-5f);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* bias = ctx.input(2);
    if (x == nullptr || scale == nullptr || bias == nullptr)
      return ctx.Error("expected inputs input, scale and B");
    if (x->rank() < 3) return ctx.Error("input rank: expected >= 3, got {}", x->rank());
    const int64_t n = x->dim(0), c = x->dim(1);
    const int64_t inner = c == 0 || n == 0 ? 0 : x->numel() / (n * c);
    if (scale->numel() != c || bias->numel() != c)
      return ctx.Error("scale and B must have {} elements, got {} and {}", c, scale->numel(),
                       bias->numel());
    std::vector<double> s, b;
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *scale, s));
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *bias, b));
    Tensor& y = ctx.Output(0, x->dtype(), x->shape());
    return VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() -> Status {
      using C = Acc<T>;
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      ctx.pool().ParallelFor(n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const size_t ch = static_cast<size_t>(r % c);
          const T* xs = src + r * inner;
          T* ys = dst + r * inner;
          double sum = 0, sq = 0;
          for (int64_t i = 0; i < inner; ++i) sum += static_cast<double>(static_cast<C>(xs[i]));
          const double mu = inner > 0 ? sum / static_cast<double>(inner) : 0.0;
          for (int64_t i = 0; i < inner; ++i) {
            const double d = static_cast<double>(static_cast<C>(xs[i])) - mu;
            sq += d * d;
          }
          const double var = inner > 0 ? sq / static_cast<double>(inner) : 0.0;
          const double a = s[ch] / std::sqrt(var + epsilon_);
          const double o = b[ch] - mu * a;
          for (int64_t i = 0; i < inner; ++i)
            ys[i] = static_cast<T>(static_cast<double>(static_cast<C>(xs[i])) * a + o);
        }
      });
      return Status::Ok();
    });
  }

 private:
  double epsilon_ = 1e-5;
};

// Expands a parameter tensor broadcast to `shape` into a dense double vector.
Status ExpandParam(const ComputeContext& ctx, const Tensor& t, const Shape& shape, const char* what,
                   std::vector<double>& out) {
  std::vector<double> raw;
  HONE_RETURN_IF_ERROR(ReadDoubles(ctx, t, raw));
  const int64_t total = ShapeSize(shape);
  if (t.numel() == total) {
    out = std::move(raw);
    return Status::Ok();
  }
  if (t.rank() > static_cast<int64_t>(shape.size()))
    return ctx.Error("{} shape {} does not broadcast to {}", what, ShapeToString(t.shape()),
                     ShapeToString(shape));
  for (int64_t i = 0; i < t.rank(); ++i) {
    const int64_t d = t.dim(i), want = shape[shape.size() - static_cast<size_t>(t.rank() - i)];
    if (d != 1 && d != want)
      return ctx.Error("{} shape {} does not broadcast to {}", what, ShapeToString(t.shape()),
                       ShapeToString(shape));
  }
  out.resize(static_cast<size_t>(total));
  const Shape& ts = t.shape();
  ForEachBroadcast<1>(shape, {&ts}, [&](int64_t o, std::array<int64_t, 1> offs) {
    out[static_cast<size_t>(o)] = raw[static_cast<size_t>(offs[0])];
  });
  return Status::Ok();
}

class LayerNormalization final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", -1);
    epsilon_ = ctx.attr_float("epsilon", 1e-5f);
    stash_type_ = ctx.attr_int("stash_type", 1);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* bias = ctx.input(2);
    if (x == nullptr || scale == nullptr) return ctx.Error("expected inputs X and Scale");
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, x->rank()));
    const Shape norm_shape(x->shape().begin() + axis, x->shape().end());
    const int64_t inner = ShapeSize(norm_shape);
    const int64_t outer = inner == 0 ? 0 : x->numel() / inner;
    std::vector<double> s, b;
    HONE_RETURN_IF_ERROR(ExpandParam(ctx, *scale, norm_shape, "Scale", s));
    if (bias != nullptr) HONE_RETURN_IF_ERROR(ExpandParam(ctx, *bias, norm_shape, "B", b));
    Shape stat_shape(x->shape().begin(), x->shape().begin() + axis);
    stat_shape.resize(static_cast<size_t>(x->rank()), 1);
    Tensor& y = ctx.Output(0, x->dtype(), x->shape());
    // Mean and InvStdDev have the stash type (float32 unless stash_type says otherwise).
    const DataType stat_dtype = stash_type_ == 1 ? DataType::kFloat32 : x->dtype();
    Tensor* mean_t = ctx.num_outputs() > 1 ? &ctx.Output(1, stat_dtype, stat_shape) : nullptr;
    Tensor* inv_t = ctx.num_outputs() > 2 ? &ctx.Output(2, stat_dtype, stat_shape) : nullptr;
    std::vector<double> means(static_cast<size_t>(outer)), invs(static_cast<size_t>(outer));
    HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() -> Status {
      using C = Acc<T>;
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      ctx.pool().ParallelFor(outer, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const T* xs = src + r * inner;
          T* ys = dst + r * inner;
          double sum = 0, sq = 0;
          for (int64_t i = 0; i < inner; ++i) sum += static_cast<double>(static_cast<C>(xs[i]));
          const double mu = sum / static_cast<double>(inner);
          for (int64_t i = 0; i < inner; ++i) {
            const double d = static_cast<double>(static_cast<C>(xs[i])) - mu;
            sq += d * d;
          }
          const double inv = 1.0 / std::sqrt(sq / static_cast<double>(inner) + epsilon_);
          means[static_cast<size_t>(r)] = mu;
          invs[static_cast<size_t>(r)] = inv;
          for (int64_t i = 0; i < inner; ++i) {
            const size_t k = static_cast<size_t>(i);
            double v = (static_cast<double>(static_cast<C>(xs[i])) - mu) * inv * s[k];
            if (!b.empty()) v += b[k];
            ys[i] = static_cast<T>(v);
          }
        }
      });
      return Status::Ok();
    }));
    for (Tensor* t : {mean_t, inv_t}) {
      if (t == nullptr) continue;
      const std::vector<double>& v = t == mean_t ? means : invs;
      HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), t->dtype(), [&]<typename T>() -> Status {
        T* d = t->data<T>();
        for (size_t i = 0; i < v.size(); ++i) d[i] = static_cast<T>(v[i]);
        return Status::Ok();
      }));
    }
    return Status::Ok();
  }

 private:
  int64_t axis_ = -1;
  double epsilon_ = 1e-5;
  int64_t stash_type_ = 1;
};

class GroupNormalization final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    epsilon_ = ctx.attr_float("epsilon", 1e-5f);
    groups_ = ctx.attr_int("num_groups", 0);
    if (groups_ < 1) return ctx.Invalid("num_groups must be >= 1, got {}", groups_);
    per_channel_ = ctx.opset() >= 21;
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* bias = ctx.input(2);
    if (x == nullptr || scale == nullptr || bias == nullptr)
      return ctx.Error("expected inputs X, scale and bias");
    if (x->rank() < 2) return ctx.Error("input X rank: expected >= 2, got {}", x->rank());
    const int64_t n = x->dim(0), c = x->dim(1);
    if (c % groups_ != 0)
      return ctx.Error("{} channels are not divisible by num_groups {}", c, groups_);
    const int64_t want = per_channel_ ? c : groups_;
    if (scale->numel() != want || bias->numel() != want)
      return ctx.Error("scale and bias must have {} elements, got {} and {}", want, scale->numel(),
                       bias->numel());
    std::vector<double> s, b;
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *scale, s));
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *bias, b));
    const int64_t spatial = c == 0 || n == 0 ? 0 : x->numel() / (n * c);
    const int64_t cg = c / groups_, gsize = cg * spatial;
    Tensor& y = ctx.Output(0, x->dtype(), x->shape());
    return VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() -> Status {
      using C = Acc<T>;
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      ctx.pool().ParallelFor(n * groups_, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t gi = r % groups_;
          const T* xs = src + r * gsize;
          T* ys = dst + r * gsize;
          double sum = 0, sq = 0;
          for (int64_t i = 0; i < gsize; ++i) sum += static_cast<double>(static_cast<C>(xs[i]));
          const double mu = gsize > 0 ? sum / static_cast<double>(gsize) : 0.0;
          for (int64_t i = 0; i < gsize; ++i) {
            const double d = static_cast<double>(static_cast<C>(xs[i])) - mu;
            sq += d * d;
          }
          const double inv =
              1.0 / std::sqrt((gsize > 0 ? sq / static_cast<double>(gsize) : 0.0) + epsilon_);
          for (int64_t i = 0; i < gsize; ++i) {
            const size_t k = static_cast<size_t>(per_channel_ ? gi * cg + i / spatial : gi);
            ys[i] = static_cast<T>((static_cast<double>(static_cast<C>(xs[i])) - mu) * inv * s[k] +
                                   b[k]);
          }
        }
      });
      return Status::Ok();
    });
  }

 private:
  double epsilon_ = 1e-5;
  int64_t groups_ = 0;
  bool per_channel_ = false;
};

class Lrn final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    size_ = ctx.attr_int("size", 0);
    if (size_ < 1) return ctx.Invalid("size must be >= 1, got {}", size_);
    alpha_ = ctx.attr_float("alpha", 1e-4f);
    beta_ = ctx.attr_float("beta", 0.75f);
    bias_ = ctx.attr_float("bias", 1.0f);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("input X is missing");
    if (x->rank() < 2) return ctx.Error("input X rank: expected >= 2, got {}", x->rank());
    const int64_t n = x->dim(0), c = x->dim(1);
    const int64_t inner = c == 0 || n == 0 ? 0 : x->numel() / (n * c);
    const int64_t lo = (size_ - 1) / 2, hi = size_ - 1 - lo;  // floor / ceil of (size-1)/2
    Tensor& y = ctx.Output(0, x->dtype(), x->shape());
    return VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() -> Status {
      using C = Acc<T>;
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      ctx.pool().ParallelFor(n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t b = r / c, ch = r % c;
          const int64_t c0 = std::max<int64_t>(0, ch - lo), c1 = std::min(c - 1, ch + hi);
          for (int64_t i = 0; i < inner; ++i) {
            double sq = 0;
            for (int64_t k = c0; k <= c1; ++k) {
              const double v = static_cast<double>(static_cast<C>(src[(b * c + k) * inner + i]));
              sq += v * v;
            }
            const double v = static_cast<double>(static_cast<C>(src[r * inner + i]));
            dst[r * inner + i] = static_cast<T>(
                v / std::pow(bias_ + alpha_ / static_cast<double>(size_) * sq, beta_));
          }
        }
      });
      return Status::Ok();
    });
  }

 private:
  int64_t size_ = 0;
  double alpha_ = 1e-4, beta_ = 0.75, bias_ = 1.0;
};

class MeanVarianceNormalization final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axes_ = ctx.attr_ints("axes", {0, 2, 3});
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("input X is missing");
    const int64_t rank = x->rank();
    std::vector<bool> reduced(static_cast<size_t>(rank), false);
    for (int64_t a : axes_) {
      HONE_ASSIGN_OR_RETURN(int64_t ax, NormalizeAxis(ctx.node(), a, rank, "axes value"));
      reduced[static_cast<size_t>(ax)] = true;
    }
    Shape stat_shape = x->shape();
    for (int64_t d = 0; d < rank; ++d)
      if (reduced[static_cast<size_t>(d)]) stat_shape[static_cast<size_t>(d)] = 1;
    const int64_t stats = ShapeSize(stat_shape);
    const int64_t per = stats == 0 ? 0 : x->numel() / stats;
    std::vector<double> xs;
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *x, xs));
    std::vector<double> sum(static_cast<size_t>(stats), 0.0), sq(static_cast<size_t>(stats), 0.0);
    std::vector<int64_t> key(static_cast<size_t>(x->numel()));
    const Shape* shapes = &stat_shape;
    ForEachBroadcast<1>(x->shape(), {shapes}, [&](int64_t o, std::array<int64_t, 1> offs) {
      key[static_cast<size_t>(o)] = offs[0];
      sum[static_cast<size_t>(offs[0])] += xs[static_cast<size_t>(o)];
      sq[static_cast<size_t>(offs[0])] += xs[static_cast<size_t>(o)] * xs[static_cast<size_t>(o)];
    });
    constexpr double kEpsilon = 1e-9;  // the function body's constant
    std::vector<double> mean(sum.size()), den(sum.size());
    for (size_t i = 0; i < sum.size(); ++i) {
      mean[i] = sum[i] / static_cast<double>(per);
      const double var = std::max(0.0, sq[i] / static_cast<double>(per) - mean[i] * mean[i]);
      den[i] = std::sqrt(var) + kEpsilon;
    }
    Tensor& y = ctx.Output(0, x->dtype(), x->shape());
    return VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() -> Status {
      T* dst = y.data<T>();
      for (size_t i = 0; i < xs.size(); ++i) {
        const size_t k = static_cast<size_t>(key[i]);
        dst[i] = static_cast<T>((xs[i] - mean[k]) / den[k]);
      }
      return Status::Ok();
    });
  }

 private:
  std::vector<int64_t> axes_;
};

class LpNormalization final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", -1);
    p_ = ctx.attr_int("p", 2);
    if (p_ != 1 && p_ != 2) return ctx.Invalid("p must be 1 or 2, got {}", p_);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("input is missing");
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, x->rank()));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x->dim(d);
    for (int64_t d = axis + 1; d < x->rank(); ++d) inner *= x->dim(d);
    const int64_t len = x->dim(axis);
    Tensor& y = ctx.Output(0, x->dtype(), x->shape());
    return VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() -> Status {
      using C = Acc<T>;
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t base = o * len * inner + i;
          double norm = 0;
          for (int64_t k = 0; k < len; ++k) {
            const double v = static_cast<double>(static_cast<C>(src[base + k * inner]));
            norm += p_ == 1 ? std::fabs(v) : v * v;
          }
          if (p_ == 2) norm = std::sqrt(norm);
          for (int64_t k = 0; k < len; ++k) {
            const double v = static_cast<double>(static_cast<C>(src[base + k * inner]));
            dst[base + k * inner] = static_cast<T>(norm == 0 ? 0.0 : v / norm);
          }
        }
      return Status::Ok();
    });
  }

 private:
  int64_t axis_ = -1, p_ = 2;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefBatchNormalization() {
  return std::make_unique<BatchNormalization>();
}
std::unique_ptr<Kernel> CreateRefInstanceNormalization() {
  return std::make_unique<InstanceNormalization>();
}
std::unique_ptr<Kernel> CreateRefLayerNormalization() {
  return std::make_unique<LayerNormalization>();
}
std::unique_ptr<Kernel> CreateRefGroupNormalization() {
  return std::make_unique<GroupNormalization>();
}
std::unique_ptr<Kernel> CreateRefLRN() { return std::make_unique<Lrn>(); }
std::unique_ptr<Kernel> CreateRefMeanVarianceNormalization() {
  return std::make_unique<MeanVarianceNormalization>();
}
std::unique_ptr<Kernel> CreateRefLpNormalization() { return std::make_unique<LpNormalization>(); }

}  // namespace hone::ref
