// Principal component analysis, as scikit-learn's PCA computes it (centred data; explained
// variance with n - 1 degrees of freedom; optional whitening), fitted from the covariance
// matrix: one multi-threaded GEMM over the data and an eigen-decomposition of a features x
// features matrix, instead of an SVD of the whole data matrix; or by a randomized SVD.
//
//   hone::ml::Pca pca;
//   HONE_RETURN_IF_ERROR(pca.Fit(x, /*components=*/10));   // x: float32 [rows, features]
//   Tensor z = pca.Transform(x);                          // [rows, 10]
//   Model m = pca.ToOnnx();                               // the same transform as an ONNX graph
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"
#include "ir/graph.h"

namespace hone {
class ThreadPool;
}

namespace hone::ml {

struct PcaOptions {
  bool whiten = false;  // scale each component to unit variance
  // full: the exact decomposition (of the covariance matrix). randomized: Halko et al.'s
  // randomized range finder as scikit-learn's svd_solver='randomized' (components + 10
  // oversamples, power iterations with re-orthonormalisation: 7 when components < 10% of
  // min(rows, features), else 4), for many features and few components; seeded.
  std::string solver = "full";
  uint64_t seed = 0;
  int power_iterations = -1;  // randomized: -1 = the rule above
};

class Pca {
 public:
  // x: float32 [rows, features], rows >= 2, no NaN. 1 <= components <= min(rows, features).
  // With a pool, blocks of rows are processed in parallel (sums per thread, then added).
  Status Fit(const Tensor& x, int64_t components, const PcaOptions& options = {},
             ThreadPool* pool = nullptr);
  // [rows, components]; x must have the fitted number of features.
  StatusOr<Tensor> Transform(const Tensor& x, ThreadPool* pool = nullptr) const;
  // Graph input "X" float32 [N, features] -> output "Y" [N, components]: Sub and MatMul
  // (whitening folded into the matrix).
  Model ToOnnx() const;
  // Appends the transform to `g`: float32 [N, features] `input` -> [N, components] `output`.
  void AppendOnnx(Graph& g, const std::string& input, const std::string& output) const;

  int64_t features() const { return features_; }
  int64_t components() const { return components_; }
  const std::vector<float>& mean() const { return mean_; }
  // Row i = component i (unit length; sign: its largest-magnitude entry is positive).
  const std::vector<float>& component_matrix() const { return components_matrix_; }
  const std::vector<double>& explained_variance() const { return explained_variance_; }
  const std::vector<double>& explained_variance_ratio() const { return explained_ratio_; }
  const std::vector<double>& singular_values() const { return singular_values_; }
  bool whiten() const { return options_.whiten; }

 private:
  // The projection as one [features, components] matrix (whitening folded in).
  std::vector<float> Projection() const;

  PcaOptions options_;
  int64_t features_ = 0, components_ = 0;
  std::vector<float> mean_;
  std::vector<float> components_matrix_;  // [components, features]
  std::vector<double> explained_variance_, explained_ratio_, singular_values_;
};

}  // namespace hone::ml
