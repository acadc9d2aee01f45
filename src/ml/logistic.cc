#include "ml/logistic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>

#include "core/errors.h"
#include "core/target_clones.h"
#include "ml/graph_builder.h"

namespace hone::ml {

namespace {

double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  const size_t n = a.size();
#pragma omp simd reduction(+ : s)
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

double MaxAbs(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::abs(v));
  return m;
}

// Loss and per-row output gradient of one row's logits z[0, m): z becomes dloss/dz.
inline double RowLoss(double* z, int m, int32_t y) {
  if (m == 1) {
    const double t = z[0];
    const double p = 1.0 / (1.0 + std::exp(-t));
    z[0] = p - y;
    // log(1 + e^t) - y t, stably
    return (t > 0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t))) - y * t;
  }
  double mx = z[0];
  for (int c = 1; c < m; ++c) mx = std::max(mx, z[c]);
  double s = 0;
  const double zy = z[y];
  for (int c = 0; c < m; ++c) s += z[c] = std::exp(z[c] - mx);
  const double inv = 1.0 / s;
  for (int c = 0; c < m; ++c) z[c] *= inv;
  z[y] -= 1.0;
  return mx + std::log(s) - zy;
}

using V8 = double __attribute__((vector_size(64)));
using V8i = int64_t __attribute__((vector_size(64)));

// e^x per lane for x in [-708, 0] (softmax terms; lower values give ~1e-308): 2^n e^r with n =
// round(x / ln 2), r reduced in two steps, e^r by its Taylor series to r^11 (|r| <= 0.35: error
// below 1e-15 relative), 2^n built in the exponent bits.
// (In place, by reference: vectors by value would change the ABI in the non-AVX-512 clones.)
inline void ExpNonPositive(V8& x) {
  const V8 lo = V8{} - 708.0;
  x = x < lo ? lo : x;
  const V8 shifter = V8{} + 0x1.8p52;
  const V8 t = x * 1.4426950408889634 + shifter;  // round(x / ln 2) in the low mantissa bits
  const V8 nf = t - shifter;
  const V8 r = (x - nf * 0.6931471803691238) - nf * 1.9082149292705877e-10;
  V8 p = V8{} + 1.0 / 39916800.0;
  for (double c : {1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0,
                   1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0})
    p = p * r + c;
  V8i ti, si;
  std::memcpy(&ti, &t, sizeof(V8));
  std::memcpy(&si, &shifter, sizeof(V8));
  const V8i bits = (ti - si + 1023) << 52;
  V8 scale;
  std::memcpy(&scale, &bits, sizeof(V8));
  x = p * scale;
}

