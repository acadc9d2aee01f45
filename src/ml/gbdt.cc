#include "ml/gbdt.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <queue>

#include "core/errors.h"
#include "core/target_clones.h"
#include "ml/graph_builder.h"

namespace hone::ml {
namespace {

constexpr int kBins = 256;  // histogram slots per feature (max_bins <= 255)

// The largest float32 <= d: a float32 x satisfies x <= Floor(d) exactly when x <= d.
float FloorToFloat(double d) {
  float f = static_cast<float>(d);
  if (static_cast<double>(f) > d) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

// Sorts floats (no NaN) by their bits: four 8-bit LSD radix passes, skipping passes where every
// key has the same digit.
void RadixSort(std::vector<float>& v, std::vector<uint32_t>& a, std::vector<uint32_t>& b) {
  const size_t n = v.size();
  a.resize(n);
  b.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t u = std::bit_cast<uint32_t>(v[i]);
    a[i] = (u & 0x80000000u) != 0 ? ~u : (u | 0x80000000u);
  }
  for (int shift = 0; shift < 32; shift += 8) {
    size_t count[257] = {};
    for (uint32_t k : a) ++count[((k >> shift) & 0xff) + 1];
    if (count[((a[0] >> shift) & 0xff) + 1] == n) continue;
    for (int d = 0; d < 256; ++d) count[d + 1] += count[d];
    for (uint32_t k : a) b[count[(k >> shift) & 0xff]++] = k;
    a.swap(b);
  }
  for (size_t i = 0; i < n; ++i) {
    const uint32_t k = a[i];
    v[i] = std::bit_cast<float>((k & 0x80000000u) != 0 ? (k & 0x7fffffffu) : ~k);
  }
}

// Features mapped to bins: bin b of feature j holds thresholds[j][b-1] < x <= thresholds[j][b].
struct Binned {
  int64_t rows = 0, features = 0;
  std::vector<uint8_t> bins;                   // row-major [rows, features]
  std::vector<std::vector<float>> thresholds;  // per feature, ascending, at most max_bins - 1
};

// scikit-learn's _BinMapper: midpoints between distinct values when there are at most max_bins
// of them, else the 'midpoint' percentiles at 100 * i / max_bins, i = 1 ... max_bins - 1.
Binned Bin(const Tensor& x, int max_bins) {
  Binned out;
  out.rows = x.dim(0);
  out.features = x.dim(1);
  const size_t n = static_cast<size_t>(out.rows), f = static_cast<size_t>(out.features);
  const float* xp = x.data<float>();
  out.bins.resize(n * f);
  out.thresholds.resize(f);
  std::vector<float> col(n);
  std::vector<uint32_t> scratch_a, scratch_b;
  std::vector<double> distinct;
  for (size_t j = 0; j < f; ++j) {
    for (size_t i = 0; i < n; ++i) col[i] = xp[i * f + j];
    RadixSort(col, scratch_a, scratch_b);
    distinct.clear();
    for (size_t i = 0; i < n; ++i)
      if (i == 0 || col[i] != col[i - 1]) distinct.push_back(col[i]);
    std::vector<float>& thr = out.thresholds[j];
    if (distinct.size() <= static_cast<size_t>(max_bins)) {
      for (size_t i = 0; i + 1 < distinct.size(); ++i)
        thr.push_back(FloorToFloat(0.5 * (distinct[i] + distinct[i + 1])));
    } else {
      for (int i = 1; i < max_bins; ++i) {
        const double p = 100.0 * i / max_bins;  // numpy: linspace(0, 100, max_bins + 1)[i]
        const double at = (p / 100.0) * static_cast<double>(n - 1);
        const size_t lo = static_cast<size_t>(std::floor(at));
        const double v = at == std::floor(at) ? col[lo] : 0.5 * (double{col[lo]} + col[lo + 1]);
        const float t = FloorToFloat(v);
        if (thr.empty() || t > thr.back()) thr.push_back(t);
      }
    }
    // Branch-free search over the thresholds padded to 255 with +inf: bin = #{t < x}.
    float padded[kBins - 1];
    std::fill(std::begin(padded), std::end(padded), std::numeric_limits<float>::infinity());
    std::copy(thr.begin(), thr.end(), padded);
    for (size_t i = 0; i < n; ++i) {
      const float v = xp[i * f + j];
      int pos = 0;
      for (int step = 128; step > 0; step >>= 1)
        pos += step & -static_cast<int>(padded[pos + step - 1] < v);
      out.bins[i * f + j] = static_cast<uint8_t>(pos);
    }
  }
  return out;
}

struct HistBin {
  double g = 0, h = 0;
  uint32_t n = 0;
};

struct Split {
  double gain = 0;
  int32_t feature = -1;
  int bin = 0;
  double g_left = 0, h_left = 0;
  uint32_t n_left = 0;
};

struct NodeSums {
  double g, h;
  uint32_t count, min_samples_leaf;
  double l2, parent;  // parent: g^2 / (h + l2)
};

// gain[b]: the loss reduction of splitting after bin b, given the prefix sums of the bins up to
// b; 0 where a side would have fewer than min_samples_leaf rows or a hessian sum below
// scikit-learn's min_hessian_to_split (1e-3). Vectorised: no branches, one clone per ISA.
HONE_VECTOR_CLONES void SplitGains(const double* gl, const double* hl, const uint32_t* nl, int m,
                                   NodeSums s, double* gain) {
  constexpr double kMinHessian = 1e-3;
  for (int b = 0; b < m; ++b) {
    const double gr = s.g - gl[b], hr = s.h - hl[b];
    const bool ok = nl[b] >= s.min_samples_leaf && s.count - nl[b] >= s.min_samples_leaf &&
                    hl[b] >= kMinHessian && hr >= kMinHessian;
    const double v =
        gl[b] * gl[b] / (hl[b] + s.l2 + 1e-15) + gr * gr / (hr + s.l2 + 1e-15) - s.parent;
    gain[b] = ok ? v : 0.0;
  }
}

// One node while its tree grows: its rows (a range of the sample index array), sums, histogram.
struct GrowNode {
  uint32_t begin = 0, end = 0;
  int depth = 0;
  double g = 0, h = 0;
  int32_t tree_node = 0;
  int hist = -1;  // slot in the histogram pool, -1: none
  Split split;
};

// Grows one tree on the gradients of one output, scikit-learn's TreeGrower without missing
// values, categorical features or constraints.
class Grower {
 public:
  Grower(const Binned& data, const GbdtOptions& o) : data_(data), o_(o) {
    idx_.resize(static_cast<size_t>(data.rows));
    tmp_.resize(idx_.size());
    bin_count_.resize(static_cast<size_t>(data.features));
    for (size_t j = 0; j < bin_count_.size(); ++j)
      bin_count_[j] = static_cast<int>(data.thresholds[j].size()) + 1;
  }

