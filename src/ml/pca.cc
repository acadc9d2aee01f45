#include "ml/pca.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "core/errors.h"
#include "core/target_clones.h"
#include "core/thread_pool.h"
#include "ml/graph_builder.h"
#include "ml/linalg.h"

namespace hone::ml {

namespace {

constexpr int64_t kBlockRows = 1024;

// Calls fn(block, first_row, rows, chunk) over x [n, d] centred by `mean`, kBlockRows rows at a
// time, each block row padded with zeros to Padded(d) floats; the blocks are split into contiguous
// chunks run in parallel on `pool` (when given), and fn gets its chunk's number (< chunks) for
// per-chunk sums.
int64_t Padded(int64_t d) { return (d + 15) / 16 * 16; }

template <typename Fn>
void ForCentredBlocks(const float* x, int64_t n, int64_t d, const std::vector<float>& mean,
                      ThreadPool* pool, int64_t chunks, Fn fn) {
  const int64_t blocks = (n + kBlockRows - 1) / kBlockRows;
  auto run = [&](int64_t b0, int64_t b1) {
    const int64_t chunk = b0 * chunks / std::max<int64_t>(blocks, 1);
    const int64_t dp = Padded(d);
    std::vector<float> block(static_cast<size_t>(std::min(n, kBlockRows) * dp), 0.0f);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * kBlockRows, rows = std::min(kBlockRows, n - r0);
      for (int64_t r = 0; r < rows; ++r) {
        const float* src = x + (r0 + r) * d;
        float* dst = block.data() + r * dp;
        for (int64_t j = 0; j < d; ++j) dst[j] = src[j] - mean[static_cast<size_t>(j)];
      }
      fn(block.data(), r0, rows, chunk);
    }
  };
  // A few blocks are cheaper on one thread than handing them out (digits: 2 blocks, ~1 ms).
  constexpr int64_t kMinParallelBlocks = 8;
  if (pool != nullptr && chunks > 1 && blocks >= kMinParallelBlocks) {
    pool->ParallelFor(blocks, (blocks + chunks - 1) / chunks, run);
  } else {
    run(0, blocks);
  }
}

int64_t Chunks(ThreadPool* pool) { return pool != nullptr ? pool->parallelism() : 1; }

// 16 floats, loaded from and stored to any float address (GCC vector extension: one AVX-512
// register in the avx512f clones, split into narrower ones in the others).
typedef float V16 __attribute__((vector_size(64), aligned(4)));
constexpr int64_t kLanes = 16;

// block^T block ([rows, d] row-major, d padded to `dp`, a multiple of 16, with zeros) added into
// acc [d, dp]: for every row, each feature's row of acc gains x_i times the row, 16 columns a
// register. One clone per ISA: the build targets baseline x86-64, this loop is where AVX-512
// pays.
HONE_VECTOR_CLONES void GramBlock(const float* __restrict block, int64_t rows, int64_t d,
                                  int64_t dp, float* __restrict acc) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict row = block + r * dp;
    for (int64_t i = 0; i < d; ++i) {
      const float xi = row[i];
      V16* c = reinterpret_cast<V16*>(acc + i * dp);
      const V16* x = reinterpret_cast<const V16*>(row);
      for (int64_t j = (i / kLanes); j < dp / kLanes; ++j) c[j] += xi * x[j];
    }
  }
}

// out[r, 0:k] = block[r, :] W for the rows of a centred block ([rows, d], row stride dp);
// `packed` holds W in panels of 16 columns (zero-padded), so a row's 16 outputs stay in one
// register.
HONE_VECTOR_CLONES void ProjectBlock(const float* __restrict block, int64_t rows, int64_t d,
                                     int64_t dp, const float* __restrict packed, int64_t k,
                                     float* __restrict out) {
  const int64_t panels = (k + kLanes - 1) / kLanes;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = block + r * dp;
    for (int64_t panel = 0; panel < panels; ++panel) {
      const V16* wp = reinterpret_cast<const V16*>(packed + panel * d * kLanes);
      V16 acc = {};
      for (int64_t j = 0; j < d; ++j) acc += row[j] * wp[j];
      const int64_t c0 = panel * kLanes, width = std::min(kLanes, k - c0);
      for (int64_t l = 0; l < width; ++l) out[r * k + c0 + l] = acc[l];
    }
  }
}

