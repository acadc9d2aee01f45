#include "ml/linalg.h"

#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace hone::ml {

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c,
             ldc);
}

void SetThreads(int threads) {
  if (threads <= 0) threads = omp_get_num_procs();
  omp_set_num_threads(threads);
}

std::vector<double> SymmetricEigen(std::vector<double> a, int64_t n, std::vector<double>& vectors) {
  const size_t un = static_cast<size_t>(n);
  auto at = [&](int64_t i, int64_t j) -> double& { return a[static_cast<size_t>(i * n + j)]; };
  std::vector<double> v(un * un, 0.0);  // rows are the eigenvectors
  for (size_t i = 0; i < un; ++i) v[i * un + i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (int64_t i = 0; i < n; ++i) {
      diag += at(i, i) * at(i, i);
      for (int64_t j = i + 1; j < n; ++j) off += at(i, j) * at(i, j);
    }
    if (off <= 1e-30 * diag || off == 0) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = at(p, q);
        if (std::fabs(apq) < 1e-300) continue;
        // The rotation angle that zeroes a[p][q] (the smaller root, for stability).
        const double theta = (at(q, q) - at(p, p)) / (2 * apq);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        const double app = at(p, p), aqq = at(q, q);
        // Rows p and q of the rotated matrix (contiguous); by symmetry they are also its
        // columns p and q, copied below.
        double* rp = &a[static_cast<size_t>(p * n)];
        double* rq = &a[static_cast<size_t>(q * n)];
        for (int64_t r = 0; r < n; ++r) {
          const double x = rp[r], y = rq[r];
          rp[r] = c * x - s * y;
          rq[r] = s * x + c * y;
        }
        rp[p] = c * c * app - 2 * s * c * apq + s * s * aqq;
        rq[q] = s * s * app + 2 * s * c * apq + c * c * aqq;
        rp[q] = rq[p] = 0;
        for (int64_t r = 0; r < n; ++r) {
          at(r, p) = rp[r];
          at(r, q) = rq[r];
        }
        double* vp = &v[static_cast<size_t>(p) * un];
        double* vq = &v[static_cast<size_t>(q) * un];
        for (size_t r = 0; r < un; ++r) {
          const double x = vp[r], y = vq[r];
          vp[r] = c * x - s * y;
          vq[r] = s * x + c * y;
        }
      }
  }
  std::vector<size_t> order(un);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return a[x * un + x] > a[y * un + y]; });
  std::vector<double> values(un);
  vectors.assign(un * un, 0.0);
  for (size_t i = 0; i < un; ++i) {
    values[i] = a[order[i] * un + order[i]];
    for (size_t j = 0; j < un; ++j) vectors[i * un + j] = v[order[i] * un + j];
  }
  return values;
}

}  // namespace hone::ml
