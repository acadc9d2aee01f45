// Dense linear algebra for src/ml: float32 GEMM on oneDNN (multi-threaded, the same kernels the
// engine uses) and a symmetric eigensolver in double precision.
#pragma once

#include <cstdint>
#include <vector>

namespace hone::ml {

// C[m,n] = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X^T when trans_x. lda/ldb/ldc are
// the row strides of A, B, C as stored.
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Eigen-decomposition of the symmetric n x n matrix `a` (row-major; only symmetry is assumed) by
// cyclic Jacobi rotations. Returns eigenvalues in descending order; `vectors` gets the matching
// unit eigenvectors as rows (vectors[i * n + j] = component j of eigenvector i).
std::vector<double> SymmetricEigen(std::vector<double> a, int64_t n, std::vector<double>& vectors);

// Threads for Gemm (OpenMP's team, shared with oneDNN); 0 = one per core.
void SetThreads(int threads);

}  // namespace hone::ml
