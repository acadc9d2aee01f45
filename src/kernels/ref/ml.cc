// Reference kernels of the ai.onnx.ml domain.
// ONNX operators: LabelEncoder (ai.onnx.ml opsets 1-4: classes_strings in 1; keys_* / values_*
// and default_* in 2-3; keys_tensor / values_tensor / default_tensor in 4, NaN keys match NaN),
// Binarizer and ArrayFeatureExtractor (ai.onnx.ml 1), TreeEnsemble (ai.onnx.ml 5:
// BRANCH_LEQ/LT/GTE/GT/EQ/NEQ/MEMBER nodes, missing-value tracking, aggregate SUM / AVERAGE / MIN /
// MAX, post_transform NONE / SOFTMAX / LOGISTIC / SOFTMAX_ZERO / PROBIT).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

// Reads a numeric tensor (attribute) as doubles.
Status TensorToDoubles(const Node& node, const Tensor& t, std::vector<double>& v) {
  v.resize(static_cast<size_t>(t.numel()));
  return VisitNumeric(node, t.dtype(), [&]<typename T>() {
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<double>(static_cast<Acc<T>>(t.data<T>()[i]));
    return Status::Ok();
  });
}

bool IsIntegral(DataType d) { return IsInteger(d); }

// ---- LabelEncoder -------------------------------------------------------------------------------

