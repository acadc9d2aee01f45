#include "ml/estimator.h"

#include "ml/linear.h"

namespace hone::ml {
namespace {

// A classifier family: `Model` fits (x, labels, classes, Options) and predicts class indices.
template <typename Model, typename Options>
class ClassifierEstimator final : public Estimator {
 public:
  ClassifierEstimator(const char* kind, const Options& o) : kind_(kind), options_(o) {}
  const char* kind() const override { return kind_; }
  bool regression() const override { return false; }
  Status Fit(const Tensor& x, std::span<const int32_t> labels, std::span<const double>,
             int classes) override {
    return model_.Fit(x, labels, classes, options_);
  }
  std::vector<int32_t> PredictClass(const Tensor& x) const override { return model_.Predict(x); }
  void AppendOnnx(Graph& g, const std::string& input, const std::string& probabilities,
                  const std::string& index) const override {
    model_.AppendOnnx(g, input, probabilities, index);
  }

 private:
  const char* kind_;
  Options options_;
  Model model_;
};

class RidgeEstimator final : public Estimator {
 public:
  explicit RidgeEstimator(double alpha) : alpha_(alpha) {}
  const char* kind() const override { return "linear"; }
  bool regression() const override { return true; }
  Status Fit(const Tensor& x, std::span<const int32_t>, std::span<const double> values,
             int) override {
    return model_.Fit(x, values, alpha_);
  }
  std::vector<double> PredictValue(const Tensor& x) const override { return model_.Predict(x); }
  void AppendOnnx(Graph& g, const std::string& input, const std::string& prediction,
                  const std::string&) const override {
    model_.AppendOnnx(g, input, prediction);
  }

 private:
  double alpha_;
  Ridge model_;
};

class GbdtEstimator final : public Estimator {
 public:
  GbdtEstimator(const GbdtOptions& o, bool regression) : options_(o), regression_(regression) {}
  const char* kind() const override { return "gbdt"; }
  bool regression() const override { return regression_; }
  Status Fit(const Tensor& x, std::span<const int32_t> labels, std::span<const double> values,
             int classes) override {
    return regression_ ? model_.FitRegressor(x, values, options_)
                       : model_.FitClassifier(x, labels, classes, options_);
  }
  std::vector<int32_t> PredictClass(const Tensor& x) const override { return model_.Predict(x); }
  std::vector<double> PredictValue(const Tensor& x) const override {
    return model_.PredictValue(x);
  }
  void AppendOnnx(Graph& g, const std::string& input, const std::string& probabilities,
                  const std::string& index) const override {
    model_.AppendOnnx(g, input, probabilities, index);
  }

 private:
  GbdtOptions options_;
  bool regression_;
  Gbdt model_;
};

}  // namespace

std::unique_ptr<Estimator> MakeEstimator(const std::string& kind, const EstimatorOptions& o,
                                         bool regression) {
  if (kind == "gbdt") return std::make_unique<GbdtEstimator>(o.gbdt, regression);
  if (regression != (kind == "linear")) return nullptr;
  if (kind == "logistic")
    return std::make_unique<ClassifierEstimator<LogisticRegression, LogisticOptions>>("logistic",
                                                                                      o.logistic);
  if (kind == "mlp") return std::make_unique<ClassifierEstimator<Mlp, MlpOptions>>("mlp", o.mlp);
  if (kind == "linear") return std::make_unique<RidgeEstimator>(o.alpha);
  return nullptr;
}

}  // namespace hone::ml
