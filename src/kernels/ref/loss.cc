// Reference loss kernels.
// ONNX operators: NegativeLogLikelihoodLoss (opsets 12-22), SoftmaxCrossEntropyLoss (12-22; the
// optional log_prob output included). Both take input (N, C) or (N, C, d1, ..., dk), a target of
// shape (N) or (N, d1, ..., dk) and an optional per-class weight (C); attributes reduction
// (none / sum / mean) and ignore_index. Losses are accumulated in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

enum class Reduction { kNone, kSum, kMean };

Status ParseReduction(const InitContext& ctx, Reduction& out) {
  const std::string r = ctx.attr_string("reduction", "mean");
  if (r == "none") {
    out = Reduction::kNone;
  } else if (r == "sum") {
    out = Reduction::kSum;
  } else if (r == "mean") {
    out = Reduction::kMean;
  } else {
    return ctx.Invalid("attribute reduction: expected none, sum or mean, got '{}'", r);
  }
  return Status::Ok();
}

// Reads an integer target tensor into int64.
Status ReadTarget(const ComputeContext& ctx, const Tensor& t, std::vector<int64_t>& out) {
  out.resize(static_cast<size_t>(t.numel()));
  if (t.dtype() == DataType::kInt64) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = t.data<int64_t>()[i];
  } else if (t.dtype() == DataType::kInt32) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = t.data<int32_t>()[i];
  } else {
    return ctx.Error("target must be int32 or int64, got {}", DataTypeName(t.dtype()));
  }
  return Status::Ok();
}

// The loss shared by both operators, given log-probabilities `logp` laid out (N, C, D) with D the
// product of the trailing dims. Writes output 0 with the dtype of `like`.
Status NllCore(ComputeContext& ctx, const std::vector<double>& logp, const Tensor& like,
               const Tensor& target, const Tensor* weight, Reduction reduction,
               std::optional<int64_t> ignore_index) {
  const int64_t n = like.dim(0), c = like.dim(1);
  // target shape: (N, d1, ..., dk) matching the input minus the class axis
  std::vector<int64_t> want = {n};
  for (int64_t i = 2; i < like.rank(); ++i) want.push_back(like.dim(i));
  if (target.shape() != want)
    return ctx.Error("target shape: expected {}, got {}", ShapeToString(want),
                     ShapeToString(target.shape()));
  int64_t d = 1;
  for (int64_t i = 2; i < like.rank(); ++i) d *= like.dim(i);
  std::vector<int64_t> tgt;
  HONE_RETURN_IF_ERROR(ReadTarget(ctx, target, tgt));
  std::vector<double> w;
  if (weight != nullptr) {
    if (weight->rank() != 1 || weight->dim(0) != c)
      return ctx.Error("weight shape: expected [{}], got {}", c, ShapeToString(weight->shape()));
    w.resize(static_cast<size_t>(c));
    HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), weight->dtype(), [&]<typename T>() {
      for (int64_t i = 0; i < c; ++i)
        w[static_cast<size_t>(i)] = static_cast<double>(static_cast<Acc<T>>(weight->data<T>()[i]));
      return Status::Ok();
    }));
  }
  std::vector<double> loss(static_cast<size_t>(n * d), 0.0);
  double loss_sum = 0, weight_sum = 0;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t j = 0; j < d; ++j) {
      const size_t k = static_cast<size_t>(b * d + j);
      const int64_t t = tgt[k];
      if (ignore_index.has_value() && t == *ignore_index) continue;  // loss 0, weight 0
      if (t < 0 || t >= c)
        return ctx.Error("target value {} at {} is out of range [0, {})", t, k, c);
      const double wt = weight != nullptr ? w[static_cast<size_t>(t)] : 1.0;
      loss[k] = -logp[static_cast<size_t>((b * c + t) * d + j)] * wt;
      loss_sum += loss[k];
      weight_sum += wt;
    }
  }
  return VisitFloat(ctx.node(), like.dtype(), [&]<typename T>() -> Status {
    if (reduction == Reduction::kNone) {
      Tensor& y = ctx.Output(0, like.dtype(), want);
      T* dst = y.data<T>();
      for (size_t i = 0; i < loss.size(); ++i) dst[i] = static_cast<T>(loss[i]);
    } else {
      Tensor& y = ctx.Output(0, like.dtype(), {});
      // mean divides by the summed weights of the non-ignored elements (their count without
      // weights); 0 / 0 gives NaN as in the ONNX reference
      y.data<T>()[0] =
          static_cast<T>(reduction == Reduction::kSum ? loss_sum : loss_sum / weight_sum);
    }
    return Status::Ok();
  });
}

