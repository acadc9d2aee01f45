// Gradient-boosted decision trees on histograms, fitted as scikit-learn's
// HistGradientBoostingClassifier / Regressor fit them (with early_stopping=False): features
// binned into at most max_bins quantile bins, trees grown best-first (the leaf with the largest
// gain is split next) up to max_leaf_nodes leaves, a child's histogram by subtraction from its
// parent's, leaf values -learning_rate * G / (H + l2). Losses: log loss (two classes: one
// sigmoid output; more: one tree per class per iteration, softmax) and squared error.
//
//   ml::Gbdt m;
//   HONE_RETURN_IF_ERROR(m.FitClassifier(x, y, /*classes=*/2, {.learning_rate = 0.1}));
//   std::vector<int32_t> labels = m.Predict(x);
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"
#include "ir/graph.h"

namespace hone::ml {

struct GbdtOptions {
  int max_iter = 100;            // boosting iterations
  double learning_rate = 0.1;    // shrinkage of every leaf value
  int max_leaf_nodes = 31;       // per tree; 0: no limit
  int max_depth = 0;             // edges from root to leaf; 0: no limit
  int min_samples_leaf = 20;     // rows in a leaf at least
  double l2_regularization = 0;  // added to every leaf's hessian sum
  int max_bins = 255;            // 2 ... 255
};

class Gbdt {
 public:
  // x: float32 [rows, features] without NaN (hone fit imputes before the model). y[i] in
  // [0, classes), classes >= 2.
  Status FitClassifier(const Tensor& x, std::span<const int32_t> y, int classes,
                       const GbdtOptions& options = {});
  Status FitRegressor(const Tensor& x, std::span<const double> y, const GbdtOptions& options = {});

  // Baseline plus every tree: row-major [rows, outputs()] (the log-odds of class 1, the
  // classes' logits, or the predicted value).
  std::vector<double> Raw(const Tensor& x) const;
  // Classifiers: row-major [rows, classes] probabilities; the most probable class per row.
  std::vector<float> PredictProba(const Tensor& x) const;
  std::vector<int32_t> Predict(const Tensor& x) const;
  // Regressors: the predicted value per row.
  std::vector<double> PredictValue(const Tensor& x) const;

  // Appends the model to `g` reading float32 [N, features] `input`: one ai.onnx.ml
  // TreeEnsembleRegressor (raw scores), then for classifiers Sigmoid or Softmax into
  // `probabilities` (float32 [N, classes]) and ArgMax into `index` (int64 [N]); a regressor
  // writes float32 [N] under the name `probabilities`.
  void AppendOnnx(Graph& g, const std::string& input, const std::string& probabilities,
                  const std::string& index) const;

  bool regression() const { return regression_; }
  int classes() const { return classes_; }
  int outputs() const { return outputs_; }
  int64_t features() const { return features_; }
  size_t trees() const { return trees_.size(); }
  int64_t leaves() const;  // over all trees

  // One tree node. A leaf has feature -1 and its (shrunk) value; a split sends a row left when
  // x[feature] <= threshold (a float32 value, so float32 input compares exactly as in training).
  struct TreeNode {
    float threshold = 0;
    int32_t feature = -1;
    int32_t left = 0, right = 0;
    double value = 0;
  };
  struct Tree {
    std::vector<TreeNode> nodes;  // nodes[0] is the root
    int output = 0;               // the raw-score column it adds to
  };

 private:
  Status Fit(const Tensor& x, std::span<const int32_t> labels, std::span<const double> values,
             int classes, const GbdtOptions& options);

  bool regression_ = false;
  int classes_ = 0;
  int outputs_ = 0;  // 1 (regression, two classes) or classes_
  int64_t features_ = 0;
  std::vector<double> baseline_;  // per output
  std::vector<Tree> trees_;       // iteration-major, outputs_ per iteration

  // trees_ laid out for prediction: every tree's nodes in one array, leaves looping to
  // themselves, so that a block of rows walks a tree in lockstep for its depth, branch-free.
  struct FlatNode {
    float threshold;
    int32_t feature;
    int32_t child[2];  // [x <= threshold, otherwise]
  };
  struct FlatTree {
    int32_t root;  // index into flat_nodes_
    int depth;
    int output;
  };
  void Flatten();
  std::vector<FlatNode> flat_nodes_;
  std::vector<double> flat_values_;  // per flat node (leaves' values)
  std::vector<FlatTree> flat_trees_;
};

}  // namespace hone::ml
