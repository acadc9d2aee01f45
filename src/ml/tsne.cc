#include "ml/tsne.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <tuple>

#include "core/errors.h"
#include "core/target_clones.h"
#include "core/thread_pool.h"
#include "ml/linalg.h"
#include "ml/pca.h"

namespace hone::ml {
namespace {

constexpr int kExplorationIterations = 250;  // with exaggerated P and momentum 0.5
constexpr double kMinGain = 0.01;

// The k nearest neighbours of every row (squared Euclidean distances, ascending), by blocks of
// a Gram-matrix GEMM.
void NearestNeighbours(const float* x, int64_t n, int64_t d, int64_t k, ThreadPool& pool,
                       std::vector<int64_t>& index, std::vector<float>& dist2) {
  index.assign(static_cast<size_t>(n * k), 0);
  dist2.assign(static_cast<size_t>(n * k), 0.0f);
  std::vector<float> norms(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += static_cast<double>(x[i * d + j]) * x[i * d + j];
    norms[static_cast<size_t>(i)] = static_cast<float>(s);
  }
  constexpr int64_t kBlock = 256;
  std::vector<float> gram(static_cast<size_t>(std::min(n, kBlock) * n));
  for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
    const int64_t rows = std::min(kBlock, n - b0);
    Gemm(false, true, rows, n, d, 1.0f, x + b0 * d, d, x, d, 0.0f, gram.data(), n);
    pool.ParallelFor(rows, 8, [&](int64_t begin, int64_t end) {
      std::vector<std::pair<float, int64_t>> cand(static_cast<size_t>(n - 1));
      for (int64_t r = begin; r < end; ++r) {
        const int64_t i = b0 + r;
        size_t m = 0;
        for (int64_t j = 0; j < n; ++j) {
          if (j == i) continue;
          const float g = gram[static_cast<size_t>(r * n + j)];
          cand[m++] = {
              std::max(0.0f, norms[static_cast<size_t>(i)] + norms[static_cast<size_t>(j)] - 2 * g),
              j};
        }
        std::partial_sort(cand.begin(), cand.begin() + k, cand.end());
        for (int64_t t = 0; t < k; ++t) {
          dist2[static_cast<size_t>(i * k + t)] = cand[static_cast<size_t>(t)].first;
          index[static_cast<size_t>(i * k + t)] = cand[static_cast<size_t>(t)].second;
        }
      }
    });
  }
}

// Conditional P(j|i) over each row's neighbours, the Gaussian's precision found by bisection so
// that the row's entropy is log(perplexity).
void ConditionalP(const std::vector<float>& dist2, int64_t n, int64_t k, double perplexity,
                  ThreadPool& pool, std::vector<double>& p) {
  p.assign(dist2.size(), 0.0);
  const double target = std::log(perplexity);
  pool.ParallelFor(n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* d = &dist2[static_cast<size_t>(i * k)];
      double* row = &p[static_cast<size_t>(i * k)];
      double beta = 1, lo = -std::numeric_limits<double>::infinity(),
             hi = std::numeric_limits<double>::infinity();
      for (int step = 0; step < 100; ++step) {
        double sum = 0, dot = 0;
        for (int64_t t = 0; t < k; ++t) {
          row[t] = std::exp(-d[t] * beta);
          sum += row[t];
        }
        if (sum == 0) sum = 1e-8;
        for (int64_t t = 0; t < k; ++t) {
          row[t] /= sum;
          dot += d[t] * row[t];
        }
        const double entropy = std::log(sum) + beta * dot;
        const double diff = entropy - target;
        if (std::fabs(diff) <= 1e-5) break;
        if (diff > 0) {
          lo = beta;
          beta = std::isinf(hi) ? beta * 2 : (beta + hi) / 2;
        } else {
          hi = beta;
          beta = std::isinf(lo) ? beta / 2 : (beta + lo) / 2;
        }
      }
    }
  });
}

// Symmetric joint P = (P(j|i) + P(i|j)) / (2n) as CSR rows.
struct SparseP {
  std::vector<int64_t> start;   // n + 1
  std::vector<int32_t> column;  // float32 and int32: the attraction loop vectorises (gathers)
  std::vector<float> value;
};

