// Linear least squares with an L2 penalty, as scikit-learn's Ridge fits it: the intercept from
// the centred data (not penalised), the weights from (Xc^T Xc + alpha I) w = Xc^T yc solved by
// Cholesky in double precision. alpha = 0 is ordinary least squares (LinearRegression) when
// Xc^T Xc is positive definite.
//
//   ml::Ridge r;
//   HONE_RETURN_IF_ERROR(r.Fit(x, y, /*alpha=*/1.0));   // x: float32 [rows, features]
//   std::vector<double> p = r.Predict(x);
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"
#include "ir/graph.h"

namespace hone::ml {

class Ridge {
 public:
  // y has one value per row of x; `rows` selects the training rows (all when empty).
  Status Fit(const Tensor& x, std::span<const double> y, double alpha,
             std::span<const int64_t> rows = {});
  std::vector<double> Predict(const Tensor& x, std::span<const int64_t> rows = {}) const;
  // Appends float32 [N, features] `input` -> float32 [N] `output` (Gemm, then Squeeze).
  void AppendOnnx(Graph& g, const std::string& input, const std::string& output) const;

  const std::vector<double>& coef() const { return coef_; }
  double intercept() const { return intercept_; }

 private:
  std::vector<double> coef_;
  double intercept_ = 0;
};

// 1 - sum (y - p)^2 / sum (y - mean y)^2, scikit-learn's r2_score (1 when y is constant and p
// matches it, 0 when it is constant and p does not).
double R2(std::span<const double> y, std::span<const double> p);

}  // namespace hone::ml