// Loss and gradient over the rows of x (double, row-major [n, d]) with at most 16 outputs:
// weights padded to V vectors of 8 per feature (wp: [d, 8V]; bp: [8V]; gp likewise), four rows
// at a time so the logits of 4 rows x 8V outputs stay in registers.
template <int V>
HONE_VECTOR_CLONES double LossGradBlocked(const float* x, const int32_t* y, int64_t n, int64_t d,
                                          int m, const double* wp, const double* bp, double* gp,
                                          double* gbp) {
  constexpr int kRows = 4, kW = 8 * V;
  const std::vector<float> zero(static_cast<size_t>(d), 0.f);
  V8 lanes[V];  // 1 for the real outputs, 0 for the padding
  for (int v = 0; v < V; ++v)
    for (int l = 0; l < 8; ++l) lanes[v][l] = 8 * v + l < m ? 1.0 : 0.0;
  double loss = 0;
  for (int64_t i0 = 0; i0 < n; i0 += kRows) {
    const int rows = static_cast<int>(std::min<int64_t>(kRows, n - i0));
    const float* xr[kRows];
    for (int r = 0; r < kRows; ++r) xr[r] = r < rows ? x + (i0 + r) * d : zero.data();
    V8 acc[kRows][V];
    for (int r = 0; r < kRows; ++r)
      for (int v = 0; v < V; ++v) std::memcpy(&acc[r][v], bp + 8 * v, sizeof(V8));
    for (int64_t j = 0; j < d; ++j) {
      V8 w[V];
      for (int v = 0; v < V; ++v) std::memcpy(&w[v], wp + j * kW + 8 * v, sizeof(V8));
      for (int r = 0; r < kRows; ++r) {
        const double xv = xr[r][j];  // float -> double
        for (int v = 0; v < V; ++v) acc[r][v] += xv * w[v];
      }
    }
    V8 dz[kRows][V];
    if (m > 1) {
      // Softmax over the lanes: padded lanes (c >= m) and padded rows get no gradient. The
      // block's log-sum-exps share one log (each sum is in [1, m]).
      double sums = 1;
      for (int r = 0; r < kRows; ++r) {
        if (r >= rows) {
          for (int v = 0; v < V; ++v) dz[r][v] = V8{};
          continue;
        }
        double z[kW];
        for (int v = 0; v < V; ++v) std::memcpy(&z[8 * v], &acc[r][v], sizeof(V8));
        double mx = z[0];
        for (int c = 1; c < m; ++c) mx = std::max(mx, z[c]);
        const int32_t yi = y[i0 + r];
        const double zy = z[yi];
        double sum = 0;
        for (int v = 0; v < V; ++v) {
          dz[r][v] = acc[r][v] - mx;
          ExpNonPositive(dz[r][v]);
          dz[r][v] *= lanes[v];
          for (int l = 0; l < 8; ++l) sum += dz[r][v][l];
        }
        loss += mx - zy;
        sums *= sum;
        const double inv = 1.0 / sum;
        for (int v = 0; v < V; ++v) dz[r][v] *= inv;
        dz[r][yi / 8][yi % 8] -= 1.0;
      }
      loss += std::log(sums);
    } else {
      double z[kRows][kW];
      for (int r = 0; r < kRows; ++r) {
        for (int v = 0; v < V; ++v) std::memcpy(&z[r][8 * v], &acc[r][v], sizeof(V8));
        if (r < rows) {
          loss += RowLoss(z[r], m, y[i0 + r]);
          for (int c = m; c < kW; ++c) z[r][c] = 0;
        } else {
          for (int c = 0; c < kW; ++c) z[r][c] = 0;
        }
      }
      for (int r = 0; r < kRows; ++r)
        for (int v = 0; v < V; ++v) std::memcpy(&dz[r][v], &z[r][8 * v], sizeof(V8));
    }
    for (int v = 0; v < V; ++v) {
      V8 gb;
      std::memcpy(&gb, gbp + 8 * v, sizeof(V8));
      gb += dz[0][v] + dz[1][v] + dz[2][v] + dz[3][v];
      std::memcpy(gbp + 8 * v, &gb, sizeof(V8));
    }
    for (int64_t j = 0; j < d; ++j) {
      for (int v = 0; v < V; ++v) {
        V8 g;
        std::memcpy(&g, gp + j * kW + 8 * v, sizeof(V8));
        g += double{xr[0][j]} * dz[0][v] + double{xr[1][j]} * dz[1][v] +
             double{xr[2][j]} * dz[2][v] + double{xr[3][j]} * dz[3][v];
        std::memcpy(gp + j * kW + 8 * v, &g, sizeof(V8));
      }
    }
  }
  return loss;
}

// The same for any number of outputs, a row at a time (weights [d, m] as in theta).
double LossGradRows(const float* x, const int32_t* y, int64_t n, int64_t d, int m, const double* w,
                    const double* b, double* gw, double* gb) {
  std::vector<double> z(static_cast<size_t>(m));
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * d;
    for (int c = 0; c < m; ++c) z[static_cast<size_t>(c)] = b[c];
    for (int64_t j = 0; j < d; ++j)
      for (int c = 0; c < m; ++c) z[static_cast<size_t>(c)] += xi[j] * w[j * m + c];
    loss += RowLoss(z.data(), m, y[i]);
    for (int c = 0; c < m; ++c) gb[c] += z[static_cast<size_t>(c)];
    for (int64_t j = 0; j < d; ++j)
      for (int c = 0; c < m; ++c) gw[j * m + c] += xi[j] * z[static_cast<size_t>(c)];
  }
  return loss;
}

// theta / grad: weights [d, m] (row j: feature j's weight per output), then m intercepts.
double LossGrad(const float* x, const int32_t* y, int64_t n, int64_t d, int m, double inv_c,
                const double* theta, double* grad) {
  const double* w = theta;
  const double* b = theta + d * m;
  double* gw = grad;
  double* gb = grad + d * m;
  double loss;
  if (m <= 16) {
    const int kw = m <= 8 ? 8 : 16;
    std::vector<double> wp(static_cast<size_t>(d * kw + kw), 0.0), gp(wp.size(), 0.0);
    for (int64_t j = 0; j < d; ++j)
      for (int c = 0; c < m; ++c) wp[static_cast<size_t>(j * kw + c)] = w[j * m + c];
    for (int c = 0; c < m; ++c) wp[static_cast<size_t>(d * kw + c)] = b[c];
    double* gbp = gp.data() + d * kw;
    loss = kw == 8
               ? LossGradBlocked<1>(x, y, n, d, m, wp.data(), wp.data() + d * kw, gp.data(), gbp)
               : LossGradBlocked<2>(x, y, n, d, m, wp.data(), wp.data() + d * kw, gp.data(), gbp);
    for (int64_t j = 0; j < d; ++j)
      for (int c = 0; c < m; ++c) gw[j * m + c] = gp[static_cast<size_t>(j * kw + c)];
    for (int c = 0; c < m; ++c) gb[c] = gbp[c];
  } else {
    std::fill(grad, grad + (d + 1) * m, 0.0);
    loss = LossGradRows(x, y, n, d, m, w, b, gw, gb);
  }
  for (int64_t k = 0; k < d * m; ++k) {
    loss += 0.5 * inv_c * w[k] * w[k];
    gw[k] += inv_c * w[k];
  }
  return loss;
}

