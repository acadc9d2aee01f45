// L2-regularised logistic regression, fitted as scikit-learn's LogisticRegression(solver='lbfgs')
// fits it: minimise  sum_i loss_i + ||W||^2 / (2 C)  (the intercept is not penalised) by L-BFGS
// until the largest gradient component is <= tol or max_iter iterations. Two classes: one
// sigmoid; more: multinomial softmax.
//
//   ml::LogisticRegression lr;
//   HONE_RETURN_IF_ERROR(lr.Fit(x, y, /*classes=*/10, {.c = 1.0}));  // y: class index per row
//   std::vector<float> p = lr.PredictProba(x);                        // rows x 10
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"
#include "ir/graph.h"

namespace hone::ml {

struct LogisticOptions {
  double c = 1.0;  // inverse regularisation strength
  int max_iter = 100;
  double tol = 1e-4;
};

class LogisticRegression {
 public:
  // x: float32 [rows, features] (no NaN); y[i] in [0, classes); classes >= 2. `rows` selects
  // the training rows (all when empty).
  Status Fit(const Tensor& x, std::span<const int32_t> y, int classes,
             const LogisticOptions& options = {}, std::span<const int64_t> rows = {});
  // Row-major [n, classes] probabilities of `rows` of x (all when empty).
  std::vector<float> PredictProba(const Tensor& x, std::span<const int64_t> rows = {}) const;
  // The most probable class of each row.
  std::vector<int32_t> Predict(const Tensor& x, std::span<const int64_t> rows = {}) const;

  // Appends the model to `g`: float32 [N, features] `input` -> `probabilities` float32
  // [N, classes] (Gemm, then Sigmoid or Softmax) and `index` int64 [N] (ArgMax).
  void AppendOnnx(Graph& g, const std::string& input, const std::string& probabilities,
                  const std::string& index) const;

  int classes() const { return classes_; }
  int64_t features() const { return features_; }
  int iterations() const { return iterations_; }
  bool converged() const { return converged_; }

 private:
  int classes_ = 0;
  int64_t features_ = 0;
  int outputs_ = 0;           // 1 (binary) or classes_
  std::vector<double> coef_;  // [features, outputs] then the outputs intercepts
  int iterations_ = 0;
  bool converged_ = false;
};

}  // namespace hone::ml