// Orthonormalises the columns of the row-major [rows, cols] matrix m in place: modified
// Gram-Schmidt in double precision, twice (for orthogonality to working precision).
void Orthonormalise(std::vector<float>& m, int64_t rows, int64_t cols) {
  const size_t r = static_cast<size_t>(rows), c = static_cast<size_t>(cols);
  std::vector<double> q(r * c);  // column-major
  for (size_t i = 0; i < r; ++i)
    for (size_t j = 0; j < c; ++j) q[j * r + i] = m[i * c + j];
  for (int pass = 0; pass < 2; ++pass)
    for (size_t j = 0; j < c; ++j) {
      double* qj = q.data() + j * r;
      for (size_t k = 0; k < j; ++k) {
        const double* qk = q.data() + k * r;
        double dot = 0;
        for (size_t i = 0; i < r; ++i) dot += qk[i] * qj[i];
        for (size_t i = 0; i < r; ++i) qj[i] -= dot * qk[i];
      }
      double norm = 0;
      for (size_t i = 0; i < r; ++i) norm += qj[i] * qj[i];
      norm = std::sqrt(norm);
      for (size_t i = 0; i < r; ++i) qj[i] = norm > 0 ? qj[i] / norm : 0.0;
    }
  for (size_t i = 0; i < r; ++i)
    for (size_t j = 0; j < c; ++j) m[i * c + j] = static_cast<float>(q[j * r + i]);
}

// The randomized SVD of the centred x: the variances (descending) and matching unit directions
// (rows of `vectors`, d values each) of the top `l` >= components singular triplets; the total
// variance in `total`.
std::vector<double> RandomizedEigen(const float* x, int64_t n, int64_t d,
                                    const std::vector<double>& mean, int64_t components,
                                    const PcaOptions& o, std::vector<double>& vectors,
                                    double& total) {
  const int64_t l = std::min(components + 10, std::min(n, d));
  std::vector<float> xc(static_cast<size_t>(n * d));
  double sq = 0;  // the total variance, exactly, in the same pass
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < d; ++j) {
      const double c = x[r * d + j] - mean[static_cast<size_t>(j)];
      sq += c * c;
      xc[static_cast<size_t>(r * d + j)] = static_cast<float>(c);
    }
  total = sq / static_cast<double>(n - 1);
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<float> normal;
  std::vector<float> omega(static_cast<size_t>(d * l));
  for (float& v : omega) v = normal(rng);
  std::vector<float> y(static_cast<size_t>(n * l)), z(static_cast<size_t>(d * l));
  Gemm(false, false, n, l, d, 1.f, xc.data(), d, omega.data(), l, 0.f, y.data(), l);
  const int iters = o.power_iterations >= 0            ? o.power_iterations
                    : components < std::min(n, d) / 10 ? 7
                                                       : 4;
  for (int it = 0; it < iters; ++it) {
    Orthonormalise(y, n, l);
    Gemm(true, false, d, l, n, 1.f, xc.data(), d, y.data(), l, 0.f, z.data(), l);
    Orthonormalise(z, d, l);
    Gemm(false, false, n, l, d, 1.f, xc.data(), d, z.data(), l, 0.f, y.data(), l);
  }
  Orthonormalise(y, n, l);
  std::vector<float> b(static_cast<size_t>(l * d));  // Q^T Xc, [l, d]
  Gemm(true, false, l, d, n, 1.f, y.data(), l, xc.data(), d, 0.f, b.data(), d);
  std::vector<double> bbt(static_cast<size_t>(l * l), 0.0);
  for (int64_t i = 0; i < l; ++i)
    for (int64_t j = 0; j < l; ++j) {
      double dot = 0;
      for (int64_t k = 0; k < d; ++k)
        dot += static_cast<double>(b[static_cast<size_t>(i * d + k)]) *
               b[static_cast<size_t>(j * d + k)];
      bbt[static_cast<size_t>(i * l + j)] = dot;
    }
  std::vector<double> u;
  std::vector<double> s2 = SymmetricEigen(std::move(bbt), l, u);
  vectors.assign(static_cast<size_t>(l * d), 0.0);
  for (int64_t c = 0; c < l; ++c) {  // v_c = B^T u_c / |B^T u_c|
    double* v = vectors.data() + c * d;
    for (int64_t i = 0; i < l; ++i)
      for (int64_t k = 0; k < d; ++k)
        v[k] += u[static_cast<size_t>(c * l + i)] * b[static_cast<size_t>(i * d + k)];
    double norm = 0;
    for (int64_t k = 0; k < d; ++k) norm += v[k] * v[k];
    norm = std::sqrt(norm);
    for (int64_t k = 0; k < d; ++k) v[k] = norm > 0 ? v[k] / norm : 0.0;
  }
  for (double& v : s2) v = std::max(v, 0.0) / static_cast<double>(n - 1);
  return s2;
}

