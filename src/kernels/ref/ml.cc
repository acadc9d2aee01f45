// Reference kernels of the ai.onnx.ml domain.
// ONNX operators: LabelEncoder (ai.onnx.ml opsets 1-4: classes_strings in 1; keys_* / values_*
// and default_* in 2-3; keys_tensor / values_tensor / default_tensor in 4, NaN keys match NaN),
// Binarizer and ArrayFeatureExtractor (ai.onnx.ml 1). The tree ensembles: tree_ensemble.cc.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

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

}  // namespace hone::ref