Status ReadInput(const ComputeContext& ctx, const Tensor& x, std::vector<double>& out) {
  out.resize(static_cast<size_t>(x.numel()));
  return VisitFloat(ctx.node(), x.dtype(), [&]<typename T>() {
    const T* p = x.data<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(static_cast<Acc<T>>(p[i]));
    return Status::Ok();
  });
}

class LossBase : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    HONE_RETURN_IF_ERROR(ParseReduction(ctx, reduction_));
    if (ctx.has_attr("ignore_index")) ignore_index_ = ctx.attr_int("ignore_index", 0);
    if (ctx.num_inputs() < 2 || !ctx.has_input(0) || !ctx.has_input(1))
      return ctx.Invalid("expected at least 2 inputs, got {}", ctx.num_inputs());
    return Status::Ok();
  }

 protected:
  Status CheckInputs(const ComputeContext& ctx) const {
    const Tensor* x = ctx.input(0);
    if (x == nullptr || ctx.input(1) == nullptr) return ctx.Error("inputs 0 and 1 are required");
    if (x->rank() < 2) return ctx.Error("input rank: expected >= 2, got {}", x->rank());
    return Status::Ok();
  }

  Reduction reduction_ = Reduction::kMean;
  std::optional<int64_t> ignore_index_;
};

class NegativeLogLikelihoodLoss final : public LossBase {
 public:
  Status Compute(ComputeContext& ctx) const override {
    HONE_RETURN_IF_ERROR(CheckInputs(ctx));
    const Tensor& x = *ctx.input(0);
    std::vector<double> logp;
    HONE_RETURN_IF_ERROR(ReadInput(ctx, x, logp));
    return NllCore(ctx, logp, x, *ctx.input(1), ctx.input(2), reduction_, ignore_index_);
  }
};

class SoftmaxCrossEntropyLoss final : public LossBase {
 public:
  Status Compute(ComputeContext& ctx) const override {
    HONE_RETURN_IF_ERROR(CheckInputs(ctx));
    const Tensor& x = *ctx.input(0);
    std::vector<double> v;
    HONE_RETURN_IF_ERROR(ReadInput(ctx, x, v));
    // log_softmax over axis 1
    const int64_t n = x.dim(0), c = x.dim(1);
    const int64_t d = n * c == 0 ? 0 : x.numel() / (n * c);
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t j = 0; j < d; ++j) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < c; ++k)
          mx = std::max(mx, v[static_cast<size_t>((b * c + k) * d + j)]);
        double s = 0;
        for (int64_t k = 0; k < c; ++k)
          s += std::exp(v[static_cast<size_t>((b * c + k) * d + j)] - mx);
        const double lse = mx + std::log(s);
        for (int64_t k = 0; k < c; ++k) v[static_cast<size_t>((b * c + k) * d + j)] -= lse;
      }
    }
    HONE_RETURN_IF_ERROR(
        NllCore(ctx, v, x, *ctx.input(1), ctx.input(2), reduction_, ignore_index_));
    if (ctx.num_outputs() > 1 && !ctx.node().outputs[1].empty()) {
      Tensor& lp = ctx.Output(1, x.dtype(), x.shape());
      return VisitFloat(ctx.node(), x.dtype(), [&]<typename T>() {
        T* dst = lp.data<T>();
        for (size_t i = 0; i < v.size(); ++i) dst[i] = static_cast<T>(v[i]);
        return Status::Ok();
      });
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Kernel> CreateRefNegativeLogLikelihoodLoss() {
  return std::make_unique<NegativeLogLikelihoodLoss>();
}
std::unique_ptr<Kernel> CreateRefSoftmaxCrossEntropyLoss() {
  return std::make_unique<SoftmaxCrossEntropyLoss>();
}

}  // namespace hone::ref