// The covariance matrix's eigenvalues (descending) and unit eigenvectors (rows), its trace in
// `total`.
std::vector<double> CovarianceEigen(const float* p, int64_t n, int64_t d,
                                    const std::vector<double>& mean, ThreadPool* pool,
                                    std::vector<double>& vectors, double& total) {
  // Covariance = Xc^T Xc / (n - 1), on the centred data, a block of rows at a time (the block
  // stays in cache; one GEMM over all rows made oneDNN pack 100k-row operands).
  const int64_t chunks = Chunks(pool);
  std::vector<std::vector<double>> sums(static_cast<size_t>(chunks),
                                        std::vector<double>(static_cast<size_t>(d * d), 0.0));
  const std::vector<float> mean_f(mean.begin(), mean.end());
  ForCentredBlocks(p, n, d, mean_f, pool, chunks,
                   [&](const float* block, int64_t r0, int64_t rows, int64_t chunk) {
                     // Float sums within a block, double across blocks.
                     const int64_t dp = Padded(d);
                     std::vector<float> partial(static_cast<size_t>(d * dp), 0.0f);
                     GramBlock(block, rows, d, dp, partial.data());
                     std::vector<double>& into = sums[static_cast<size_t>(chunk)];
                     for (int64_t i = 0; i < d; ++i)
                       for (int64_t j = i; j < d; ++j)
                         into[static_cast<size_t>(i * d + j)] +=
                             partial[static_cast<size_t>(i * dp + j)];
                   });
  std::vector<double> gram(static_cast<size_t>(d * d), 0.0);
  for (const auto& part : sums)
    for (size_t k = 0; k < gram.size(); ++k) gram[k] += part[k];
  std::vector<double> cov(static_cast<size_t>(d * d));
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)  // the upper triangle holds the sums
      cov[static_cast<size_t>(i * d + j)] =
          gram[static_cast<size_t>(std::min(i, j) * d + std::max(i, j))] /
          static_cast<double>(n - 1);
  total = 0;
  for (int64_t i = 0; i < d; ++i) total += cov[static_cast<size_t>(i * d + i)];
  return SymmetricEigen(std::move(cov), d, vectors);
}

}  // namespace

Status Pca::Fit(const Tensor& x, int64_t components, const PcaOptions& options, ThreadPool* pool) {
  if (x.dtype() != DataType::kFloat32 || x.rank() != 2)
    return InvalidArgument("PCA needs a float32 [rows, features] matrix, got {} {}",
                           DataTypeName(x.dtype()), ShapeToString(x.shape()));
  const int64_t n = x.dim(0), d = x.dim(1);
  if (n < 2) return InvalidArgument("PCA needs at least 2 rows, got {}", n);
  if (components < 1 || components > std::min(n, d))
    return InvalidArgument("components must be between 1 and min(rows, features) = {}, got {}",
                           std::min(n, d), components);
  const float* p = x.data<float>();
  std::vector<double> mean(static_cast<size_t>(d), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < d; ++j) mean[static_cast<size_t>(j)] += p[r * d + j];
  for (double& m : mean) m /= static_cast<double>(n);
  for (int64_t j = 0; j < d; ++j)
    if (!std::isfinite(mean[static_cast<size_t>(j)]))
      return InvalidArgument("column {} holds NaN or infinite values; impute them first", j);
  if (options.solver != "full" && options.solver != "randomized")
    return InvalidArgument("unknown PCA solver '{}' (full, randomized)", options.solver);
  std::vector<double> vectors, values;
  double total = 0;
  if (options.solver == "randomized") {
    values = RandomizedEigen(p, n, d, mean, components, options, vectors, total);
  } else {
    values = CovarianceEigen(p, n, d, mean, pool, vectors, total);
  }

  options_ = options;
  features_ = d;
  components_ = components;
  mean_.assign(mean.begin(), mean.end());
  components_matrix_.assign(static_cast<size_t>(components * d), 0.0f);
  explained_variance_.clear();
  explained_ratio_.clear();
  singular_values_.clear();
  for (int64_t c = 0; c < components; ++c) {
    const double* v = &vectors[static_cast<size_t>(c * d)];
    int64_t big = 0;
    for (int64_t j = 1; j < d; ++j)
      if (std::fabs(v[j]) > std::fabs(v[big])) big = j;
    const double sign = v[big] < 0 ? -1.0 : 1.0;
    for (int64_t j = 0; j < d; ++j)
      components_matrix_[static_cast<size_t>(c * d + j)] = static_cast<float>(sign * v[j]);
    const double ev = std::max(values[static_cast<size_t>(c)], 0.0);
    explained_variance_.push_back(ev);
    explained_ratio_.push_back(total > 0 ? ev / total : 0.0);
    singular_values_.push_back(std::sqrt(ev * static_cast<double>(n - 1)));
  }
  return Status::Ok();
}