  // Grows a tree on (grad, hess) and adds its shrunk leaf values to raw[row * stride + output].
  Gbdt::Tree Grow(const float* grad, const float* hess, double* raw, size_t stride, int output) {
    grad_ = grad;
    hess_ = hess;
    tree_ = {};
    tree_.output = output;
    for (size_t i = 0; i < idx_.size(); ++i) idx_[i] = static_cast<uint32_t>(i);
    free_.clear();
    for (size_t s = 0; s < pool_.size(); ++s) free_.push_back(static_cast<int>(s));
    leaves_.clear();
    heap_ = {};

    GrowNode root;
    root.end = static_cast<uint32_t>(idx_.size());
    root.tree_node = NewTreeNode();
    root.hist = TakeHist();
    BuildHist(root, /*sequential=*/true);
    const HistBin* hr = Hist(root.hist);
    for (int b = 0; b < bin_count_[0]; ++b) {
      root.g += hr[b].g;
      root.h += hr[b].h;
    }
    Consider(root);
    int n_leaves = 1;
    while (!heap_.empty()) {
      GrowNode node = heap_.top().second;
      heap_.pop();
      GrowNode left, right;
      SplitNode(node, left, right);
      ++n_leaves;
      const bool full = o_.max_leaf_nodes > 0 && n_leaves >= o_.max_leaf_nodes;
      const bool deep = o_.max_depth > 0 && left.depth >= o_.max_depth;
      const bool split_left = !full && !deep && Splittable(left);
      const bool split_right = !full && !deep && Splittable(right);
      if (split_left || split_right) {
        // The smaller child's histogram from its rows, the larger's by subtraction.
        GrowNode& small = left.end - left.begin <= right.end - right.begin ? left : right;
        GrowNode& large = &small == &left ? right : left;
        small.hist = TakeHist();
        BuildHist(small, false);
        large.hist = node.hist;
        node.hist = -1;
        Subtract(large.hist, small.hist);
      }
      Release(node);
      for (GrowNode* c : {&left, &right}) {
        if (c == &left ? split_left : split_right) {
          Consider(*c);
        } else {
          Finalize(*c);
        }
      }
      if (full) {
        while (!heap_.empty()) {
          GrowNode rest = heap_.top().second;
          heap_.pop();
          Finalize(rest);
        }
      }
    }
    // Leaf values, shrunk, into the raw scores of their rows.
    for (const GrowNode& leaf : leaves_) {
      const double v = tree_.nodes[static_cast<size_t>(leaf.tree_node)].value;
      for (uint32_t i = leaf.begin; i < leaf.end; ++i) raw[idx_[i] * stride] += v;
    }
    return std::move(tree_);
  }