class LabelEncoder final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (ctx.opset() < 2) return InitV1(ctx);
    // Keys.
    if (const Tensor* kt = ctx.attr_tensor("keys_tensor")) {
      keys_ = *kt;
    } else if (ctx.has_attr("keys_strings")) {
      keys_ = StringTensor(ctx.attr_strings("keys_strings"));
    } else if (ctx.has_attr("keys_int64s")) {
      keys_ = IntTensor(ctx.attr_ints("keys_int64s"));
    } else if (ctx.has_attr("keys_floats")) {
      keys_ = FloatTensor(ctx.attr_floats("keys_floats"));
    } else {
      return ctx.Invalid(
          "one of the attributes keys_tensor, keys_strings, keys_int64s and "
          "keys_floats is needed");
    }
    // Values.
    if (const Tensor* vt = ctx.attr_tensor("values_tensor")) {
      values_ = *vt;
    } else if (ctx.has_attr("values_strings")) {
      values_ = StringTensor(ctx.attr_strings("values_strings"));
    } else if (ctx.has_attr("values_int64s")) {
      values_ = IntTensor(ctx.attr_ints("values_int64s"));
    } else if (ctx.has_attr("values_floats")) {
      values_ = FloatTensor(ctx.attr_floats("values_floats"));
    } else {
      return ctx.Invalid(
          "one of the attributes values_tensor, values_strings, values_int64s and "
          "values_floats is needed");
    }
    if (keys_.numel() != values_.numel())
      return ctx.Invalid("{} keys but {} values", keys_.numel(), values_.numel());
    // Default.
    const DataType vd = values_.dtype();
    if (const Tensor* dt = ctx.attr_tensor("default_tensor")) {
      if (dt->numel() != 1 || dt->dtype() != vd)
        return ctx.Invalid("attribute default_tensor must hold one {} value", DataTypeName(vd));
      default_ = *dt;
    } else {
      default_ = Tensor::Empty(vd, {1});
      if (vd == DataType::kString) {
        default_.data<std::string>()[0] = ctx.attr_string("default_string", "_Unused");
      } else if (IsIntegral(vd)) {
        const int64_t d = ctx.attr_int("default_int64", -1);
        HONE_RETURN_IF_ERROR(VisitInt(ctx.node(), vd, [&]<typename T>() {
          default_.data<T>()[0] = static_cast<T>(d);
          return Status::Ok();
        }));
      } else {
        const float d = ctx.attr_float("default_float", -0.0f);
        HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), vd, [&]<typename T>() {
          default_.data<T>()[0] = static_cast<T>(d);
          return Status::Ok();
        }));
      }
    }
    return BuildIndex(ctx, keys_);
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input X");
    if (v1_) {
      // classes_strings: string -> index (int64), or int64 index -> string.
      if (x->dtype() == DataType::kString) return Map(ctx, *x, keys_, v1_indices_, v1_int_default_);
      if (x->dtype() == DataType::kInt64) return Map(ctx, *x, v1_indices_, keys_, v1_str_default_);
      return ctx.Error("input X must be string or int64, got {}", DataTypeName(x->dtype()));
    }
    return Map(ctx, *x, keys_, values_, default_);
  }

 private:
  Status InitV1(const InitContext& ctx) {
    v1_ = true;
    keys_ = StringTensor(ctx.attr_strings("classes_strings"));
    std::vector<int64_t> idx(static_cast<size_t>(keys_.numel()));
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
    v1_indices_ = IntTensor(idx);
    v1_int_default_ = IntTensor({ctx.attr_int("default_int64", -1)});
    v1_str_default_ = StringTensor({ctx.attr_string("default_string", "_Unused")});
    HONE_RETURN_IF_ERROR(BuildIndex(ctx, keys_));
    for (size_t i = 0; i < idx.size(); ++i) int_index_[static_cast<int64_t>(i)] = i;
    return Status::Ok();
  }

  static Tensor StringTensor(const std::vector<std::string>& v) {
    Tensor t = Tensor::Empty(DataType::kString, {static_cast<int64_t>(v.size())});
    for (size_t i = 0; i < v.size(); ++i) t.data<std::string>()[i] = v[i];
    return t;
  }
  static Tensor IntTensor(const std::vector<int64_t>& v) {
    Tensor t = Tensor::Empty(DataType::kInt64, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<int64_t>());
    return t;
  }
  static Tensor FloatTensor(const std::vector<float>& v) {
    Tensor t = Tensor::Empty(DataType::kFloat32, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<float>());
    return t;
  }

  // Key -> position in keys (first occurrence wins).
  Status BuildIndex(const InitContext& ctx, const Tensor& keys) {
    const DataType kd = keys.dtype();
    const size_t n = static_cast<size_t>(keys.numel());
    if (kd == DataType::kString) {
      for (size_t i = 0; i < n; ++i) str_index_.emplace(keys.data<std::string>()[i], i);
      return Status::Ok();
    }
    if (IsIntegral(kd)) {
      return VisitInt(ctx.node(), kd, [&]<typename T>() {
        for (size_t i = 0; i < n; ++i)
          int_index_.emplace(static_cast<int64_t>(keys.data<T>()[i]), i);
        return Status::Ok();
      });
    }
    return VisitFloat(ctx.node(), kd, [&]<typename T>() {
      for (size_t i = 0; i < n; ++i) {
        const double k = static_cast<double>(static_cast<Acc<T>>(keys.data<T>()[i]));
        if (std::isnan(k)) {
          if (nan_index_ < 0) nan_index_ = static_cast<int64_t>(i);
        } else {
          float_index_.emplace(k, i);
        }
      }
      return Status::Ok();
    });
  }

  // y[i] = values[index of x[i] in keys], or dflt.
  Status Map(ComputeContext& ctx, const Tensor& x, const Tensor& keys, const Tensor& values,
             const Tensor& dflt) const {
    if (x.dtype() != keys.dtype())
      return ctx.Error("input X must have the keys' dtype {}, got {}", DataTypeName(keys.dtype()),
                       DataTypeName(x.dtype()));
    const int64_t n = x.numel();
    std::vector<int64_t> pos(static_cast<size_t>(n), -1);
    if (x.dtype() == DataType::kString) {
      for (int64_t i = 0; i < n; ++i) {
        auto it = str_index_.find(x.data<std::string>()[i]);
        if (it != str_index_.end()) pos[static_cast<size_t>(i)] = static_cast<int64_t>(it->second);
      }
    } else if (IsIntegral(x.dtype())) {
      HONE_RETURN_IF_ERROR(VisitInt(ctx.node(), x.dtype(), [&]<typename T>() {
        for (int64_t i = 0; i < n; ++i) {
          auto it = int_index_.find(static_cast<int64_t>(x.data<T>()[i]));
          if (it != int_index_.end())
            pos[static_cast<size_t>(i)] = static_cast<int64_t>(it->second);
        }
        return Status::Ok();
      }));
    } else {
      HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), x.dtype(), [&]<typename T>() {
        for (int64_t i = 0; i < n; ++i) {
          const double k = static_cast<double>(static_cast<Acc<T>>(x.data<T>()[i]));
          if (std::isnan(k)) {
            pos[static_cast<size_t>(i)] = nan_index_;
            continue;
          }
          auto it = float_index_.find(k);
          if (it != float_index_.end())
            pos[static_cast<size_t>(i)] = static_cast<int64_t>(it->second);
        }
        return Status::Ok();
      }));
    }
    Tensor& y = ctx.Output(0, values.dtype(), x.shape());
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = pos[static_cast<size_t>(i)];
      if (p >= 0) {
        CopyElements(values, p, y, i, 1);
      } else {
        CopyElements(dflt, 0, y, i, 1);
      }
    }
    return Status::Ok();
  }

  bool v1_ = false;
  Tensor keys_, values_, default_;
  Tensor v1_indices_, v1_int_default_, v1_str_default_;  // opset 1 only
  std::map<std::string, size_t> str_index_;
  std::map<int64_t, size_t> int_index_;
  std::map<double, size_t> float_index_;
  int64_t nan_index_ = -1;
};