SparseP JointP(const std::vector<int64_t>& index, const std::vector<double>& cond, int64_t n,
               int64_t k) {
  std::vector<std::tuple<int64_t, int64_t, double>> e;
  e.reserve(static_cast<size_t>(2 * n * k));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < k; ++t) {
      const int64_t j = index[static_cast<size_t>(i * k + t)];
      const double v = cond[static_cast<size_t>(i * k + t)];
      e.emplace_back(i, j, v);
      e.emplace_back(j, i, v);
    }
  std::sort(e.begin(), e.end(), [](const auto& a, const auto& b) {
    return std::get<0>(a) != std::get<0>(b) ? std::get<0>(a) < std::get<0>(b)
                                            : std::get<1>(a) < std::get<1>(b);
  });
  SparseP p;
  p.start.assign(static_cast<size_t>(n + 1), 0);
  double total = 0;
  for (size_t a = 0; a < e.size();) {
    const auto [i, j, v0] = e[a];
    double v = 0;
    while (a < e.size() && std::get<0>(e[a]) == i && std::get<1>(e[a]) == j)
      v += std::get<2>(e[a++]);
    p.column.push_back(static_cast<int32_t>(j));
    p.value.push_back(static_cast<float>(v));
    p.start[static_cast<size_t>(i + 1)]++;
    total += v;
  }
  for (int64_t i = 0; i < n; ++i)
    p.start[static_cast<size_t>(i + 1)] += p.start[static_cast<size_t>(i)];
  for (float& v : p.value)
    v = static_cast<float>(v / std::max(total, std::numeric_limits<double>::epsilon()));
  return p;
}

// For kGroup points (px, py) and n cells (centre cx, cy; count cnt): fx, fy = sum of
// cnt q^2 (p - c), s = sum of cnt q, q = 1 / (1 + |p - c|^2). Lanes are points: one AVX-512
// register holds all 16 (AVX2 and plain clones for other CPUs).
HONE_VECTOR_CLONES void Interact(const float* px, const float* py, const float* cx, const float* cy,
                                 const float* cnt, int64_t n, float* fx, float* fy, float* s) {
  constexpr int kLanes = 16;
  float ax[kLanes] = {}, ay[kLanes] = {}, as[kLanes] = {};
  for (int64_t e = 0; e < n; ++e) {
    const float x = cx[e], y = cy[e], c = cnt[e];
    for (int k = 0; k < kLanes; ++k) {
      const float dx = px[k] - x, dy = py[k] - y;
      const float q = 1.f / (1.f + dx * dx + dy * dy);
      const float cq = c * q, cqq = cq * q;
      as[k] += cq;
      ax[k] += cqq * dx;
      ay[k] += cqq * dy;
    }
  }
  for (int k = 0; k < kLanes; ++k) {
    fx[k] = ax[k];
    fy[k] = ay[k];
    s[k] = as[k];
  }
}

// A quadtree over the embedding, rebuilt every iteration: each cell keeps its points' count and
// centre of mass; leaves hold one point (or coincident ones).
class QuadTree {
 public:
  QuadTree(const std::vector<double>& y, int64_t n) : y_(y) {
    order_.resize(static_cast<size_t>(n));
    std::iota(order_.begin(), order_.end(), 0);
    double x0 = std::numeric_limits<double>::infinity(), y0 = x0, x1 = -x0, y1 = -x0;
    for (int64_t i = 0; i < n; ++i) {
      x0 = std::min(x0, y[static_cast<size_t>(2 * i)]);
      x1 = std::max(x1, y[static_cast<size_t>(2 * i)]);
      y0 = std::min(y0, y[static_cast<size_t>(2 * i + 1)]);
      y1 = std::max(y1, y[static_cast<size_t>(2 * i + 1)]);
    }
    const double size = std::max(x1 - x0, y1 - y0) * (1 + 1e-6) + 1e-12;
    cells_.reserve(static_cast<size_t>(2 * n + 8));
    Build(0, n, x0, y0, size, 0);
  }

  // The groups the repulsion is computed for: the largest cells holding at most kGroup points
  // (as ids into cells_).
  static constexpr int kGroup = 16;
  std::vector<int> Groups() const {
    std::vector<int> out, stack = {0};
    while (!stack.empty()) {
      const int id = stack.back();
      stack.pop_back();
      const Cell& c = cells_[static_cast<size_t>(id)];
      if (c.end - c.begin <= kGroup || c.leaf) {
        out.push_back(id);
      } else {
        for (int ch : c.child)
          if (ch >= 0) stack.push_back(ch);
      }
    }
    return out;
  }

