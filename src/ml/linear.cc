#include "ml/linear.h"

#include <cmath>

#include "core/errors.h"
#include "ml/graph_builder.h"

namespace hone::ml {

Status Ridge::Fit(const Tensor& x, std::span<const double> y, double alpha,
                  std::span<const int64_t> rows) {
  if (x.dtype() != DataType::kFloat32 || x.rank() != 2)
    return InvalidArgument("ridge regression takes float32 [rows, features], got {} {}",
                           DataTypeName(x.dtype()), ShapeToString(x.shape()));
  if (static_cast<int64_t>(y.size()) != x.dim(0))
    return InvalidArgument("{} targets for {} rows", y.size(), x.dim(0));
  if (!(alpha >= 0)) return InvalidArgument("alpha must be >= 0, got {}", alpha);
  const int64_t n = rows.empty() ? x.dim(0) : static_cast<int64_t>(rows.size());
  const int64_t d = x.dim(1);
  if (n < 1) return InvalidArgument("no training rows");
  const size_t ud = static_cast<size_t>(d);
  auto row = [&](int64_t i) { return rows.empty() ? i : rows[static_cast<size_t>(i)]; };
  std::vector<double> xm(ud, 0.0);
  double ym = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x.data<float>() + row(i) * d;
    for (size_t j = 0; j < ud; ++j) xm[j] += xi[j];
    ym += y[static_cast<size_t>(row(i))];
  }
  for (double& v : xm) v /= static_cast<double>(n);
  ym /= static_cast<double>(n);
  // Normal equations of the centred data: A = Xc^T Xc + alpha I, b = Xc^T yc.
  std::vector<double> a(ud * ud, 0.0), b(ud, 0.0), xc(ud);
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x.data<float>() + row(i) * d;
    for (size_t j = 0; j < ud; ++j) xc[j] = xi[j] - xm[j];
    const double yc = y[static_cast<size_t>(row(i))] - ym;
    for (size_t j = 0; j < ud; ++j) {
      b[j] += xc[j] * yc;
      double* aj = a.data() + j * ud;
      for (size_t k = 0; k <= j; ++k) aj[k] += xc[j] * xc[k];
    }
  }
  for (size_t j = 0; j < ud; ++j) {
    a[j * ud + j] += alpha;
    for (size_t k = 0; k < j; ++k) a[k * ud + j] = a[j * ud + k];
  }
  // Cholesky A = L L^T (L in the lower triangle of a).
  for (size_t j = 0; j < ud; ++j) {
    double s = a[j * ud + j];
    for (size_t k = 0; k < j; ++k) s -= a[j * ud + k] * a[j * ud + k];
    if (!(s > 1e-12 * std::max(1.0, std::abs(a[j * ud + j]))))
      return InvalidArgument(
          "the features are linearly dependent (feature {}); use a positive alpha", j);
    const double l = std::sqrt(s);
    a[j * ud + j] = l;
    for (size_t i = j + 1; i < ud; ++i) {
      double t = a[i * ud + j];
      for (size_t k = 0; k < j; ++k) t -= a[i * ud + k] * a[j * ud + k];
      a[i * ud + j] = t / l;
    }
  }
  std::vector<double> z(ud);
  for (size_t i = 0; i < ud; ++i) {  // L z = b
    double t = b[i];
    for (size_t k = 0; k < i; ++k) t -= a[i * ud + k] * z[k];
    z[i] = t / a[i * ud + i];
  }
  coef_.assign(ud, 0.0);
  for (size_t i = ud; i-- > 0;) {  // L^T w = z
    double t = z[i];
    for (size_t k = i + 1; k < ud; ++k) t -= a[k * ud + i] * coef_[k];
    coef_[i] = t / a[i * ud + i];
  }
  intercept_ = ym;
  for (size_t j = 0; j < ud; ++j) intercept_ -= xm[j] * coef_[j];
  return Status::Ok();
}

std::vector<double> Ridge::Predict(const Tensor& x, std::span<const int64_t> rows) const {
  HONE_CHECK(x.rank() == 2 && x.dim(1) == static_cast<int64_t>(coef_.size()));
  const int64_t n = rows.empty() ? x.dim(0) : static_cast<int64_t>(rows.size());
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* xi =
        x.data<float>() + (rows.empty() ? i : rows[static_cast<size_t>(i)]) * x.dim(1);
    double s = intercept_;
    for (size_t j = 0; j < coef_.size(); ++j) s += xi[j] * coef_[j];
    out[static_cast<size_t>(i)] = s;
  }
  return out;
}

void Ridge::AppendOnnx(Graph& g, const std::string& input, const std::string& output) const {
  GraphBuilder b(g, "ridge_");
  std::vector<float> w(coef_.begin(), coef_.end());
  const int64_t d = static_cast<int64_t>(coef_.size());
  const std::string column =
      b.Op("Gemm", {input, b.Floats("coef", w, {d, 1}),
                    b.Floats("intercept", {static_cast<float>(intercept_)}, {1})});
  b.Add("Squeeze", {column, b.Ints("axes", {1}, {1})}, {output});
}

double R2(std::span<const double> y, std::span<const double> p) {
  double mean = 0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(std::max<size_t>(y.size(), 1));
  double res = 0, tot = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    res += (y[i] - p[i]) * (y[i] - p[i]);
    tot += (y[i] - mean) * (y[i] - mean);
  }
  if (tot == 0) return res == 0 ? 1.0 : 0.0;
  return 1.0 - res / tot;
}

}  // namespace hone::ml