// ---- TreeEnsemble -------------------------------------------------------------------------------

enum class NodeMode : uint8_t { kLeq = 0, kLt, kGte, kGt, kEq, kNeq, kMember };
enum class Aggregate { kAverage = 0, kSum = 1, kMin = 2, kMax = 3 };
enum class PostTransform { kNone = 0, kSoftmax, kLogistic, kSoftmaxZero, kProbit };

// Inverse of erf by Newton steps from a rational first guess (for PROBIT).
double ErfInv(double y) {
  if (y <= -1) return -std::numeric_limits<double>::infinity();
  if (y >= 1) return std::numeric_limits<double>::infinity();
  const double a = 0.147;
  const double ln = std::log(1 - y * y);
  const double t = 2 / (std::numbers::pi * a) + ln / 2;
  double x = std::copysign(std::sqrt(std::sqrt(t * t - ln / a) - t), y);
  for (int i = 0; i < 4; ++i) {
    const double err = std::erf(x) - y;
    x -= err / (2 / std::sqrt(std::numbers::pi) * std::exp(-x * x));
  }
  return x;
}

class TreeEnsemble final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    n_targets_ = ctx.attr_int("n_targets", 0);
    if (n_targets_ <= 0)
      return ctx.Invalid("attribute n_targets must be positive, got {}", n_targets_);
    const int64_t agg = ctx.attr_int("aggregate_function", 1);
    if (agg < 0 || agg > 3) return ctx.Invalid("attribute aggregate_function: {} is not 0-3", agg);
    aggregate_ = static_cast<Aggregate>(agg);
    const int64_t post = ctx.attr_int("post_transform", 0);
    if (post < 0 || post > 4) return ctx.Invalid("attribute post_transform: {} is not 0-4", post);
    post_ = static_cast<PostTransform>(post);
    roots_ = ctx.attr_ints("tree_roots");
    feature_ = ctx.attr_ints("nodes_featureids");
    true_id_ = ctx.attr_ints("nodes_truenodeids");
    false_id_ = ctx.attr_ints("nodes_falsenodeids");
    true_leaf_ = ctx.attr_ints("nodes_trueleafs");
    false_leaf_ = ctx.attr_ints("nodes_falseleafs");
    missing_true_ = ctx.attr_ints("nodes_missing_value_tracks_true");
    leaf_target_ = ctx.attr_ints("leaf_targetids");
    const Tensor* modes = ctx.attr_tensor("nodes_modes");
    const Tensor* splits = ctx.attr_tensor("nodes_splits");
    const Tensor* weights = ctx.attr_tensor("leaf_weights");
    if (modes == nullptr || splits == nullptr || weights == nullptr)
      return ctx.Invalid("attributes nodes_modes, nodes_splits and leaf_weights are required");
    std::vector<double> mode_v;
    HONE_RETURN_IF_ERROR(TensorToDoubles(ctx.node(), *modes, mode_v));
    HONE_RETURN_IF_ERROR(TensorToDoubles(ctx.node(), *splits, split_));
    HONE_RETURN_IF_ERROR(TensorToDoubles(ctx.node(), *weights, leaf_weight_));
    const size_t n_nodes = feature_.size();
    if (mode_v.size() != n_nodes || split_.size() != n_nodes || true_id_.size() != n_nodes ||
        false_id_.size() != n_nodes || true_leaf_.size() != n_nodes ||
        false_leaf_.size() != n_nodes)
      return ctx.Invalid("the nodes_* attributes must all have {} values", n_nodes);
    if (!missing_true_.empty() && missing_true_.size() != n_nodes)
      return ctx.Invalid("attribute nodes_missing_value_tracks_true must have {} values", n_nodes);
    const size_t n_leaves = leaf_target_.size();
    if (leaf_weight_.size() != n_leaves)
      return ctx.Invalid("leaf_targetids has {} values but leaf_weights {}", n_leaves,
                         leaf_weight_.size());
    for (int64_t t : leaf_target_)
      if (t < 0 || t >= n_targets_)
        return ctx.Invalid("leaf target id {} is outside [0, {})", t, n_targets_);
    for (size_t i = 0; i < n_nodes; ++i) {
      if (mode_v[i] < 0 || mode_v[i] > 6)
        return ctx.Invalid("node {}: mode {} is not 0-6", i, mode_v[i]);
      modes_.push_back(static_cast<NodeMode>(static_cast<int>(mode_v[i])));
      if (feature_[i] < 0) return ctx.Invalid("node {}: negative feature id", i);
      for (int side = 0; side < 2; ++side) {
        const int64_t id = side == 0 ? true_id_[i] : false_id_[i];
        const bool leaf = (side == 0 ? true_leaf_[i] : false_leaf_[i]) != 0;
        if (id < 0 || static_cast<size_t>(id) >= (leaf ? n_leaves : n_nodes))
          return ctx.Invalid("node {}: child id {} is out of range", i, id);
      }
    }
    for (int64_t r : roots_)
      if (r < 0 || static_cast<size_t>(r) >= n_nodes)
        return ctx.Invalid("tree root {} is out of range", r);
    // Membership sets: the values of membership_values, NaN-separated, one set per MEMBER node.
    sets_.resize(n_nodes);
    if (const Tensor* mv = ctx.attr_tensor("membership_values")) {
      std::vector<double> vals;
      HONE_RETURN_IF_ERROR(TensorToDoubles(ctx.node(), *mv, vals));
      size_t at = 0;
      for (size_t i = 0; i < n_nodes; ++i) {
        if (modes_[i] != NodeMode::kMember) continue;
        while (at < vals.size() && !std::isnan(vals[at])) sets_[i].insert(vals[at++]);
        ++at;  // the separator
      }
    }
    // Every path must end at a leaf within n_nodes steps (no cycles).
    max_depth_ = static_cast<int64_t>(n_nodes) + 1;
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input X");
    if (x->rank() != 2) return ctx.Error("input X rank: expected 2, got {}", x->rank());
    const int64_t n = x->dim(0), f = x->dim(1);
    for (int64_t fid : feature_)
      if (fid >= f) return ctx.Error("feature id {} is outside the {} columns of X", fid, f);
    std::vector<double> xv;
    {
      Status s = VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() {
        xv.resize(static_cast<size_t>(x->numel()));
        for (size_t i = 0; i < xv.size(); ++i)
          xv[i] = static_cast<double>(static_cast<Acc<T>>(x->data<T>()[i]));
        return Status::Ok();
      });
      HONE_RETURN_IF_ERROR(s);
    }
    const size_t nt = static_cast<size_t>(n_targets_);
    std::vector<double> out(static_cast<size_t>(n) * nt, 0.0);
    std::vector<double> acc(nt);
    std::vector<bool> has(nt);
    for (int64_t row = 0; row < n; ++row) {
      const double* xr = xv.data() + row * f;
      std::fill(acc.begin(), acc.end(), 0.0);
      std::fill(has.begin(), has.end(), false);
      for (int64_t root : roots_) {
        int64_t node = root;
        int64_t leaf = -1;
        for (int64_t step = 0; step < max_depth_ && leaf < 0; ++step) {
          const size_t i = static_cast<size_t>(node);
          const bool go_true = Test(i, xr[feature_[i]]);
          const int64_t next = go_true ? true_id_[i] : false_id_[i];
          if ((go_true ? true_leaf_[i] : false_leaf_[i]) != 0) {
            leaf = next;
          } else {
            node = next;
          }
        }
        if (leaf < 0) return ctx.Error("tree at root {} has a cycle", root);
        const size_t t = static_cast<size_t>(leaf_target_[static_cast<size_t>(leaf)]);
        const double w = leaf_weight_[static_cast<size_t>(leaf)];
        switch (aggregate_) {
          case Aggregate::kSum:
          case Aggregate::kAverage:
            acc[t] += w;
            break;
          case Aggregate::kMin:
            acc[t] = has[t] ? std::min(acc[t], w) : w;
            break;
          case Aggregate::kMax:
            acc[t] = has[t] ? std::max(acc[t], w) : w;
            break;
        }
        has[t] = true;
      }
      if (aggregate_ == Aggregate::kAverage && !roots_.empty())
        for (double& v : acc) v /= static_cast<double>(roots_.size());
      Transform(acc);
      std::copy(acc.begin(), acc.end(), out.begin() + row * n_targets_);
    }
    Tensor& y = ctx.Output(0, x->dtype(), {n, n_targets_});
    return VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() {
      for (size_t i = 0; i < out.size(); ++i)
        y.data<T>()[i] = static_cast<T>(static_cast<Acc<T>>(out[i]));
      return Status::Ok();
    });
  }

 private:
  bool Test(size_t i, double v) const {
    if (std::isnan(v) && !missing_true_.empty() && missing_true_[i] != 0) return true;
    const double s = split_[i];
    switch (modes_[i]) {
      case NodeMode::kLeq:
        return v <= s;
      case NodeMode::kLt:
        return v < s;
      case NodeMode::kGte:
        return v >= s;
      case NodeMode::kGt:
        return v > s;
      case NodeMode::kEq:
        return v == s;
      case NodeMode::kNeq:
        return v != s;
      case NodeMode::kMember:
        return sets_[i].count(v) != 0;
    }
    return false;
  }

  void Transform(std::vector<double>& v) const {
    switch (post_) {
      case PostTransform::kNone:
        return;
      case PostTransform::kLogistic:
        for (double& e : v) e = 1.0 / (1.0 + std::exp(-e));
        return;
      case PostTransform::kProbit:
        for (double& e : v) e = std::numbers::sqrt2 * ErfInv(2 * e - 1);
        return;
      case PostTransform::kSoftmax:
      case PostTransform::kSoftmaxZero: {
        const bool skip_zero = post_ == PostTransform::kSoftmaxZero;
        double mx = -std::numeric_limits<double>::infinity();
        for (double e : v)
          if (!(skip_zero && e == 0)) mx = std::max(mx, e);
        double sum = 0;
        for (double& e : v) {
          if (skip_zero && e == 0) continue;
          e = std::exp(e - mx);
          sum += e;
        }
        if (sum > 0)
          for (double& e : v)
            if (!(skip_zero && e == 0)) e /= sum;
        return;
      }
    }
  }

  int64_t n_targets_ = 0;
  Aggregate aggregate_ = Aggregate::kSum;
  PostTransform post_ = PostTransform::kNone;
  std::vector<int64_t> roots_, feature_, true_id_, false_id_, true_leaf_, false_leaf_,
      missing_true_, leaf_target_;
  std::vector<NodeMode> modes_;
  std::vector<double> split_, leaf_weight_;
  std::vector<std::set<double>> sets_;  // per node; non-empty only for MEMBER nodes
  int64_t max_depth_ = 0;
};

