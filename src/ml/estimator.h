// The seam between hone fit's pipeline and its model families: one fitted model behind one
// interface, so the pipeline, the search and the exporter do not know which family they hold.
// Families: logistic (ml/logistic.h), linear (ridge, ml/linear.h), mlp (ml/mlp.h), gbdt
// (histogram gradient boosting, ml/gbdt.h; classifier or regressor).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"
#include "ir/graph.h"
#include "ml/gbdt.h"
#include "ml/logistic.h"
#include "ml/mlp.h"

namespace hone::ml {

// Every family's settings; each family reads its own.
struct EstimatorOptions {
  LogisticOptions logistic;
  double alpha = 1.0;  // ridge penalty
  MlpOptions mlp;
  GbdtOptions gbdt;
};

class Estimator {
 public:
  virtual ~Estimator() = default;
  virtual const char* kind() const = 0;  // "logistic", "linear", "mlp", "gbdt"
  virtual bool regression() const = 0;
  // x: float32 [rows, features]. Classifiers read `labels` (class index per row, `classes` of
  // them); regressors read `values`.
  virtual Status Fit(const Tensor& x, std::span<const int32_t> labels,
                     std::span<const double> values, int classes) = 0;
  // Classifiers: the most probable class per row. Regressors: empty.
  virtual std::vector<int32_t> PredictClass(const Tensor& x) const { return {}; }
  // Regressors: the predicted value per row. Classifiers: empty.
  virtual std::vector<double> PredictValue(const Tensor& x) const { return {}; }
  // Appends the model to `g` reading float32 [N, features] `input`. Classifiers write
  // `probabilities` (float32 [N, classes]) and `index` (int64 [N]); regressors write
  // `prediction` (float32 [N]) under the name given as `probabilities`.
  virtual void AppendOnnx(Graph& g, const std::string& input, const std::string& probabilities,
                          const std::string& index) const = 0;
};

// A model of family `kind` (logistic, linear, mlp, gbdt) with `options`; nullptr for another
// kind, or for a family that cannot do `regression` (logistic, mlp) or classification (linear).
std::unique_ptr<Estimator> MakeEstimator(const std::string& kind, const EstimatorOptions& options,
                                         bool regression);

}  // namespace hone::ml
