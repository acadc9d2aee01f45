// t-SNE (van der Maaten 2014, Barnes-Hut) into two dimensions, following scikit-learn's TSNE
// defaults: perplexity 30 over the 3 * perplexity nearest neighbours, early exaggeration 12 for
// the first 250 iterations (momentum 0.5, then 0.8), learning rate max(n / 12 / 4, 50), PCA
// initialisation scaled to a standard deviation of 1e-4, delta-bar-delta gains, theta 0.5.
//
//   hone::ml::TsneOptions o;                   // the defaults above
//   auto r = hone::ml::Tsne(x, o, pool);        // x: float32 [rows, features]
//   // r->embedding: [rows, 2]; r->kl_divergence
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"

namespace hone {
class ThreadPool;
}

namespace hone::ml {

struct TsneOptions {
  double perplexity = 30;
  double early_exaggeration = 12;
  int iterations = 1000;     // in all, the 250 exaggerated ones included
  double learning_rate = 0;  // 0 = auto: max(rows / early_exaggeration / 4, 50)
  double theta = 0.5;        // Barnes-Hut accuracy: 0 = exact repulsion (slow)
  bool pca_init = true;      // else random normal * 1e-4
  uint64_t seed = 0;
  // Called every 50 iterations and at the end with (iteration, KL divergence).
  std::function<void(int, double)> progress;
};

struct TsneResult {
  Tensor embedding;  // float32 [rows, 2]
  double kl_divergence = 0;
  int iterations = 0;
};

StatusOr<TsneResult> Tsne(const Tensor& x, const TsneOptions& options, ThreadPool& pool);

// Fraction in [0, 1] of each point's k nearest neighbours in the embedding that are not among its
// nearest in the input, penalised by rank (scikit-learn's trustworthiness, Euclidean). k is
// capped at rows - 1; scikit-learn asks for k < rows / 2, where the score is meaningful.
double Trustworthiness(const Tensor& x, const Tensor& embedding, int k, ThreadPool& pool);

// A scatter plot of a [rows, 2] embedding as SVG, coloured by integer label (labels may be
// empty: one colour), with a legend.
std::string ScatterSvg(const Tensor& embedding, const std::vector<int64_t>& labels,
                       const std::string& title);

}  // namespace hone::ml