 private:
  int32_t NewTreeNode() {
    tree_.nodes.emplace_back();
    return static_cast<int32_t>(tree_.nodes.size() - 1);
  }
  HistBin* Hist(int slot) { return pool_[static_cast<size_t>(slot)].data(); }
  int TakeHist() {
    if (free_.empty()) {
      pool_.emplace_back(static_cast<size_t>(data_.features) * kBins);
      return static_cast<int>(pool_.size() - 1);
    }
    const int s = free_.back();
    free_.pop_back();
    return s;
  }
  void Release(GrowNode& n) {
    if (n.hist >= 0) free_.push_back(n.hist);
    n.hist = -1;
  }
  bool Splittable(const GrowNode& n) const {
    return n.end - n.begin >= 2u * static_cast<uint32_t>(o_.min_samples_leaf);
  }
  // The node's best split; splittable nodes go on the heap, the others become leaves.
  void Consider(GrowNode& n) {
    if (!Splittable(n) || (o_.max_depth > 0 && n.depth >= o_.max_depth)) {
      Finalize(n);
      return;
    }
    n.split = FindSplit(n);
    if (n.split.gain <= 0) {
      Finalize(n);
      return;
    }
    heap_.push({n.split.gain, n});
  }
  // Makes `n` a leaf: its histogram goes back to the pool, its shrunk value into the tree.
  void Finalize(GrowNode& n) {
    Release(n);
    Gbdt::TreeNode& t = tree_.nodes[static_cast<size_t>(n.tree_node)];
    t.feature = -1;
    t.value = -o_.learning_rate * n.g / (n.h + o_.l2_regularization + 1e-15);
    leaves_.push_back(n);
  }

  void BuildHist(const GrowNode& n, bool sequential) {
    HistBin* hist = Hist(n.hist);
    const size_t f = static_cast<size_t>(data_.features);
    std::fill(hist, hist + f * kBins, HistBin{});
    const uint8_t* bins = data_.bins.data();
    for (uint32_t i = n.begin; i < n.end; ++i) {
      const uint32_t s = sequential ? i : idx_[i];
      const uint8_t* row = bins + static_cast<size_t>(s) * f;
      const double g = grad_[s], h = hess_[s];
      HistBin* hj = hist;
      for (size_t j = 0; j < f; ++j, hj += kBins) {
        HistBin& b = hj[row[j]];
        b.g += g;
        b.h += h;
        ++b.n;
      }
    }
  }
  void Subtract(int into, int small) {
    HistBin* a = Hist(into);
    const HistBin* b = Hist(small);
    const size_t total = static_cast<size_t>(data_.features) * kBins;
    for (size_t i = 0; i < total; ++i) {
      a[i].g -= b[i].g;
      a[i].h -= b[i].h;
      a[i].n -= b[i].n;
    }
  }