struct Objective {
  const float* x;
  const std::vector<int32_t>& y;
  int64_t n, d;
  int m;  // outputs: 1 (binary) or classes
  double inv_c;

  double operator()(const std::vector<double>& theta, std::vector<double>& grad) const {
    return LossGrad(x, y.data(), n, d, m, inv_c, theta.data(), grad.data());
  }
};

}  // namespace

Status LogisticRegression::Fit(const Tensor& x, std::span<const int32_t> y, int classes,
                               const LogisticOptions& o, std::span<const int64_t> rows) {
  if (x.dtype() != DataType::kFloat32 || x.rank() != 2)
    return InvalidArgument("logistic regression takes float32 [rows, features], got {} {}",
                           DataTypeName(x.dtype()), ShapeToString(x.shape()));
  if (static_cast<int64_t>(y.size()) != x.dim(0))
    return InvalidArgument("{} labels for {} rows", y.size(), x.dim(0));
  if (classes < 2) return InvalidArgument("logistic regression needs at least two classes");
  if (!(o.c > 0)) return InvalidArgument("C must be positive, got {}", o.c);
  classes_ = classes;
  features_ = x.dim(1);
  outputs_ = classes == 2 ? 1 : classes;
  const int64_t n = rows.empty() ? x.dim(0) : static_cast<int64_t>(rows.size());
  const int64_t d = features_;
  std::vector<float> gathered;  // the selected rows, when not all of x
  if (!rows.empty()) gathered.resize(static_cast<size_t>(n * d));
  std::vector<int32_t> yd(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = rows.empty() ? i : rows[static_cast<size_t>(i)];
    const float* src = x.data<float>() + r * d;
    for (int64_t j = 0; j < d; ++j)
      if (std::isnan(src[j])) return InvalidArgument("row {} feature {} is NaN", r, j);
    if (!rows.empty()) std::copy(src, src + d, gathered.data() + i * d);
    const int32_t yi = y[static_cast<size_t>(r)];
    if (yi < 0 || yi >= classes) return InvalidArgument("row {}: label {} is not a class", r, yi);
    yd[static_cast<size_t>(i)] = yi;
  }
  const Objective f{
      rows.empty() ? x.data<float>() : gathered.data(), yd, n, d, outputs_, 1.0 / o.c};
  const size_t p = static_cast<size_t>((d + 1) * outputs_);
  std::vector<double> theta(p, 0.0), grad(p), trial(p), trial_grad(p), dir(p);
  double loss = f(theta, grad);
  // L-BFGS, 10 correction pairs (scipy's default), backtracking line search with Armijo's rule.
  constexpr size_t kPairs = 10;
  std::deque<std::vector<double>> ss, ys;
  std::deque<double> rhos;
  iterations_ = 0;
  converged_ = false;
  for (; iterations_ < o.max_iter; ++iterations_) {
    if (MaxAbs(grad) <= o.tol) {
      converged_ = true;
      break;
    }
    // dir = -H grad (two-loop recursion)
    dir = grad;
    std::vector<double> alpha(ss.size());
    for (size_t k = ss.size(); k-- > 0;) {
      alpha[k] = rhos[k] * Dot(ss[k], dir);
      for (size_t i = 0; i < p; ++i) dir[i] -= alpha[k] * ys[k][i];
    }
    if (!ss.empty()) {
      const double gamma = Dot(ss.back(), ys.back()) / Dot(ys.back(), ys.back());
      for (double& v : dir) v *= gamma;
    }
    for (size_t k = 0; k < ss.size(); ++k) {
      const double beta = rhos[k] * Dot(ys[k], dir);
      for (size_t i = 0; i < p; ++i) dir[i] += ss[k][i] * (alpha[k] - beta);
    }
    for (double& v : dir) v = -v;
    double slope = Dot(grad, dir);
    if (!(slope < 0)) {  // not a descent direction: restart from steepest descent
      ss.clear();
      ys.clear();
      rhos.clear();
      for (size_t i = 0; i < p; ++i) dir[i] = -grad[i];
      slope = Dot(grad, dir);
    }
    double step = ss.empty() ? std::min(1.0, 1.0 / std::sqrt(-slope)) : 1.0;
    double trial_loss = 0;
    bool accepted = false;
    for (int ls = 0; ls < 40; ++ls) {
      for (size_t i = 0; i < p; ++i) trial[i] = theta[i] + step * dir[i];
      trial_loss = f(trial, trial_grad);
      if (trial_loss <= loss + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      // Minimum of the quadratic through f(0), f'(0) and f(step), kept within [0.1, 0.5] step.
      const double q = -slope * step * step / (2 * (trial_loss - loss - slope * step));
      step = std::clamp(std::isfinite(q) ? q : 0.5 * step, 0.1 * step, 0.5 * step);
    }
    if (!accepted) break;  // no decrease possible at this precision
    std::vector<double> s(p), yv(p);
    for (size_t i = 0; i < p; ++i) {
      s[i] = trial[i] - theta[i];
      yv[i] = trial_grad[i] - grad[i];
    }
    const double sy = Dot(s, yv);
    theta.swap(trial);
    grad.swap(trial_grad);
    const double previous = loss;
    loss = trial_loss;
    if (sy > 1e-12 * Dot(yv, yv)) {
      if (ss.size() == kPairs) {
        ss.pop_front();
        ys.pop_front();
        rhos.pop_front();
      }
      ss.push_back(std::move(s));
      ys.push_back(std::move(yv));
      rhos.push_back(1.0 / sy);
    }
    // scipy's other test: relative decrease of the objective below factr * machine epsilon.
    if ((previous - loss) / std::max({std::abs(previous), std::abs(loss), 1.0}) <
        1e7 * std::numeric_limits<double>::epsilon()) {
      ++iterations_;
      converged_ = true;
      break;
    }
  }
  if (!converged_ && MaxAbs(grad) <= o.tol) converged_ = true;
  coef_ = std::move(theta);
  return Status::Ok();
}

std::vector<float> LogisticRegression::PredictProba(const Tensor& x,
                                                    std::span<const int64_t> rows) const {
  HONE_CHECK(x.rank() == 2 && x.dim(1) == features_);
  const int64_t n = rows.empty() ? x.dim(0) : static_cast<int64_t>(rows.size());
  const size_t um = static_cast<size_t>(outputs_), ud = static_cast<size_t>(features_);
  std::vector<float> out(static_cast<size_t>(n) * static_cast<size_t>(classes_));
  std::vector<double> z(um);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = rows.empty() ? i : rows[static_cast<size_t>(i)];
    const float* xi = x.data<float>() + r * features_;
    for (size_t c = 0; c < um; ++c) z[c] = coef_[ud * um + c];
    for (size_t j = 0; j < ud; ++j)
      for (size_t c = 0; c < um; ++c) z[c] += xi[j] * coef_[j * um + c];
    float* o = out.data() + static_cast<size_t>(i) * static_cast<size_t>(classes_);
    if (outputs_ == 1) {
      const double p1 = 1.0 / (1.0 + std::exp(-z[0]));
      o[0] = static_cast<float>(1.0 - p1);
      o[1] = static_cast<float>(p1);
    } else {
      const double mx = *std::max_element(z.begin(), z.end());
      double s = 0;
      for (size_t c = 0; c < um; ++c) s += std::exp(z[c] - mx);
      for (size_t c = 0; c < um; ++c) o[c] = static_cast<float>(std::exp(z[c] - mx) / s);
    }
  }
  return out;
}

