// Scalar matrix product shared by the reference Conv, ConvTranspose, MatMul, MatMulInteger and
// Gemm kernels (kernels/ref/conv.cc, kernels/ref/matmul.cc).
//
// Plain C++ that the compiler can vectorise: the innermost loop walks a row of B and four rows
// of the destination (i-k-j order), blocked so that the touched part of B stays in cache.
// Fast kernels (oneDNN, own SIMD) live in kernels/cpu and are tested against this.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/ref/common.h"

namespace hone::ref {

// One product dst = A * B with A(i,k) = a[i * a_rs + k * a_cs] (any strides, so a transposed A
// costs nothing), B(k,j) = b[k * ldb + j] (rows contiguous) and dst(i,j) = c[i * ldc + j].
template <typename C>
struct GemmOperands {
  const C* a = nullptr;
  int64_t a_rs = 0, a_cs = 0;
  const C* b = nullptr;
  int64_t ldb = 0;
  C* c = nullptr;
  int64_t ldc = 0;
};

inline constexpr int64_t kGemmTileM = 64;
inline constexpr int64_t kGemmTileN = 256;
inline constexpr int64_t kGemmTileK = 256;

template <typename C>
inline void Axpy4(int64_t n, C a0, C a1, C a2, C a3, const C* __restrict b, C* __restrict c0,
                  C* __restrict c1, C* __restrict c2, C* __restrict c3) {
  for (int64_t j = 0; j < n; ++j) {
    const C v = b[j];
    c0[j] += a0 * v;
    c1[j] += a1 * v;
    c2[j] += a2 * v;
    c3[j] += a3 * v;
  }
}

template <typename C>
inline void Axpy1(int64_t n, C a0, const C* __restrict b, C* __restrict c0) {
  for (int64_t j = 0; j < n; ++j) c0[j] += a0 * b[j];
}

// Computes rows [m0, m1) and columns [n0, n1) of dst = A * B (overwriting dst there).
template <typename C>
void GemmTile(const GemmOperands<C>& op, int64_t k_total, int64_t m0, int64_t m1, int64_t n0,
              int64_t n1) {
  const int64_t n = n1 - n0;
  for (int64_t i = m0; i < m1; ++i) std::fill_n(op.c + i * op.ldc + n0, n, C(0));
  for (int64_t k0 = 0; k0 < k_total; k0 += kGemmTileK) {
    const int64_t k1 = std::min(k_total, k0 + kGemmTileK);
    int64_t i = m0;
    for (; i + 4 <= m1; i += 4) {
      C* c0 = op.c + i * op.ldc + n0;
      const C* a = op.a + i * op.a_rs;
      for (int64_t k = k0; k < k1; ++k) {
        const C* ak = a + k * op.a_cs;
        Axpy4(n, ak[0], ak[op.a_rs], ak[2 * op.a_rs], ak[3 * op.a_rs], op.b + k * op.ldb + n0, c0,
              c0 + op.ldc, c0 + 2 * op.ldc, c0 + 3 * op.ldc);
      }
    }
    for (; i < m1; ++i) {
      C* c0 = op.c + i * op.ldc + n0;
      const C* a = op.a + i * op.a_rs;
      for (int64_t k = k0; k < k1; ++k) Axpy1(n, a[k * op.a_cs], op.b + k * op.ldb + n0, c0);
    }
  }
}

// Runs `count` independent M x N x K products, operands(idx) giving the idx-th one, split in
// tiles over the pool. Small problems run on the calling thread.
template <typename C>
void RunGemms(ThreadPool& pool, int64_t count, int64_t m, int64_t n, int64_t k,
              const std::function<GemmOperands<C>(int64_t)>& operands) {
  if (count <= 0 || m <= 0 || n <= 0) return;
  const int64_t tiles_m = (m + kGemmTileM - 1) / kGemmTileM;
  const int64_t tiles_n = (n + kGemmTileN - 1) / kGemmTileN;
  const int64_t per = tiles_m * tiles_n;
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const GemmOperands<C> op = operands(t / per);
      const int64_t r = t % per;
      const int64_t im = r / tiles_n, jn = r % tiles_n;
      GemmTile(op, k, im * kGemmTileM, std::min(m, (im + 1) * kGemmTileM), jn * kGemmTileN,
               std::min(n, (jn + 1) * kGemmTileN));
    }
  };
  const double work = static_cast<double>(count) * static_cast<double>(m) * static_cast<double>(n) *
                      static_cast<double>(std::max<int64_t>(k, 1));
  constexpr double kSerialWork = 1 << 15;
  if (work < kSerialWork || count * per == 1) {
    body(0, count * per);
  } else {
    pool.ParallelFor(count * per, 1, body);
  }
}

// Returns `src` as an array of the arithmetic type C: the pointer itself when T == C, else a
// converted copy held in `storage` (the 16-bit floats compute in float).
template <typename T, typename C = Acc<T>>
const C* AsCompute(const T* src, int64_t n, std::vector<C>& storage) {
  if constexpr (std::is_same_v<T, C>) {
    return src;
  } else {
    storage.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) storage[static_cast<size_t>(i)] = static_cast<C>(src[i]);
    return storage.data();
  }
}

}  // namespace hone::ref