  Split FindSplit(const GrowNode& n) const {
    const HistBin* hist = pool_[static_cast<size_t>(n.hist)].data();
    const double l2 = o_.l2_regularization;
    const uint32_t count = n.end - n.begin;
    const uint32_t msl = static_cast<uint32_t>(o_.min_samples_leaf);
    const double parent = n.g * n.g / (n.h + l2 + 1e-15);
    Split best;
    double gl[kBins], hl[kBins], gain[kBins];
    uint32_t nl[kBins];
    for (int64_t j = 0; j < data_.features; ++j) {
      const HistBin* hj = hist + j * kBins;
      const int m = bin_count_[static_cast<size_t>(j)] - 1;  // split after bin 0 ... m - 1
      double sg = 0, sh = 0;
      uint32_t sn = 0;
      for (int b = 0; b < m; ++b) {
        gl[b] = sg += hj[b].g;
        hl[b] = sh += hj[b].h;
        nl[b] = sn += hj[b].n;
      }
      SplitGains(gl, hl, nl, m, {n.g, n.h, count, msl, l2, parent}, gain);
      for (int b = 0; b < m; ++b)
        if (gain[b] > best.gain) {
          best.gain = gain[b];
          best.feature = static_cast<int32_t>(j);
          best.bin = b;
          best.g_left = gl[b];
          best.h_left = hl[b];
          best.n_left = nl[b];
        }
    }
    return best;
  }

  // Partitions the node's rows (stable) and makes its children.
  void SplitNode(const GrowNode& n, GrowNode& left, GrowNode& right) {
    const size_t f = static_cast<size_t>(data_.features);
    const size_t feat = static_cast<size_t>(n.split.feature);
    const uint8_t bin = static_cast<uint8_t>(n.split.bin);
    const uint8_t* bins = data_.bins.data();
    uint32_t l = n.begin, r = 0;
    for (uint32_t i = n.begin; i < n.end; ++i) {  // branch-free: both stores, one advances
      const uint32_t s = idx_[i];
      const uint32_t go_left = bins[static_cast<size_t>(s) * f + feat] <= bin;
      idx_[l] = s;
      tmp_[r] = s;
      l += go_left;
      r += 1 - go_left;
    }
    std::copy(tmp_.begin(), tmp_.begin() + r, idx_.begin() + l);
    left.begin = n.begin;
    left.end = l;
    right.begin = l;
    right.end = n.end;
    left.depth = right.depth = n.depth + 1;
    left.g = n.split.g_left;
    left.h = n.split.h_left;
    right.g = n.g - n.split.g_left;
    right.h = n.h - n.split.h_left;
    left.tree_node = NewTreeNode();
    right.tree_node = NewTreeNode();
    Gbdt::TreeNode& t = tree_.nodes[static_cast<size_t>(n.tree_node)];
    t.feature = n.split.feature;
    t.threshold = data_.thresholds[feat][static_cast<size_t>(n.split.bin)];
    t.left = left.tree_node;
    t.right = right.tree_node;
  }

  struct ByGain {
    bool operator()(const std::pair<double, GrowNode>& a,
                    const std::pair<double, GrowNode>& b) const {
      return a.first < b.first;
    }
  };