std::vector<float> Pca::Projection() const {
  std::vector<float> w(static_cast<size_t>(features_ * components_));
  for (int64_t c = 0; c < components_; ++c) {
    const double ev = explained_variance_[static_cast<size_t>(c)];
    const double scale = options_.whiten ? (ev > 0 ? 1 / std::sqrt(ev) : 0.0) : 1.0;
    for (int64_t j = 0; j < features_; ++j)
      w[static_cast<size_t>(j * components_ + c)] =
          static_cast<float>(components_matrix_[static_cast<size_t>(c * features_ + j)] * scale);
  }
  return w;
}

StatusOr<Tensor> Pca::Transform(const Tensor& x, ThreadPool* pool) const {
  if (components_ == 0) return Status(StatusCode::kInvalidArgument, "PCA is not fitted");
  if (x.dtype() != DataType::kFloat32 || x.rank() != 2 || x.dim(1) != features_)
    return InvalidArgument("PCA transform needs float32 [rows, {}], got {} {}", features_,
                           DataTypeName(x.dtype()), ShapeToString(x.shape()));
  const int64_t n = x.dim(0);
  const std::vector<float> w = Projection();  // [features, components]
  Tensor y = Tensor::Uninitialized(DataType::kFloat32, {n, components_});
  float* out = y.data<float>();
  const int64_t d = features_, k = components_;
  const int64_t panels = (k + kLanes - 1) / kLanes;
  std::vector<float> packed(static_cast<size_t>(panels * d * kLanes), 0.0f);
  for (int64_t j = 0; j < d; ++j)
    for (int64_t c = 0; c < k; ++c)
      packed[static_cast<size_t>((c / kLanes) * d * kLanes + j * kLanes + c % kLanes)] =
          w[static_cast<size_t>(j * k + c)];
  ForCentredBlocks(x.data<float>(), n, d, mean_, pool, Chunks(pool),
                   [&](const float* block, int64_t r0, int64_t rows, int64_t) {
                     ProjectBlock(block, rows, d, Padded(d), packed.data(), k, out + r0 * k);
                   });
  return y;
}

Model Pca::ToOnnx() const {
  Model m;
  m.ir_version = 8;
  m.opsets[""] = 13;
  m.producer_name = "hone";
  Graph& g = m.graph;
  g.name = "pca";
  g.inputs.push_back(BatchTensor("X", DataType::kFloat32, features_));
  g.outputs.push_back(BatchTensor("Y", DataType::kFloat32, components_));
  AppendOnnx(g, "X", "Y");
  return m;
}

void Pca::AppendOnnx(Graph& g, const std::string& input, const std::string& output) const {
  GraphBuilder b(g, "pca_");
  const std::string centred = b.Op("Sub", {input, b.Floats("mean", mean_, {features_})});
  b.Add("MatMul", {centred, b.Floats("components", Projection(), {features_, components_})},
        {output});
}

}  // namespace hone::ml