// ai.onnx.ml Binarizer (1): y = x > threshold ? 1 : 0, same dtype as x.
class Binarizer final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    threshold_ = ctx.attr_float("threshold", 0.0f);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    Tensor& y = ctx.Output(0, x.dtype(), x.shape());
    return VisitNumeric(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i)
        dst[i] =
            static_cast<T>(static_cast<double>(static_cast<Acc<T>>(src[i])) > threshold_ ? 1 : 0);
      return Status::Ok();
    });
  }

 private:
  double threshold_ = 0;
};

// ai.onnx.ml ArrayFeatureExtractor (1): selects Y[..., indices] along the last axis.
class ArrayFeatureExtractor final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    HONE_ASSIGN_OR_RETURN(
        std::vector<int64_t> idx,
        ToInt64Vector(ctx.node(), ctx.input(1)->Reshaped({ctx.input(1)->numel()}), "indices"));
    if (x.rank() == 0) return ctx.Error("X must have rank >= 1");
    const int64_t last = x.dim(x.rank() - 1);
    for (int64_t i : idx)
      if (i < 0 || i >= last) return ctx.Error("index {} is out of range [0, {})", i, last);
    Shape shape = x.shape();
    shape.back() = static_cast<int64_t>(idx.size());
    if (x.rank() == 1) shape = {1, static_cast<int64_t>(idx.size())};
    Tensor& y = ctx.Output(0, x.dtype(), shape);
    const int64_t rows = x.numel() / std::max<int64_t>(last, 1);
    for (int64_t r = 0; r < rows; ++r)
      for (size_t k = 0; k < idx.size(); ++k)
        CopyElements(x, r * last + idx[k], y,
                     r * static_cast<int64_t>(idx.size()) + static_cast<int64_t>(k), 1);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Kernel> CreateRefBinarizer() { return std::make_unique<Binarizer>(); }
std::unique_ptr<Kernel> CreateRefArrayFeatureExtractor() {
  return std::make_unique<ArrayFeatureExtractor>();
}
std::unique_ptr<Kernel> CreateRefLabelEncoder() { return std::make_unique<LabelEncoder>(); }
std::unique_ptr<Kernel> CreateRefTreeEnsemble() { return std::make_unique<TreeEnsemble>(); }

}  // namespace hone::ref
