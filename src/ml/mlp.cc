#include "ml/mlp.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/errors.h"
#include "ml/graph_builder.h"
#include "ml/linalg.h"
#include "ml/numpy_random.h"

namespace hone::ml {

void Mlp::Forward(const float* x, int64_t n, std::vector<std::vector<float>>& acts) const {
  const size_t layers = w_.size();
  acts.resize(layers + 1);
  acts[0].assign(x, x + n * sizes_[0]);
  for (size_t l = 0; l < layers; ++l) {
    const int64_t in = sizes_[l], out = sizes_[l + 1];
    std::vector<float>& a = acts[l + 1];
    a.resize(static_cast<size_t>(n * out));
    for (int64_t i = 0; i < n; ++i) std::copy(b_[l].begin(), b_[l].end(), a.begin() + i * out);
    Gemm(false, false, n, out, in, 1.f, acts[l].data(), in, w_[l].data(), out, 1.f, a.data(), out);
    if (l + 1 < layers) {
      for (float& v : a) v = std::max(v, 0.f);
    } else {
      for (int64_t i = 0; i < n; ++i) {
        float* row = a.data() + i * out;
        const float mx = *std::max_element(row, row + out);
        float s = 0;
        for (int64_t c = 0; c < out; ++c) s += row[c] = std::exp(row[c] - mx);
        for (int64_t c = 0; c < out; ++c) row[c] /= s;
      }
    }
  }
}

Status Mlp::Fit(const Tensor& x, std::span<const int32_t> y, int classes, const MlpOptions& o) {
  if (x.dtype() != DataType::kFloat32 || x.rank() != 2)
    return InvalidArgument("the MLP takes float32 [rows, features], got {} {}",
                           DataTypeName(x.dtype()), ShapeToString(x.shape()));
  const int64_t n = x.dim(0), d = x.dim(1);
  if (static_cast<int64_t>(y.size()) != n)
    return InvalidArgument("{} labels for {} rows", y.size(), n);
  if (classes < 2) return InvalidArgument("a classifier needs at least two classes");
  for (int64_t h : o.hidden)
    if (h < 1) return InvalidArgument("hidden layer sizes must be positive, got {}", h);
  if (!(o.learning_rate > 0) || !(o.alpha >= 0) || o.max_iter < 1 || o.batch_size < 1)
    return InvalidArgument("learning_rate > 0, alpha >= 0, max_iter >= 1 and batch_size >= 1");
  for (int64_t i = 0; i < n * d; ++i)
    if (std::isnan(x.data<float>()[i]))
      return InvalidArgument("feature {} of row {} is NaN", i % d, i / d);
  sizes_ = {d};
  sizes_.insert(sizes_.end(), o.hidden.begin(), o.hidden.end());
  sizes_.push_back(classes);
  const size_t layers = sizes_.size() - 1;
  // scikit-learn's draws: RandomState(seed).uniform per layer (weights row-major [in, out],
  // then biases), then one shuffle of the running row order per epoch.
  NumpyRandom rng(static_cast<uint32_t>(o.seed));
  w_.assign(layers, {});
  b_.assign(layers, {});
  for (size_t l = 0; l < layers; ++l) {
    const double bound = std::sqrt(6.0 / static_cast<double>(sizes_[l] + sizes_[l + 1]));
    w_[l].resize(static_cast<size_t>(sizes_[l] * sizes_[l + 1]));
    b_[l].resize(static_cast<size_t>(sizes_[l + 1]));
    for (float& v : w_[l]) v = static_cast<float>(rng.Uniform(-bound, bound));
    for (float& v : b_[l]) v = static_cast<float>(rng.Uniform(-bound, bound));
  }
  // Adam state per parameter array (weights, then biases, per layer).
  std::vector<std::vector<float>> m_w(layers), v_w(layers), m_b(layers), v_b(layers);
  for (size_t l = 0; l < layers; ++l) {
    m_w[l].assign(w_[l].size(), 0.f);
    v_w[l].assign(w_[l].size(), 0.f);
    m_b[l].assign(b_[l].size(), 0.f);
    v_b[l].assign(b_[l].size(), 0.f);
  }
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t t = 0;
  const int64_t batch = std::min(o.batch_size, n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::vector<float> xb(static_cast<size_t>(batch * d));
  std::vector<std::vector<float>> acts, deltas(layers);
  std::vector<float> gw, gb;
  double best_loss = INFINITY;
  int no_change = 0;
  for (epochs_ = 0; epochs_ < o.max_iter;) {
    rng.Shuffle(order);
    double epoch_loss = 0;
    for (int64_t start = 0; start < n; start += batch) {
      const int64_t nb = std::min(batch, n - start);
      for (int64_t i = 0; i < nb; ++i) {
        const float* src = x.data<float>() + order[static_cast<size_t>(start + i)] * d;
        std::copy(src, src + d, xb.begin() + i * d);
      }
      Forward(xb.data(), nb, acts);
      // Output delta: (p - onehot) / nb; loss: mean cross-entropy + alpha/2 ||W||^2 / nb.
      std::vector<float>& top = deltas[layers - 1];
      top = acts[layers];
      double loss = 0;
      for (int64_t i = 0; i < nb; ++i) {
        const int32_t yi = y[static_cast<size_t>(order[static_cast<size_t>(start + i)])];
        float* row = top.data() + i * classes;
        loss -= std::log(std::max(row[yi], 1e-10f));
        row[yi] -= 1.f;
        for (int c = 0; c < classes; ++c) row[c] /= static_cast<float>(nb);
      }
      double sq = 0;
      for (const auto& w : w_) {
        float part = 0;
        const float* wp = w.data();
        const size_t count = w.size();
#pragma omp simd reduction(+ : part)
        for (size_t k = 0; k < count; ++k) part += wp[k] * wp[k];
        sq += part;
      }
      epoch_loss += loss + 0.5 * o.alpha * sq;  // scikit-learn sums batch losses x batch size
      ++t;
      const double lr = o.learning_rate * std::sqrt(1 - std::pow(beta2, static_cast<double>(t))) /
                        (1 - std::pow(beta1, static_cast<double>(t)));
      for (size_t l = layers; l-- > 0;) {
        const int64_t in = sizes_[l], out = sizes_[l + 1];
        gw.assign(w_[l].size(), 0.f);
        gb.assign(b_[l].size(), 0.f);
        const std::vector<float>& delta = deltas[l];
        Gemm(true, false, in, out, nb, 1.f, acts[l].data(), in, delta.data(), out, 0.f, gw.data(),
             out);
        const float decay = static_cast<float>(o.alpha) / static_cast<float>(nb);
        for (size_t k = 0; k < gw.size(); ++k) gw[k] += decay * w_[l][k];
        for (int64_t i = 0; i < nb; ++i)
          for (int64_t c = 0; c < out; ++c)
            gb[static_cast<size_t>(c)] += delta[static_cast<size_t>(i * out + c)];
        if (l > 0) {  // delta of the layer below: delta W^T, through the ReLU
          std::vector<float>& below = deltas[l - 1];
          below.assign(static_cast<size_t>(nb * in), 0.f);
          Gemm(false, true, nb, in, out, 1.f, delta.data(), out, w_[l].data(), out, 0.f,
               below.data(), in);
          float* bp = below.data();
          const float* ap = acts[l].data();
          const size_t count = below.size();
#pragma omp simd
          for (size_t k = 0; k < count; ++k) bp[k] = ap[k] > 0.f ? bp[k] : 0.f;  // ReLU
        }
        // Adam in float, vectorised (the parameters are float anyway).
        const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2),
                    step = static_cast<float>(lr), e = static_cast<float>(eps);
        auto adam = [b1, b2, step, e](std::vector<float>& p, const std::vector<float>& g,
                                      std::vector<float>& m, std::vector<float>& v) {
          float* pp = p.data();
          const float* gp = g.data();
          float* mp = m.data();
          float* vp = v.data();
          const size_t count = p.size();
#pragma omp simd
          for (size_t k = 0; k < count; ++k) {
            mp[k] = b1 * mp[k] + (1 - b1) * gp[k];
            vp[k] = b2 * vp[k] + (1 - b2) * gp[k] * gp[k];
            pp[k] -= step * mp[k] / (std::sqrt(vp[k]) + e);
          }
        };
        adam(w_[l], gw, m_w[l], v_w[l]);
        adam(b_[l], gb, m_b[l], v_b[l]);
      }
    }
    ++epochs_;
    epoch_loss /= static_cast<double>(n);
    if (epoch_loss > best_loss - o.tol) {
      if (++no_change > o.n_iter_no_change) break;  // scikit-learn: more than n epochs
    } else {
      no_change = 0;
    }
    best_loss = std::min(best_loss, epoch_loss);
  }
  return Status::Ok();
}

std::vector<float> Mlp::PredictProba(const Tensor& x) const {
  HONE_CHECK(x.rank() == 2 && x.dim(1) == sizes_[0]);
  std::vector<std::vector<float>> acts;
  Forward(x.data<float>(), x.dim(0), acts);
  return acts.back();
}

std::vector<int32_t> Mlp::Predict(const Tensor& x) const {
  const std::vector<float> p = PredictProba(x);
  const int64_t k = sizes_.back();
  std::vector<int32_t> out(static_cast<size_t>(x.dim(0)));
  for (size_t i = 0; i < out.size(); ++i) {
    const float* row = p.data() + static_cast<int64_t>(i) * k;
    out[i] = static_cast<int32_t>(std::max_element(row, row + k) - row);
  }
  return out;
}

void Mlp::AppendOnnx(Graph& g, const std::string& input, const std::string& probabilities,
                     const std::string& index) const {
  GraphBuilder b(g, "mlp_");
  std::string h = input;
  for (size_t l = 0; l < w_.size(); ++l) {
    const std::string z = b.Op("Gemm", {h, b.Floats("w", w_[l], {sizes_[l], sizes_[l + 1]}),
                                        b.Floats("b", b_[l], {sizes_[l + 1]})});
    if (l + 1 < w_.size()) {
      h = b.Op("Relu", {z});
    } else {
      b.ClassHead(z, /*one_column=*/false, probabilities, index);
    }
  }
}

}  // namespace hone::ml