  const Binned& data_;
  const GbdtOptions& o_;
  const float* grad_ = nullptr;
  const float* hess_ = nullptr;
  std::vector<uint32_t> idx_, tmp_;
  std::vector<int> bin_count_;
  std::vector<std::vector<HistBin>> pool_;
  std::vector<int> free_;
  std::vector<GrowNode> leaves_;
  std::priority_queue<std::pair<double, GrowNode>, std::vector<std::pair<double, GrowNode>>, ByGain>
      heap_;
  Gbdt::Tree tree_;
};

Status CheckX(const Tensor& x, int64_t features) {
  if (x.dtype() != DataType::kFloat32 || x.rank() != 2)
    return InvalidArgument("gbdt: x must be float32 [rows, features], got {} of rank {}",
                           DataTypeName(x.dtype()), x.rank());
  if (features >= 0 && x.dim(1) != features)
    return InvalidArgument("gbdt: x has {} features, the model was fitted on {}", x.dim(1),
                           features);
  return Status::Ok();
}

double Sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

}  // namespace

Status Gbdt::FitClassifier(const Tensor& x, std::span<const int32_t> y, int classes,
                           const GbdtOptions& options) {
  if (classes < 2)
    return InvalidArgument("gbdt: {} classes; a classifier needs two or more", classes);
  return Fit(x, y, {}, classes, options);
}

Status Gbdt::FitRegressor(const Tensor& x, std::span<const double> y, const GbdtOptions& options) {
  return Fit(x, {}, y, 0, options);
}

Status Gbdt::Fit(const Tensor& x, std::span<const int32_t> labels, std::span<const double> values,
                 int classes, const GbdtOptions& o) {
  HONE_RETURN_IF_ERROR(CheckX(x, -1));
  const int64_t rows = x.dim(0);
  const bool regression = classes == 0;
  if (static_cast<int64_t>(regression ? values.size() : labels.size()) != rows)
    return InvalidArgument("gbdt: {} rows but {} targets", rows,
                           regression ? values.size() : labels.size());
  if (rows < 1 || x.dim(1) < 1) return InvalidArgument("gbdt: no rows or no features to fit");
  if (o.max_iter < 1) return InvalidArgument("gbdt: max_iter must be >= 1, got {}", o.max_iter);
  if (!(o.learning_rate > 0))
    return InvalidArgument("gbdt: learning_rate must be positive, got {}", o.learning_rate);
  if (o.max_leaf_nodes == 1 || o.max_leaf_nodes < 0)
    return InvalidArgument("gbdt: max_leaf_nodes must be >= 2 (or 0: no limit), got {}",
                           o.max_leaf_nodes);
  if (o.max_depth < 0) return InvalidArgument("gbdt: max_depth must be >= 0, got {}", o.max_depth);
  if (o.min_samples_leaf < 1)
    return InvalidArgument("gbdt: min_samples_leaf must be >= 1, got {}", o.min_samples_leaf);
  if (!(o.l2_regularization >= 0))
    return InvalidArgument("gbdt: l2_regularization must be >= 0, got {}", o.l2_regularization);
  if (o.max_bins < 2 || o.max_bins > 255)
    return InvalidArgument("gbdt: max_bins must be in 2 ... 255, got {}", o.max_bins);
  const float* xp = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i)
    if (std::isnan(xp[i]))
      return InvalidArgument("gbdt: x has a missing value (NaN) at row {}; impute first",
                             i / x.dim(1));
  for (int32_t c : labels)
    if (c < 0 || c >= classes) return InvalidArgument("gbdt: class {} outside [0, {})", c, classes);
  for (double v : values)
    if (!std::isfinite(v)) return InvalidArgument("gbdt: target value {} is not finite", v);

  regression_ = regression;
  classes_ = classes;
  outputs_ = regression || classes == 2 ? 1 : classes;
  features_ = x.dim(1);
  trees_.clear();
  const size_t n = static_cast<size_t>(rows), k = static_cast<size_t>(outputs_);

  // Baselines: the mean (regression), the log-odds of the class-1 share, or the classes' log
  // shares centred (scikit-learn's symmetric multinomial link).
  baseline_.assign(k, 0.0);
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  if (regression) {
    for (double v : values) baseline_[0] += v;
    baseline_[0] /= static_cast<double>(n);
  } else {
    std::vector<double> share(static_cast<size_t>(classes), 0.0);
    for (int32_t c : labels) share[static_cast<size_t>(c)] += 1.0 / static_cast<double>(n);
    for (double& s : share) s = std::clamp(s, kEps, 1 - kEps);
    if (outputs_ == 1) {
      baseline_[0] = std::log(share[1] / (1 - share[1]));
    } else {
      double mean = 0;
      for (size_t c = 0; c < k; ++c) mean += std::log(share[c]) / static_cast<double>(k);
      for (size_t c = 0; c < k; ++c) baseline_[c] = std::log(share[c]) - mean;
    }
  }

