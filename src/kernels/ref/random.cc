// Reference random-generator kernels.
// ONNX operators: RandomUniform, RandomNormal (opsets 1-22: shape, dtype, low/high, mean/scale,
// seed), RandomUniformLike, RandomNormalLike (1-22), Bernoulli (15-22), Multinomial (7-22:
// sample_size, dtype int32/int64, input = unnormalized log-probabilities).
// With `seed`, the draws are those of the ONNX reference implementation, numpy's legacy
// RandomState(int(seed)) (MT19937, 53-bit doubles, polar Gaussian, binomial by inversion), and
// every Run restarts the stream, so a seeded node is reproducible. Without it each Run draws a
// fresh seed. The generator state lives on the stack of Compute, so runs may be concurrent.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/ref/common.h"
#include "kernels/ref/numpy_random.h"

namespace hone::ref {
namespace {

// numpy.random.RandomState: MT19937 seeded by init_genrand (= std::mt19937's seeding).
// The seed attribute as numpy's RandomState(int(seed)) takes it, or a fresh one.
uint32_t SeedFor(bool has_seed, float seed) {
  if (has_seed) return static_cast<uint32_t>(static_cast<int64_t>(seed));
  std::random_device rd;
  return rd();
}

Status CheckFloatDtype(const InitContext& ctx, int64_t code, DataType& dt) {
  dt = static_cast<DataType>(code);
  if (dt != DataType::kFloat32 && dt != DataType::kFloat64 && dt != DataType::kFloat16 &&
      dt != DataType::kBFloat16)
    return ctx.Invalid("attribute dtype: {} is not a float type", code);
  return Status::Ok();
}

enum class Dist { kUniform, kNormal };

// RandomUniform / RandomNormal (kLike = false: shape attribute) and the *Like variants.
template <Dist kDist, bool kLike>
class RandomFill final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if constexpr (kDist == Dist::kUniform) {
      a_ = ctx.attr_float("low", 0.0f);
      b_ = ctx.attr_float("high", 1.0f);
    } else {
      a_ = ctx.attr_float("mean", 0.0f);
      b_ = ctx.attr_float("scale", 1.0f);
    }
    has_seed_ = ctx.has_attr("seed");
    seed_ = ctx.attr_float("seed", 0.0f);
    if constexpr (kLike) {
      has_dtype_ = ctx.has_attr("dtype");
      if (has_dtype_) HONE_RETURN_IF_ERROR(CheckFloatDtype(ctx, ctx.attr_int("dtype", 1), dtype_));
      if (!ctx.has_input(0)) return ctx.Invalid("expected input 'input'");
    } else {
      HONE_RETURN_IF_ERROR(CheckFloatDtype(ctx, ctx.attr_int("dtype", 1), dtype_));
      if (!ctx.has_attr("shape")) return ctx.Invalid("attribute shape is missing");
      shape_ = ctx.attr_ints("shape");
      for (int64_t d : shape_)
        if (d < 0) return ctx.Invalid("attribute shape has a negative dimension {}", d);
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    Shape shape = shape_;
    DataType dt = dtype_;
    if constexpr (kLike) {
      const Tensor* x = ctx.input(0);
      if (x == nullptr) return ctx.Error("expected input 'input'");
      shape = x->shape();
      if (!has_dtype_) dt = x->dtype();
      HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), dt, []<typename T>() { return Status::Ok(); }));
    }
    LegacyRandomState rs(SeedFor(has_seed_, seed_));
    std::vector<double> v(static_cast<size_t>(ShapeSize(shape)));
    for (double& e : v) {
      if constexpr (kDist == Dist::kUniform) {
        e = rs.NextDouble() * (static_cast<double>(b_) - a_) + a_;
      } else {
        e = rs.Gauss() * b_ + a_;
      }
    }
    Tensor& y = ctx.Output(0, dt, shape);
    return WriteFloats(ctx, v, y);
  }

 private:
  float a_ = 0, b_ = 1;
  bool has_seed_ = false;
  float seed_ = 0;
  bool has_dtype_ = false;
  DataType dtype_ = DataType::kFloat32;
  Shape shape_;
};