std::vector<int32_t> LogisticRegression::Predict(const Tensor& x,
                                                 std::span<const int64_t> rows) const {
  const std::vector<float> p = PredictProba(x, rows);
  const size_t k = static_cast<size_t>(classes_);
  std::vector<int32_t> out(p.size() / k);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] =
        static_cast<int32_t>(std::max_element(p.begin() + static_cast<std::ptrdiff_t>(i * k),
                                              p.begin() + static_cast<std::ptrdiff_t>(i * k + k)) -
                             (p.begin() + static_cast<std::ptrdiff_t>(i * k)));
  return out;
}

void LogisticRegression::AppendOnnx(Graph& g, const std::string& input,
                                    const std::string& probabilities,
                                    const std::string& index) const {
  GraphBuilder b(g, "logreg_");
  const size_t um = static_cast<size_t>(outputs_), ud = static_cast<size_t>(features_);
  std::vector<float> w(ud * um), bias(um);
  for (size_t k = 0; k < ud * um; ++k) w[k] = static_cast<float>(coef_[k]);
  for (size_t c = 0; c < um; ++c) bias[c] = static_cast<float>(coef_[ud * um + c]);
  const std::string logits =
      b.Op("Gemm", {input, b.Floats("coef", w, {features_, outputs_}),
                    b.Floats("intercept", bias, {static_cast<int64_t>(outputs_)})});
  b.ClassHead(logits, outputs_ == 1, probabilities, index);
}

}  // namespace hone::ml