  const Binned data = Bin(x, o.max_bins);
  Grower grower(data, o);
  std::vector<double> raw(n * k);
  for (size_t i = 0; i < n; ++i)
    for (size_t c = 0; c < k; ++c) raw[i * k + c] = baseline_[c];
  std::vector<float> grad(n * k), hess(n * k);  // output-major [k][n]
  std::vector<double> p(k);
  for (int it = 0; it < o.max_iter; ++it) {
    for (size_t i = 0; i < n; ++i) {
      const double* r = raw.data() + i * k;
      if (regression) {
        grad[i] = static_cast<float>(r[0] - values[i]);
        hess[i] = 1.f;
      } else if (k == 1) {
        const double pi = Sigmoid(r[0]);
        grad[i] = static_cast<float>(pi - (labels[i] == 1 ? 1.0 : 0.0));
        hess[i] = static_cast<float>(pi * (1 - pi));
      } else {
        const double m = *std::max_element(r, r + k);
        double sum = 0;
        for (size_t c = 0; c < k; ++c) sum += p[c] = std::exp(r[c] - m);
        for (size_t c = 0; c < k; ++c) {
          const double pc = p[c] / sum;
          grad[c * n + i] = static_cast<float>(pc - (static_cast<size_t>(labels[i]) == c ? 1 : 0));
          hess[c * n + i] = static_cast<float>(pc * (1 - pc));
        }
      }
    }
    for (size_t c = 0; c < k; ++c)
      trees_.push_back(grower.Grow(grad.data() + c * n, hess.data() + c * n, raw.data() + c, k,
                                   static_cast<int>(c)));
  }
  Flatten();
  return Status::Ok();
}

void Gbdt::Flatten() {
  flat_nodes_.clear();
  flat_values_.clear();
  flat_trees_.clear();
  for (const Tree& t : trees_) {
    const int32_t base = static_cast<int32_t>(flat_nodes_.size());
    std::vector<int> depth(t.nodes.size(), 0);
    int deepest = 0;
    for (size_t i = 0; i < t.nodes.size(); ++i) {  // children come after their parent
      const TreeNode& nd = t.nodes[i];
      const int32_t self = base + static_cast<int32_t>(i);
      if (nd.feature < 0) {
        flat_nodes_.push_back({0.f, 0, {self, self}});
      } else {
        flat_nodes_.push_back({nd.threshold, nd.feature, {base + nd.left, base + nd.right}});
        depth[static_cast<size_t>(nd.left)] = depth[static_cast<size_t>(nd.right)] = depth[i] + 1;
        deepest = std::max(deepest, depth[i] + 1);
      }
      flat_values_.push_back(nd.feature < 0 ? nd.value : 0.0);
    }
    flat_trees_.push_back({base, deepest, t.output});
  }
}

int64_t Gbdt::leaves() const {
  int64_t total = 0;
  for (const Tree& t : trees_)
    for (const TreeNode& nd : t.nodes) total += nd.feature < 0;
  return total;
}

std::vector<double> Gbdt::Raw(const Tensor& x) const {
  if (!CheckX(x, features_).ok()) return {};
  const size_t n = static_cast<size_t>(x.dim(0)), f = static_cast<size_t>(features_),
               k = static_cast<size_t>(outputs_);
  std::vector<double> raw(n * k);
  const float* xp = x.data<float>();
  for (size_t i = 0; i < n; ++i)
    for (size_t c = 0; c < k; ++c) raw[i * k + c] = baseline_[c];
  constexpr size_t kBlock = 16;  // rows walking each tree together
  const FlatNode* nodes = flat_nodes_.data();
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t m = std::min(kBlock, n - start);
    const float* rows = xp + start * f;
    int32_t at[kBlock];
    for (const FlatTree& t : flat_trees_) {
      for (size_t r = 0; r < m; ++r) at[r] = t.root;
      for (int d = 0; d < t.depth; ++d)
        for (size_t r = 0; r < m; ++r) {
          const FlatNode& nd = nodes[at[r]];
          at[r] = nd.child[!(rows[r * f + static_cast<size_t>(nd.feature)] <= nd.threshold)];
        }
      for (size_t r = 0; r < m; ++r)
        raw[(start + r) * k + static_cast<size_t>(t.output)] +=
            flat_values_[static_cast<size_t>(at[r])];
    }
  }
  return raw;
}

std::vector<float> Gbdt::PredictProba(const Tensor& x) const {
  if (regression_) return {};
  const std::vector<double> raw = Raw(x);
  const size_t k = static_cast<size_t>(outputs_), c = static_cast<size_t>(classes_);
  const size_t n = raw.size() / k;
  std::vector<float> out(n * c);
  for (size_t i = 0; i < n; ++i) {
    if (k == 1) {
      const double p = Sigmoid(raw[i]);
      out[i * 2] = static_cast<float>(1 - p);
      out[i * 2 + 1] = static_cast<float>(p);
      continue;
    }
    const double* r = raw.data() + i * k;
    const double m = *std::max_element(r, r + k);
    double sum = 0;
    for (size_t j = 0; j < k; ++j) sum += std::exp(r[j] - m);
    for (size_t j = 0; j < k; ++j) out[i * k + j] = static_cast<float>(std::exp(r[j] - m) / sum);
  }
  return out;
}