class Bernoulli final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    has_seed_ = ctx.has_attr("seed");
    seed_ = ctx.attr_float("seed", 0.0f);
    has_dtype_ = ctx.has_attr("dtype");
    if (has_dtype_) {
      const int64_t code = ctx.attr_int("dtype", 1);
      dtype_ = static_cast<DataType>(code);
      Status s = VisitAll(ctx.node(), dtype_, []<typename T>() { return Status::Ok(); });
      if (!s.ok()) return ctx.Invalid("attribute dtype: {} is not a numeric or bool type", code);
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input 'input'");
    std::vector<double> p(static_cast<size_t>(x->numel()));
    HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() {
      for (size_t i = 0; i < p.size(); ++i)
        p[i] = static_cast<double>(static_cast<Acc<T>>(x->data<T>()[i]));
      return Status::Ok();
    }));
    for (double e : p)
      if (!(e >= 0.0 && e <= 1.0))
        return ctx.Error("input probabilities must lie in [0, 1], got {}", e);
    LegacyRandomState rs(SeedFor(has_seed_, seed_));
    const DataType dt = has_dtype_ ? dtype_ : x->dtype();
    Tensor& y = ctx.Output(0, dt, x->shape());
    return VisitAll(ctx.node(), dt, [&]<typename T>() {
      for (size_t i = 0; i < p.size(); ++i)
        y.data<T>()[i] = static_cast<T>(static_cast<Acc<T>>(rs.Bernoulli(p[i])));
      return Status::Ok();
    });
  }

 private:
  bool has_seed_ = false;
  float seed_ = 0;
  bool has_dtype_ = false;
  DataType dtype_ = DataType::kFloat32;
};

class Multinomial final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    has_seed_ = ctx.has_attr("seed");
    seed_ = ctx.attr_float("seed", 0.0f);
    sample_size_ = ctx.attr_int("sample_size", 1);
    if (sample_size_ < 0)
      return ctx.Invalid("attribute sample_size must be >= 0, got {}", sample_size_);
    const int64_t code = ctx.attr_int("dtype", static_cast<int64_t>(DataType::kInt32));
    dtype_ = static_cast<DataType>(code);
    if (dtype_ != DataType::kInt32 && dtype_ != DataType::kInt64)
      return ctx.Invalid("attribute dtype: expected int32 (6) or int64 (7), got {}", code);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input 'input'");
    if (x->rank() != 2)
      return ctx.Error("input shape: expected [batch_size, class_size], got {}",
                       ShapeToString(x->shape()));
    const int64_t batch = x->dim(0), classes = x->dim(1);
    std::vector<double> lp(static_cast<size_t>(x->numel()));
    HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() {
      for (size_t i = 0; i < lp.size(); ++i)
        lp[i] = static_cast<double>(static_cast<Acc<T>>(x->data<T>()[i]));
      return Status::Ok();
    }));
    if (classes == 0 && sample_size_ > 0 && batch > 0)
      return ctx.Error("cannot sample from zero classes");
    LegacyRandomState rs(SeedFor(has_seed_, seed_));
    Tensor& y = ctx.Output(0, dtype_, {batch, sample_size_});
    std::vector<double> cdf(static_cast<size_t>(classes));
    for (int64_t b = 0; b < batch; ++b) {
      const double* row = lp.data() + b * classes;
      double mx = -INFINITY;
      for (int64_t c = 0; c < classes; ++c) mx = std::max(mx, row[c]);
      double total = 0;
      for (int64_t c = 0; c < classes; ++c) {
        total += std::isfinite(mx) ? std::exp(row[c] - mx) : 1.0;
        cdf[static_cast<size_t>(c)] = total;
      }
      for (int64_t s = 0; s < sample_size_; ++s) {
        const double u = rs.NextDouble() * total;
        int64_t k = 0;
        while (k + 1 < classes && cdf[static_cast<size_t>(k)] <= u) ++k;
        if (dtype_ == DataType::kInt32) {
          y.data<int32_t>()[b * sample_size_ + s] = static_cast<int32_t>(k);
        } else {
          y.data<int64_t>()[b * sample_size_ + s] = k;
        }
      }
    }
    return Status::Ok();
  }

 private:
  bool has_seed_ = false;
  float seed_ = 0;
  int64_t sample_size_ = 1;
  DataType dtype_ = DataType::kInt32;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefRandomUniform() {
  return std::make_unique<RandomFill<Dist::kUniform, false>>();
}
std::unique_ptr<Kernel> CreateRefRandomNormal() {
  return std::make_unique<RandomFill<Dist::kNormal, false>>();
}
std::unique_ptr<Kernel> CreateRefRandomUniformLike() {
  return std::make_unique<RandomFill<Dist::kUniform, true>>();
}
std::unique_ptr<Kernel> CreateRefRandomNormalLike() {
  return std::make_unique<RandomFill<Dist::kNormal, true>>();
}
std::unique_ptr<Kernel> CreateRefBernoulli() { return std::make_unique<Bernoulli>(); }
std::unique_ptr<Kernel> CreateRefMultinomial() { return std::make_unique<Multinomial>(); }

}  // namespace hone::ref