  // Repulsion on every point of group cell `g`: for each, the sum over cells of
  // count * q^2 * (y_i - com) into rep[2i], rep[2i + 1] and of count * q into sq[i]. One
  // interaction list serves the whole group: a cell is summarised when it is far enough from
  // the group's bounding box (size^2 < theta^2 * distance^2 for every point in it, so whatever
  // Barnes-Hut would summarise per point, or nearer), else opened; leaves are exact. The list is
  // then evaluated for the group's points side by side (vectorised).
  void RepelGroup(int g, double theta2, std::vector<double>& rep, std::vector<double>& sq,
                  std::vector<float>& lx, std::vector<float>& ly, std::vector<float>& lc) const {
    const Cell& group = cells_[static_cast<size_t>(g)];
    // (A leaf of coincident points may hold more than kGroup: kGroup at a time.)
    for (int32_t start = group.begin; start < group.end; start += kGroup) {
      const int m = std::min(group.end - start, kGroup);
      float px[kGroup] = {}, py[kGroup] = {};
      float bx0 = std::numeric_limits<float>::infinity(), by0 = bx0, bx1 = -bx0, by1 = -bx0;
      for (int k = 0; k < m; ++k) {
        const size_t i = static_cast<size_t>(order_[static_cast<size_t>(start + k)]);
        px[k] = static_cast<float>(y_[2 * i]);
        py[k] = static_cast<float>(y_[2 * i + 1]);
        bx0 = std::min(bx0, px[k]);
        bx1 = std::max(bx1, px[k]);
        by0 = std::min(by0, py[k]);
        by1 = std::max(by1, py[k]);
      }
      const float t2 = static_cast<float>(theta2);
      lx.clear();
      ly.clear();
      lc.clear();
      bool self[kGroup] = {};  // the point's own leaf is in the list (it meets itself: q = 1)
      int stack[256];
      int top = 0;
      stack[top++] = 0;
      while (top > 0) {
        const Cell& c = cells_[static_cast<size_t>(stack[--top])];
        const float dx = std::max({0.f, bx0 - c.cx, c.cx - bx1});
        const float dy = std::max({0.f, by0 - c.cy, c.cy - by1});
        if (c.leaf || c.size * c.size < t2 * (dx * dx + dy * dy)) {
          lx.push_back(c.cx);
          ly.push_back(c.cy);
          lc.push_back(static_cast<float>(c.end - c.begin));
          if (c.leaf)
            for (int32_t a = std::max(c.begin, start); a < std::min(c.end, start + m); ++a)
              self[a - start] = true;
        } else {
          for (int ch : c.child)
            if (ch >= 0 && top < 256) stack[top++] = ch;
        }
      }
      float fx[kGroup], fy[kGroup], sum[kGroup];
      Interact(px, py, lx.data(), ly.data(), lc.data(), static_cast<int64_t>(lx.size()), fx, fy,
               sum);
      for (int k = 0; k < m; ++k) {
        const size_t i = static_cast<size_t>(order_[static_cast<size_t>(start + k)]);
        rep[2 * i] = fx[k];
        rep[2 * i + 1] = fy[k];
        sq[i] = sum[k] - (self[k] ? 1.f : 0.f);
      }
    }
  }

 private:
  struct Cell {  // 40 bytes: the traversal is bound by how many cells fit in cache
    float cx = 0, cy = 0, size = 0;
    int32_t begin = 0, end = 0;
    int32_t child[4] = {-1, -1, -1, -1};
    bool leaf = true;
  };

