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
  std::vector<double> v(un * un, 0.0);  // columns are the eigenvectors
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
        for (int64_t r = 0; r < n; ++r) {  // columns p and q
          const double arp = at(r, p), arq = at(r, q);
          at(r, p) = c * arp - s * arq;
          at(r, q) = s * arp + c * arq;
        }
        for (int64_t r = 0; r < n; ++r) {  // rows p and q
          const double apr = at(p, r), aqr = at(q, r);
          at(p, r) = c * apr - s * aqr;
          at(q, r) = s * apr + c * aqr;
        }
        at(p, q) = at(q, p) = 0;
        for (size_t r = 0; r < un; ++r) {
          const double vrp = v[r * un + static_cast<size_t>(p)],
                       vrq = v[r * un + static_cast<size_t>(q)];
          v[r * un + static_cast<size_t>(p)] = c * vrp - s * vrq;
          v[r * un + static_cast<size_t>(q)] = s * vrp + c * vrq;
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
    for (size_t j = 0; j < un; ++j) vectors[i * un + j] = v[j * un + order[i]];
  }
  return values;
}

}  // namespace hone::ml