std::vector<int32_t> Gbdt::Predict(const Tensor& x) const {
  if (regression_) return {};
  const std::vector<double> raw = Raw(x);
  const size_t k = static_cast<size_t>(outputs_);
  std::vector<int32_t> out(raw.size() / k);
  for (size_t i = 0; i < out.size(); ++i) {
    const double* r = raw.data() + i * k;
    out[i] = k == 1 ? (raw[i] > 0 ? 1 : 0) : static_cast<int32_t>(std::max_element(r, r + k) - r);
  }
  return out;
}

std::vector<double> Gbdt::PredictValue(const Tensor& x) const {
  if (!regression_) return {};
  return Raw(x);
}

void Gbdt::AppendOnnx(Graph& g, const std::string& input, const std::string& probabilities,
                      const std::string& index) const {
  GraphBuilder b(g, "gbdt_");
  std::vector<int64_t> tree_ids, node_ids, feature_ids, true_ids, false_ids, missing_true;
  std::vector<int64_t> target_tree, target_node, target_id;
  std::vector<float> values, weights, base;
  std::vector<std::string> modes;
  for (size_t t = 0; t < trees_.size(); ++t) {
    const Tree& tree = trees_[t];
    for (size_t i = 0; i < tree.nodes.size(); ++i) {
      const TreeNode& nd = tree.nodes[i];
      tree_ids.push_back(static_cast<int64_t>(t));
      node_ids.push_back(static_cast<int64_t>(i));
      missing_true.push_back(0);
      if (nd.feature < 0) {
        modes.push_back("LEAF");
        feature_ids.push_back(0);
        values.push_back(0.f);
        true_ids.push_back(0);
        false_ids.push_back(0);
        target_tree.push_back(static_cast<int64_t>(t));
        target_node.push_back(static_cast<int64_t>(i));
        target_id.push_back(tree.output);
        weights.push_back(static_cast<float>(nd.value));
      } else {
        modes.push_back("BRANCH_LEQ");
        feature_ids.push_back(nd.feature);
        values.push_back(nd.threshold);
        true_ids.push_back(nd.left);
        false_ids.push_back(nd.right);
      }
    }
  }
  for (double v : baseline_) base.push_back(static_cast<float>(v));
  const std::string raw = b.Name("raw");
  Node& te = b.Add("TreeEnsembleRegressor", {input}, {raw}, "ai.onnx.ml");
  GraphBuilder::SetInt(te, "n_targets", outputs_);
  GraphBuilder::SetInts(te, "nodes_treeids", tree_ids);
  GraphBuilder::SetInts(te, "nodes_nodeids", node_ids);
  GraphBuilder::SetInts(te, "nodes_featureids", feature_ids);
  GraphBuilder::SetFloats(te, "nodes_values", values);
  GraphBuilder::SetStrings(te, "nodes_modes", modes);
  GraphBuilder::SetInts(te, "nodes_truenodeids", true_ids);
  GraphBuilder::SetInts(te, "nodes_falsenodeids", false_ids);
  GraphBuilder::SetInts(te, "nodes_missing_value_tracks_true", missing_true);
  GraphBuilder::SetInts(te, "target_treeids", target_tree);
  GraphBuilder::SetInts(te, "target_nodeids", target_node);
  GraphBuilder::SetInts(te, "target_ids", target_id);
  GraphBuilder::SetFloats(te, "target_weights", weights);
  GraphBuilder::SetFloats(te, "base_values", base);
  GraphBuilder::SetString(te, "aggregate_function", "SUM");
  GraphBuilder::SetString(te, "post_transform", "NONE");
  if (regression_) {
    b.Add("Reshape", {raw, b.Ints("shape", {-1}, {1})}, {probabilities});
    return;
  }
  b.ClassHead(raw, outputs_ == 1, probabilities, index);
}

}  // namespace hone::ml