  int Build(int64_t begin, int64_t end, double x0, double y0, double size, int depth) {
    const int id = static_cast<int>(cells_.size());
    cells_.emplace_back();
    double sx = 0, sy = 0;
    for (int64_t a = begin; a < end; ++a) {
      sx += y_[static_cast<size_t>(2 * order_[static_cast<size_t>(a)])];
      sy += y_[static_cast<size_t>(2 * order_[static_cast<size_t>(a)] + 1)];
    }
    Cell c;
    c.cx = static_cast<float>(sx / static_cast<double>(end - begin));
    c.cy = static_cast<float>(sy / static_cast<double>(end - begin));
    c.size = static_cast<float>(size);
    c.begin = static_cast<int32_t>(begin);
    c.end = static_cast<int32_t>(end);
    c.leaf = end - begin <= 1 || depth >= 48;
    if (!c.leaf) {
      const double mx = x0 + size / 2, my = y0 + size / 2;
      auto xs = [&](int64_t v) { return y_[static_cast<size_t>(2 * v)]; };
      auto ys = [&](int64_t v) { return y_[static_cast<size_t>(2 * v + 1)]; };
      auto first = order_.begin() + begin, last = order_.begin() + end;
      auto split_x = std::partition(first, last, [&](int64_t v) { return xs(v) < mx; });
      auto split_lo = std::partition(first, split_x, [&](int64_t v) { return ys(v) < my; });
      auto split_hi = std::partition(split_x, last, [&](int64_t v) { return ys(v) < my; });
      const int64_t b[5] = {begin, split_lo - order_.begin(), split_x - order_.begin(),
                            split_hi - order_.begin(), end};
      const double ox[4] = {x0, x0, mx, mx}, oy[4] = {y0, my, y0, my};
      for (int q = 0; q < 4; ++q)
        if (b[q + 1] > b[q]) c.child[q] = Build(b[q], b[q + 1], ox[q], oy[q], size / 2, depth + 1);
    }
    cells_[static_cast<size_t>(id)] = c;
    return id;
  }

  const std::vector<double>& y_;
  std::vector<int64_t> order_;
  std::vector<Cell> cells_;
};

// Gradient of KL(P || Q) (times exaggeration in P) into `grad`; returns KL when asked, else 0.
double Gradient(const SparseP& p, double exaggeration, const std::vector<double>& y, int64_t n,
                double theta, ThreadPool& pool, std::vector<double>& grad, bool want_kl) {
  QuadTree tree(y, n);
  std::vector<double> rep(static_cast<size_t>(2 * n)), sq(static_cast<size_t>(n));
  const double theta2 = theta * theta;
  const std::vector<int> groups = tree.Groups();
  pool.ParallelFor(static_cast<int64_t>(groups.size()), 4, [&](int64_t begin, int64_t end) {
    std::vector<float> lx, ly, lc;  // the interaction list, reused
    for (int64_t g = begin; g < end; ++g)
      tree.RepelGroup(groups[static_cast<size_t>(g)], theta2, rep, sq, lx, ly, lc);
  });
  const double sum_q =
      std::max(std::accumulate(sq.begin(), sq.end(), 0.0), std::numeric_limits<double>::min());
  std::vector<double> kl(static_cast<size_t>(n), 0.0);
  std::vector<float> yf(y.begin(), y.end());
  const float exag = static_cast<float>(exaggeration);
  pool.ParallelFor(n, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float yx = yf[static_cast<size_t>(2 * i)], yy = yf[static_cast<size_t>(2 * i + 1)];
      const int64_t a0 = p.start[static_cast<size_t>(i)], a1 = p.start[static_cast<size_t>(i + 1)];
      const int32_t* col = p.column.data();
      const float* val = p.value.data();
      const float* pos = yf.data();
      float ax = 0, ay = 0;
      for (int64_t a = a0; a < a1; ++a) {
        const int32_t j = col[a];
        const float dx = yx - pos[2 * j], dy = yy - pos[2 * j + 1];
        const float pq = val[a] / (1 + dx * dx + dy * dy);
        ax += pq * dx;
        ay += pq * dy;
      }
      double e = 0;
      if (want_kl) {
        const double eps =
            std::numeric_limits<float>::min();  // tiny, not epsilon: P and Q are ~1e-8 per pair
        for (int64_t a = a0; a < a1; ++a) {
          const int32_t j = col[a];
          const double dx = yx - pos[2 * j], dy = yy - pos[2 * j + 1];
          const double q = 1 / (1 + dx * dx + dy * dy);
          const double pij = static_cast<double>(val[a]) * exaggeration;
          e += pij * std::log(std::max(pij, eps) / std::max(q / sum_q, eps));
        }
      }
      grad[static_cast<size_t>(2 * i)] =
          4 * (static_cast<double>(ax) * exag - rep[static_cast<size_t>(2 * i)] / sum_q);
      grad[static_cast<size_t>(2 * i + 1)] =
          4 * (static_cast<double>(ay) * exag - rep[static_cast<size_t>(2 * i + 1)] / sum_q);
      kl[static_cast<size_t>(i)] = e;
    }
  });
  return want_kl ? std::accumulate(kl.begin(), kl.end(), 0.0) : 0.0;
}

}  // namespace

