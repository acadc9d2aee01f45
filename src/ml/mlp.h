// A multi-layer perceptron classifier trained as scikit-learn's MLPClassifier trains it by
// default: ReLU hidden layers, softmax output, cross-entropy + alpha/2 ||W||^2 per sample, Adam
// (lr 1e-3, betas 0.9 / 0.999, eps 1e-8) on shuffled minibatches of min(200, rows), Glorot-uniform
// initial weights, stopping after max_iter epochs or when the epoch loss has not improved by tol
// for n_iter_no_change epochs. The random draws are scikit-learn's: with the same seed
// (random_state) the initial weights and every epoch's row order are MLPClassifier's (NumPy's
// RandomState stream, ml/numpy_random.h). Float32 GEMMs on oneDNN (ml::Gemm). Two classes use a
// two-way softmax (scikit-learn: one sigmoid unit; the decision is the same model family).
//
//   ml::Mlp net;
//   HONE_RETURN_IF_ERROR(net.Fit(x, y, /*classes=*/10, {.hidden = {100}}));
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"
#include "ir/graph.h"

namespace hone::ml {

struct MlpOptions {
  std::vector<int64_t> hidden = {100};
  double alpha = 1e-4;          // L2 penalty
  double learning_rate = 1e-3;  // Adam's step
  int max_iter = 200;           // epochs
  int64_t batch_size = 200;
  double tol = 1e-4;
  int n_iter_no_change = 10;
  uint64_t seed = 0;  // scikit-learn's random_state (0 ... 2^32 - 1)
};

class Mlp {
 public:
  // x: float32 [rows, features], no NaN; y[i] in [0, classes).
  Status Fit(const Tensor& x, std::span<const int32_t> y, int classes, const MlpOptions& options);
  // Row-major [rows, classes] probabilities.
  std::vector<float> PredictProba(const Tensor& x) const;
  std::vector<int32_t> Predict(const Tensor& x) const;
  // float32 [N, features] `input` -> `probabilities` [N, classes] and `index` int64 [N]:
  // Gemm + Relu per hidden layer, Gemm + Softmax, ArgMax.
  void AppendOnnx(Graph& g, const std::string& input, const std::string& probabilities,
                  const std::string& index) const;
  int epochs() const { return epochs_; }

 private:
  // Activations of every layer for `n` rows of x (acts[0] = x's rows, last = probabilities).
  void Forward(const float* x, int64_t n, std::vector<std::vector<float>>& acts) const;

  std::vector<int64_t> sizes_;             // features, hidden..., classes
  std::vector<std::vector<float>> w_, b_;  // per layer: [in, out], [out]
  int epochs_ = 0;
};

}  // namespace hone::ml