StatusOr<TsneResult> Tsne(const Tensor& x, const TsneOptions& o, ThreadPool& pool) {
  if (x.dtype() != DataType::kFloat32 || x.rank() != 2)
    return InvalidArgument("t-SNE needs a float32 [rows, features] matrix, got {} {}",
                           DataTypeName(x.dtype()), ShapeToString(x.shape()));
  const int64_t n = x.dim(0), d = x.dim(1);
  if (n < 4) return InvalidArgument("t-SNE needs at least 4 rows, got {}", n);
  if (!(o.perplexity > 0) || o.perplexity >= static_cast<double>(n))
    return InvalidArgument("perplexity must be positive and below the number of rows ({}), got {}",
                           n, o.perplexity);
  if (o.iterations < 1) return InvalidArgument("iterations must be at least 1");
  if (o.theta < 0 || o.theta > 1) return InvalidArgument("theta must be within [0, 1]");
  for (int64_t i = 0; i < n * d; ++i)
    if (!std::isfinite(x.data<float>()[i]))
      return InvalidArgument("row {} holds NaN or infinite values", i / d);
  const int64_t k = std::min<int64_t>(n - 1, static_cast<int64_t>(3 * o.perplexity + 1));
  std::vector<int64_t> index;
  std::vector<float> dist2;
  NearestNeighbours(x.data<float>(), n, d, k, pool, index, dist2);
  std::vector<double> cond;
  ConditionalP(dist2, n, k, o.perplexity, pool, cond);
  const SparseP p = JointP(index, cond, n, k);

  std::vector<double> y(static_cast<size_t>(2 * n));
  if (o.pca_init && d >= 2) {
    Pca pca;
    HONE_RETURN_IF_ERROR(pca.Fit(x, 2, {}, &pool));
    HONE_ASSIGN_OR_RETURN(Tensor z, pca.Transform(x, &pool));
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; ++i) m += z.data<float>()[2 * i];
    m /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) v += std::pow(z.data<float>()[2 * i] - m, 2);
    const double sd = std::sqrt(v / static_cast<double>(n));
    const double scale = sd > 0 ? 1e-4 / sd : 1.0;
    for (int64_t i = 0; i < 2 * n; ++i) y[static_cast<size_t>(i)] = z.data<float>()[i] * scale;
  } else {
    std::mt19937_64 rng(o.seed);
    std::normal_distribution<double> g;
    for (double& v : y) v = g(rng) * 1e-4;
  }
  const double rate = o.learning_rate > 0
                          ? o.learning_rate
                          : std::max(static_cast<double>(n) / o.early_exaggeration / 4, 50.0);
  std::vector<double> grad(y.size()), update(y.size(), 0.0), gains(y.size(), 1.0);
  TsneResult result;
  for (int it = 0; it < o.iterations; ++it) {
    const bool exploring = it < kExplorationIterations;
    const double momentum = exploring ? 0.5 : 0.8;
    const bool report = (it + 1) % 50 == 0 || it + 1 == o.iterations;
    const double kl =
        Gradient(p, exploring ? o.early_exaggeration : 1.0, y, n, o.theta, pool, grad, report);
    for (size_t a = 0; a < y.size(); ++a) {
      gains[a] = update[a] * grad[a] < 0 ? gains[a] + 0.2 : std::max(gains[a] * 0.8, kMinGain);
      update[a] = momentum * update[a] - rate * gains[a] * grad[a];
      y[a] += update[a];
    }
    if (report) {
      result.kl_divergence = kl;
      if (o.progress) o.progress(it + 1, kl);
    }
  }
  result.iterations = o.iterations;
  result.embedding = Tensor::Uninitialized(DataType::kFloat32, {n, 2});
  for (int64_t a = 0; a < 2 * n; ++a)
    result.embedding.data<float>()[a] = static_cast<float>(y[static_cast<size_t>(a)]);
  return result;
}

double Trustworthiness(const Tensor& x, const Tensor& emb, int k, ThreadPool& pool) {
  const int64_t n = x.dim(0), d = x.dim(1), e = emb.dim(1);
  if (n < 2 || k < 1) return 1.0;
  k = static_cast<int>(std::min<int64_t>(k, n - 1));
  const float* px = x.data<float>();
  const float* pe = emb.data<float>();
  std::vector<double> penalty(static_cast<size_t>(n), 0.0);
  pool.ParallelFor(n, 16, [&](int64_t begin, int64_t end) {
    std::vector<std::pair<double, int64_t>> dx(static_cast<size_t>(n)), de(static_cast<size_t>(n));
    std::vector<int64_t> rank(static_cast<size_t>(n));
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double s = 0, t = 0;
        for (int64_t c = 0; c < d; ++c) s += std::pow(double(px[i * d + c]) - px[j * d + c], 2);
        for (int64_t c = 0; c < e; ++c) t += std::pow(double(pe[i * e + c]) - pe[j * e + c], 2);
        dx[static_cast<size_t>(j)] = {j == i ? std::numeric_limits<double>::infinity() : s, j};
        de[static_cast<size_t>(j)] = {j == i ? std::numeric_limits<double>::infinity() : t, j};
      }
      std::sort(dx.begin(), dx.end());
      for (int64_t r = 0; r < n; ++r)
        rank[static_cast<size_t>(dx[static_cast<size_t>(r)].second)] = r + 1;
      std::partial_sort(de.begin(), de.begin() + k, de.end());
      double s = 0;
      for (int64_t t = 0; t < k; ++t) {
        const int64_t r = rank[static_cast<size_t>(de[static_cast<size_t>(t)].second)] - k;
        if (r > 0) s += static_cast<double>(r);
      }
      penalty[static_cast<size_t>(i)] = s;
    }
  });
  const double t = std::accumulate(penalty.begin(), penalty.end(), 0.0);
  const double nn = static_cast<double>(n), kk = k;
  return 1.0 - t * (2.0 / (nn * kk * (2.0 * nn - 3.0 * kk - 1.0)));
}

std::string ScatterSvg(const Tensor& emb, const std::vector<int64_t>& labels,
                       const std::string& title) {
  static const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  const int64_t n = emb.dim(0);
  const float* p = emb.data<float>();
  float x0 = std::numeric_limits<float>::infinity(), y0 = x0, x1 = -x0, y1 = -x0;
  for (int64_t i = 0; i < n; ++i) {
    x0 = std::min(x0, p[2 * i]);
    x1 = std::max(x1, p[2 * i]);
    y0 = std::min(y0, p[2 * i + 1]);
    y1 = std::max(y1, p[2 * i + 1]);
  }
  const double w = 720, h = 720, margin = 40, legend = 140;
  const double sx = (w - 2 * margin) / std::max(1e-12f, x1 - x0);
  const double sy = (h - 2 * margin) / std::max(1e-12f, y1 - y0);
  std::string title_text;
  for (char c : title) {
    if (c == '<')
      title_text += "&lt;";
    else if (c == '>')
      title_text += "&gt;";
    else if (c == '&')
      title_text += "&amp;";
    else
      title_text += c;
  }
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
      "fill=\"white\"/>\n<text x=\"{}\" y=\"24\" font-size=\"15\">{}</text>\n",
      w + legend, h, margin, title_text);
  std::vector<int64_t> distinct(labels.begin(), labels.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  auto colour = [&](int64_t label) {
    const auto at = std::lower_bound(distinct.begin(), distinct.end(), label) - distinct.begin();
    return kPalette[static_cast<size_t>(at) % 10];
  };
  for (int64_t i = 0; i < n; ++i)
    s += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.2\" fill=\"{}\" fill-opacity=\"0.8\"/>\n",
        margin + (p[2 * i] - x0) * sx, h - margin - (p[2 * i + 1] - y0) * sy,
        labels.empty() ? kPalette[0] : colour(labels[static_cast<size_t>(i)]));
  for (size_t a = 0; a < distinct.size() && a < 40; ++a)
    s += fmt::format(
        "<circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
        w + 10, margin + 20 * static_cast<double>(a), colour(distinct[a]), w + 22,
        margin + 4 + 20 * static_cast<double>(a), distinct[a]);
  return s + "</svg>\n";
}

}  // namespace hone::ml
