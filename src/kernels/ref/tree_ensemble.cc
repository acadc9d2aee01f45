// Tree-ensemble kernels of the ai.onnx.ml domain, one evaluator behind three attribute layouts:
// - TreeEnsemble (ai.onnx.ml 5): BRANCH_LEQ/LT/GTE/GT/EQ/NEQ/MEMBER nodes, leaves apart, missing
//   value tracking, aggregate SUM / AVERAGE / MIN / MAX, post_transform NONE / SOFTMAX / LOGISTIC
//   / SOFTMAX_ZERO / PROBIT.
// - TreeEnsembleRegressor (ai.onnx.ml 1, 3): nodes by (tree id, node id) with LEAF nodes, targets
//   (tree, node, target id, weight), base_values; output float [N, n_targets].
// - TreeEnsembleClassifier (ai.onnx.ml 1, 3): the same with class_* targets; outputs the label
//   (classlabels_int64s or classlabels_strings) and float scores [N, classes]. Two classes scored
//   through one class id follow ONNX Runtime: the score s is class 1's, scores [1 - s, s] (or
//   [-s, s] when some weight is negative; LOGISTIC: [1 - p, p]), label 1 when s > 0.5 (> 0).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

enum class NodeMode : uint8_t { kLeq = 0, kLt, kGte, kGt, kEq, kNeq, kMember };
enum class Aggregate { kAverage = 0, kSum = 1, kMin = 2, kMax = 3 };
enum class PostTransform { kNone = 0, kSoftmax, kLogistic, kSoftmaxZero, kProbit };

// Inverse of erf by Newton steps from a rational first guess (for PROBIT).
double ErfInv(double y) {
  if (y <= -1) return -std::numeric_limits<double>::infinity();
  if (y >= 1) return std::numeric_limits<double>::infinity();
  const double a = 0.147;
  const double ln = std::log(1 - y * y);
  const double t = 2 / (std::numbers::pi * a) + ln / 2;
  double x = std::copysign(std::sqrt(std::sqrt(t * t - ln / a) - t), y);
  for (int i = 0; i < 4; ++i) {
    const double err = std::erf(x) - y;
    x -= err / (2 / std::sqrt(std::numbers::pi) * std::exp(-x * x));
  }
  return x;
}

Status TensorToDoubles(const Node& node, const Tensor& t, std::vector<double>& v) {
  v.resize(static_cast<size_t>(t.numel()));
  return VisitNumeric(node, t.dtype(), [&]<typename T>() {
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<double>(static_cast<Acc<T>>(t.data<T>()[i]));
    return Status::Ok();
  });
}

// A compiled ensemble. A child id >= 0 is a node; < 0 is leaf ~id. A leaf adds its entries
// (target, weight) to the row's scores.
struct Forest {
  struct TreeNode {
    double split = 0;
    int64_t feature = 0;
    NodeMode mode = NodeMode::kLeq;
    bool missing_true = false;
    int64_t child[2] = {0, 0};  // [test true, test false]
  };
  std::vector<TreeNode> nodes;
  std::vector<int64_t> roots;            // node id, or ~leaf for a tree that is one leaf
  std::vector<size_t> leaf_begin = {0};  // leaf i: entries [leaf_begin[i], leaf_begin[i + 1])
  std::vector<int64_t> entry_target;
  std::vector<double> entry_weight;
  std::vector<std::set<double>> sets;  // per node; MEMBER nodes only
  std::vector<double> base;            // per target, or empty
  int64_t n_targets = 0;
  Aggregate aggregate = Aggregate::kSum;
  PostTransform post = PostTransform::kNone;

  size_t leaves() const { return leaf_begin.size() - 1; }

  Status Validate(const InitContext& ctx) const {
    const int64_t n_nodes = static_cast<int64_t>(nodes.size());
    const int64_t n_leaves = static_cast<int64_t>(leaves());
    auto ok_child = [&](int64_t c) { return c >= 0 ? c < n_nodes : ~c < n_leaves; };
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].feature < 0) return ctx.Invalid("node {}: negative feature id", i);
      for (int64_t c : nodes[i].child)
        if (!ok_child(c)) return ctx.Invalid("node {}: child id {} is out of range", i, c);
    }
    for (int64_t r : roots)
      if (!ok_child(r)) return ctx.Invalid("tree root {} is out of range", r);
    for (int64_t t : entry_target)
      if (t < 0 || t >= n_targets)
        return ctx.Invalid("leaf target id {} is outside [0, {})", t, n_targets);
    if (!base.empty() && static_cast<int64_t>(base.size()) != n_targets)
      return ctx.Invalid("base_values has {} values, expected {}", base.size(), n_targets);
    return Status::Ok();
  }

  bool Test(const TreeNode& nd, size_t i, double v) const {
    if (std::isnan(v) && nd.missing_true) return true;
    const double s = nd.split;
    switch (nd.mode) {
      case NodeMode::kLeq:
        return v <= s;
      case NodeMode::kLt:
        return v < s;
      case NodeMode::kGte:
        return v >= s;
      case NodeMode::kGt:
        return v > s;
      case NodeMode::kEq:
        return v == s;
      case NodeMode::kNeq:
        return v != s;
      case NodeMode::kMember:
        return sets[i].count(v) != 0;
    }
    return false;
  }

  // The aggregated scores of one row (base values added, no post transform); `has` marks the
  // targets some leaf reached. False when a tree loops.
  bool Score(const double* row, double* acc, bool* has) const {
    const size_t nt = static_cast<size_t>(n_targets);
    std::fill(acc, acc + nt, 0.0);
    std::fill(has, has + nt, false);
    const size_t max_steps = nodes.size() + 1;
    for (int64_t at : roots) {
      for (size_t step = 0; at >= 0 && step < max_steps; ++step) {
        const TreeNode& nd = nodes[static_cast<size_t>(at)];
        at = nd.child[Test(nd, static_cast<size_t>(at), row[nd.feature]) ? 0 : 1];
      }
      if (at >= 0) return false;
      const size_t leaf = static_cast<size_t>(~at);
      for (size_t e = leaf_begin[leaf]; e < leaf_begin[leaf + 1]; ++e) {
        const size_t t = static_cast<size_t>(entry_target[e]);
        const double w = entry_weight[e];
        switch (aggregate) {
          case Aggregate::kSum:
          case Aggregate::kAverage:
            acc[t] += w;
            break;
          case Aggregate::kMin:
            acc[t] = has[t] ? std::min(acc[t], w) : w;
            break;
          case Aggregate::kMax:
            acc[t] = has[t] ? std::max(acc[t], w) : w;
            break;
        }
        has[t] = true;
      }
    }
    if (aggregate == Aggregate::kAverage && !roots.empty())
      for (size_t t = 0; t < nt; ++t) acc[t] /= static_cast<double>(roots.size());
    if (!base.empty())
      for (size_t t = 0; t < nt; ++t) acc[t] += base[t];
    return true;
  }

  void Transform(double* v, size_t n) const {
    switch (post) {
      case PostTransform::kNone:
        return;
      case PostTransform::kLogistic:
        for (size_t i = 0; i < n; ++i) v[i] = 1.0 / (1.0 + std::exp(-v[i]));
        return;
      case PostTransform::kProbit:
        for (size_t i = 0; i < n; ++i) v[i] = std::numbers::sqrt2 * ErfInv(2 * v[i] - 1);
        return;
      case PostTransform::kSoftmax:
      case PostTransform::kSoftmaxZero: {
        const bool skip_zero = post == PostTransform::kSoftmaxZero;
        double mx = -std::numeric_limits<double>::infinity();
        for (size_t i = 0; i < n; ++i)
          if (!(skip_zero && v[i] == 0)) mx = std::max(mx, v[i]);
        double sum = 0;
        for (size_t i = 0; i < n; ++i) {
          if (skip_zero && v[i] == 0) continue;
          v[i] = std::exp(v[i] - mx);
          sum += v[i];
        }
        if (sum > 0)
          for (size_t i = 0; i < n; ++i)
            if (!(skip_zero && v[i] == 0)) v[i] /= sum;
        return;
      }
    }
  }
};

// Every row's aggregated scores (base values added, no post transform) into `scores`, row-major
// [n, n_targets], with the checks every tree kernel makes on X.
Status ScoreRows(ComputeContext& ctx, const Forest& forest, std::vector<double>& scores,
                 int64_t& n) {
  const Tensor* x = ctx.input(0);
  if (x == nullptr) return ctx.Error("expected input X");
  if (x->rank() != 2 && x->rank() != 1)
    return ctx.Error("input X rank: expected 2, got {}", x->rank());
  n = x->rank() == 2 ? x->dim(0) : 1;
  const int64_t f = x->rank() == 2 ? x->dim(1) : x->dim(0);
  for (const auto& nd : forest.nodes)
    if (nd.feature >= f)
      return ctx.Error("feature id {} is outside the {} columns of X", nd.feature, f);
  std::vector<double> xv(static_cast<size_t>(x->numel()));
  HONE_RETURN_IF_ERROR(VisitNumeric(ctx.node(), x->dtype(), [&]<typename T>() {
    for (size_t i = 0; i < xv.size(); ++i)
      xv[i] = static_cast<double>(static_cast<Acc<T>>(x->data<T>()[i]));
    return Status::Ok();
  }));
  const size_t nt = static_cast<size_t>(forest.n_targets);
  scores.assign(static_cast<size_t>(n) * nt, 0.0);
  std::unique_ptr<bool[]> has(new bool[nt]);
  for (int64_t row = 0; row < n; ++row)
    if (!forest.Score(xv.data() + row * f, scores.data() + static_cast<size_t>(row) * nt,
                      has.get()))
      return ctx.Error("a tree has a cycle");
  return Status::Ok();
}

// ---- ai.onnx.ml 5 -------------------------------------------------------------------------------

class TreeEnsemble final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    Forest& fo = forest_;
    fo.n_targets = ctx.attr_int("n_targets", 0);
    if (fo.n_targets <= 0)
      return ctx.Invalid("attribute n_targets must be positive, got {}", fo.n_targets);
    const int64_t agg = ctx.attr_int("aggregate_function", 1);
    if (agg < 0 || agg > 3) return ctx.Invalid("attribute aggregate_function: {} is not 0-3", agg);
    fo.aggregate = static_cast<Aggregate>(agg);
    const int64_t post = ctx.attr_int("post_transform", 0);
    if (post < 0 || post > 4) return ctx.Invalid("attribute post_transform: {} is not 0-4", post);
    fo.post = static_cast<PostTransform>(post);
    const std::vector<int64_t> roots = ctx.attr_ints("tree_roots");
    const std::vector<int64_t> feature = ctx.attr_ints("nodes_featureids");
    const std::vector<int64_t> true_id = ctx.attr_ints("nodes_truenodeids");
    const std::vector<int64_t> false_id = ctx.attr_ints("nodes_falsenodeids");
    const std::vector<int64_t> true_leaf = ctx.attr_ints("nodes_trueleafs");
    const std::vector<int64_t> false_leaf = ctx.attr_ints("nodes_falseleafs");
    const std::vector<int64_t> missing_true = ctx.attr_ints("nodes_missing_value_tracks_true");
    fo.entry_target = ctx.attr_ints("leaf_targetids");
    const Tensor* modes = ctx.attr_tensor("nodes_modes");
    const Tensor* splits = ctx.attr_tensor("nodes_splits");
    const Tensor* weights = ctx.attr_tensor("leaf_weights");
    if (modes == nullptr || splits == nullptr || weights == nullptr)
      return ctx.Invalid("attributes nodes_modes, nodes_splits and leaf_weights are required");
    std::vector<double> mode_v, split;
    HONE_RETURN_IF_ERROR(TensorToDoubles(ctx.node(), *modes, mode_v));
    HONE_RETURN_IF_ERROR(TensorToDoubles(ctx.node(), *splits, split));
    HONE_RETURN_IF_ERROR(TensorToDoubles(ctx.node(), *weights, fo.entry_weight));
    const size_t n_nodes = feature.size();
    if (mode_v.size() != n_nodes || split.size() != n_nodes || true_id.size() != n_nodes ||
        false_id.size() != n_nodes || true_leaf.size() != n_nodes || false_leaf.size() != n_nodes)
      return ctx.Invalid("the nodes_* attributes must all have {} values", n_nodes);
    if (!missing_true.empty() && missing_true.size() != n_nodes)
      return ctx.Invalid("attribute nodes_missing_value_tracks_true must have {} values", n_nodes);
    const size_t n_leaves = fo.entry_target.size();
    if (fo.entry_weight.size() != n_leaves)
      return ctx.Invalid("leaf_targetids has {} values but leaf_weights {}", n_leaves,
                         fo.entry_weight.size());
    for (size_t l = 1; l <= n_leaves; ++l) fo.leaf_begin.push_back(l);
    fo.nodes.resize(n_nodes);
    for (size_t i = 0; i < n_nodes; ++i) {
      if (mode_v[i] < 0 || mode_v[i] > 6)
        return ctx.Invalid("node {}: mode {} is not 0-6", i, mode_v[i]);
      Forest::TreeNode& nd = fo.nodes[i];
      nd.mode = static_cast<NodeMode>(static_cast<int>(mode_v[i]));
      nd.split = split[i];
      nd.feature = feature[i];
      nd.missing_true = !missing_true.empty() && missing_true[i] != 0;
      for (int side = 0; side < 2; ++side) {
        const int64_t id = side == 0 ? true_id[i] : false_id[i];
        const bool leaf = (side == 0 ? true_leaf[i] : false_leaf[i]) != 0;
        if (id < 0 || static_cast<size_t>(id) >= (leaf ? n_leaves : n_nodes))
          return ctx.Invalid("node {}: child id {} is out of range", i, id);
        nd.child[side] = leaf ? ~id : id;
      }
    }
    for (int64_t r : roots)
      if (r < 0 || static_cast<size_t>(r) >= n_nodes)
        return ctx.Invalid("tree root {} is out of range", r);
    fo.roots = roots;
    // Membership sets: the values of membership_values, NaN-separated, one set per MEMBER node.
    fo.sets.resize(n_nodes);
    if (const Tensor* mv = ctx.attr_tensor("membership_values")) {
      std::vector<double> vals;
      HONE_RETURN_IF_ERROR(TensorToDoubles(ctx.node(), *mv, vals));
      size_t at = 0;
      for (size_t i = 0; i < n_nodes; ++i) {
        if (fo.nodes[i].mode != NodeMode::kMember) continue;
        while (at < vals.size() && !std::isnan(vals[at])) fo.sets[i].insert(vals[at++]);
        ++at;  // the separator
      }
    }
    return fo.Validate(ctx);
  }

  Status Compute(ComputeContext& ctx) const override {
    std::vector<double> out;
    int64_t n = 0;
    HONE_RETURN_IF_ERROR(ScoreRows(ctx, forest_, out, n));
    const size_t nt = static_cast<size_t>(forest_.n_targets);
    for (int64_t row = 0; row < n; ++row)
      forest_.Transform(out.data() + row * forest_.n_targets, nt);
    const DataType dt = ctx.input(0)->dtype();
    Tensor& y = ctx.Output(0, dt, {n, forest_.n_targets});
    return VisitFloat(ctx.node(), dt, [&]<typename T>() {
      for (size_t i = 0; i < out.size(); ++i)
        y.data<T>()[i] = static_cast<T>(static_cast<Acc<T>>(out[i]));
      return Status::Ok();
    });
  }

 private:
  Forest forest_;
};

// ---- ai.onnx.ml 1 and 3: TreeEnsembleRegressor / TreeEnsembleClassifier -------------------------

StatusOr<NodeMode> LegacyMode(const InitContext& ctx, const std::string& m) {
  static const std::map<std::string, NodeMode> kModes = {
      {"BRANCH_LEQ", NodeMode::kLeq}, {"BRANCH_LT", NodeMode::kLt}, {"BRANCH_GTE", NodeMode::kGte},
      {"BRANCH_GT", NodeMode::kGt},   {"BRANCH_EQ", NodeMode::kEq}, {"BRANCH_NEQ", NodeMode::kNeq}};
  auto it = kModes.find(m);
  if (it == kModes.end()) return ctx.Invalid("unknown node mode '{}'", m);
  return it->second;
}

StatusOr<PostTransform> LegacyPost(const InitContext& ctx) {
  const std::string p = ctx.attr_string("post_transform", "NONE");
  if (p == "NONE") return PostTransform::kNone;
  if (p == "SOFTMAX") return PostTransform::kSoftmax;
  if (p == "LOGISTIC") return PostTransform::kLogistic;
  if (p == "SOFTMAX_ZERO") return PostTransform::kSoftmaxZero;
  if (p == "PROBIT") return PostTransform::kProbit;
  return ctx.Invalid("unknown post_transform '{}'", p);
}

// A float attribute list given as `name` (floats) or `name`_as_tensor (opset 3).
Status FloatsAttr(const InitContext& ctx, const std::string& name, std::vector<double>& out) {
  if (const Tensor* t = ctx.attr_tensor(name + "_as_tensor"))
    return TensorToDoubles(ctx.node(), *t, out);
  const std::vector<float> v = ctx.attr_floats(name);
  out.assign(v.begin(), v.end());
  return Status::Ok();
}

// Fills `fo` from the legacy layout; `prefix` is "target" (regressor) or "class" (classifier).
Status LoadLegacy(const InitContext& ctx, const std::string& prefix, Forest& fo) {
  const std::vector<int64_t> tree_ids = ctx.attr_ints("nodes_treeids");
  const std::vector<int64_t> node_ids = ctx.attr_ints("nodes_nodeids");
  const std::vector<int64_t> feature = ctx.attr_ints("nodes_featureids");
  const std::vector<int64_t> true_id = ctx.attr_ints("nodes_truenodeids");
  const std::vector<int64_t> false_id = ctx.attr_ints("nodes_falsenodeids");
  const std::vector<int64_t> missing_true = ctx.attr_ints("nodes_missing_value_tracks_true");
  const std::vector<std::string> modes = ctx.attr_strings("nodes_modes");
  std::vector<double> values;
  HONE_RETURN_IF_ERROR(FloatsAttr(ctx, "nodes_values", values));
  const size_t n = tree_ids.size();
  if (node_ids.size() != n || feature.size() != n || true_id.size() != n || false_id.size() != n ||
      modes.size() != n || (values.size() != n && !values.empty()))
    return ctx.Invalid("the nodes_* attributes must all have {} values", n);
  if (!missing_true.empty() && missing_true.size() != n)
    return ctx.Invalid("attribute nodes_missing_value_tracks_true must have {} values", n);
  // (tree, node id) -> compiled id: a node index, or ~leaf.
  std::map<std::pair<int64_t, int64_t>, int64_t> id;
  std::vector<bool> is_leaf(n);
  int64_t next_node = 0, next_leaf = 0;
  for (size_t i = 0; i < n; ++i) {
    is_leaf[i] = modes[i] == "LEAF";
    const int64_t c = is_leaf[i] ? ~next_leaf++ : next_node++;
    if (!id.emplace(std::make_pair(tree_ids[i], node_ids[i]), c).second)
      return ctx.Invalid("tree {} has node id {} twice", tree_ids[i], node_ids[i]);
  }
  fo.nodes.resize(static_cast<size_t>(next_node));
  std::map<int64_t, std::set<int64_t>> children;  // per tree: the node ids that are children
  for (size_t i = 0; i < n; ++i) {
    if (is_leaf[i]) continue;
    Forest::TreeNode& nd = fo.nodes[static_cast<size_t>(id[{tree_ids[i], node_ids[i]}])];
    HONE_ASSIGN_OR_RETURN(nd.mode, LegacyMode(ctx, modes[i]));
    nd.split = values.empty() ? 0.0 : values[i];
    nd.feature = feature[i];
    nd.missing_true = !missing_true.empty() && missing_true[i] != 0;
    for (int side = 0; side < 2; ++side) {
      const int64_t child = side == 0 ? true_id[i] : false_id[i];
      auto it = id.find({tree_ids[i], child});
      if (it == id.end())
        return ctx.Invalid("tree {} node {}: child node {} does not exist", tree_ids[i],
                           node_ids[i], child);
      nd.child[side] = it->second;
      children[tree_ids[i]].insert(child);
    }
  }
  // Roots: per tree (in order of first appearance), the node no other node points to.
  std::vector<int64_t> tree_order;
  std::set<int64_t> seen;
  for (int64_t t : tree_ids)
    if (seen.insert(t).second) tree_order.push_back(t);
  for (int64_t t : tree_order) {
    int64_t root = 0, found = 0;
    for (size_t i = 0; i < n; ++i)
      if (tree_ids[i] == t && children[t].count(node_ids[i]) == 0) {
        root = id[{t, node_ids[i]}];
        ++found;
      }
    if (found != 1) return ctx.Invalid("tree {} has {} root nodes, expected one", t, found);
    fo.roots.push_back(root);
  }
  // Leaf entries.
  const std::vector<int64_t> e_tree = ctx.attr_ints(prefix + "_treeids");
  const std::vector<int64_t> e_node = ctx.attr_ints(prefix + "_nodeids");
  const std::vector<int64_t> e_id = ctx.attr_ints(prefix + "_ids");
  std::vector<double> e_weight;
  HONE_RETURN_IF_ERROR(FloatsAttr(ctx, prefix + "_weights", e_weight));
  if (e_node.size() != e_tree.size() || e_id.size() != e_tree.size() ||
      e_weight.size() != e_tree.size())
    return ctx.Invalid("the {}_* attributes must all have {} values", prefix, e_tree.size());
  std::vector<std::vector<std::pair<int64_t, double>>> per_leaf(static_cast<size_t>(next_leaf));
  for (size_t e = 0; e < e_tree.size(); ++e) {
    auto it = id.find({e_tree[e], e_node[e]});
    if (it == id.end() || it->second >= 0)
      return ctx.Invalid("{} entry {}: tree {} node {} is not a leaf", prefix, e, e_tree[e],
                         e_node[e]);
    per_leaf[static_cast<size_t>(~it->second)].push_back({e_id[e], e_weight[e]});
  }
  for (const auto& leaf : per_leaf) {
    for (const auto& [t, w] : leaf) {
      fo.entry_target.push_back(t);
      fo.entry_weight.push_back(w);
    }
    fo.leaf_begin.push_back(fo.entry_target.size());
  }
  fo.sets.resize(fo.nodes.size());
  HONE_RETURN_IF_ERROR(FloatsAttr(ctx, "base_values", fo.base));
  HONE_ASSIGN_OR_RETURN(fo.post, LegacyPost(ctx));
  return Status::Ok();
}

class TreeEnsembleRegressor final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    forest_.n_targets = ctx.attr_int("n_targets", 1);
    if (forest_.n_targets <= 0)
      return ctx.Invalid("attribute n_targets must be positive, got {}", forest_.n_targets);
    const std::string agg = ctx.attr_string("aggregate_function", "SUM");
    if (agg == "SUM") {
      forest_.aggregate = Aggregate::kSum;
    } else if (agg == "AVERAGE") {
      forest_.aggregate = Aggregate::kAverage;
    } else if (agg == "MIN") {
      forest_.aggregate = Aggregate::kMin;
    } else if (agg == "MAX") {
      forest_.aggregate = Aggregate::kMax;
    } else {
      return ctx.Invalid("unknown aggregate_function '{}'", agg);
    }
    HONE_RETURN_IF_ERROR(LoadLegacy(ctx, "target", forest_));
    return forest_.Validate(ctx);
  }

  Status Compute(ComputeContext& ctx) const override {
    std::vector<double> out;
    int64_t n = 0;
    HONE_RETURN_IF_ERROR(ScoreRows(ctx, forest_, out, n));
    const size_t nt = static_cast<size_t>(forest_.n_targets);
    Tensor& y = ctx.Output(0, DataType::kFloat32, {n, forest_.n_targets});
    for (int64_t row = 0; row < n; ++row)
      forest_.Transform(out.data() + row * forest_.n_targets, nt);
    for (size_t i = 0; i < out.size(); ++i) y.data<float>()[i] = static_cast<float>(out[i]);
    return Status::Ok();
  }

 private:
  Forest forest_;
};

class TreeEnsembleClassifier final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    int_labels_ = ctx.attr_ints("classlabels_int64s");
    if (ctx.has_attr("classlabels_strings"))
      string_labels_ = ctx.attr_strings("classlabels_strings");
    const size_t c = std::max(int_labels_.size(), string_labels_.size());
    if (c == 0 || (!int_labels_.empty() && !string_labels_.empty()))
      return ctx.Invalid("exactly one of classlabels_int64s and classlabels_strings is needed");
    forest_.n_targets = static_cast<int64_t>(c);
    forest_.aggregate = Aggregate::kSum;
    HONE_RETURN_IF_ERROR(LoadLegacy(ctx, "class", forest_));
    // Two classes scored through one class id: ONNX Runtime's binary case.
    std::set<int64_t> ids(forest_.entry_target.begin(), forest_.entry_target.end());
    binary_ = c == 2 && ids.size() <= 1;
    if (binary_) {
      for (int64_t& t : forest_.entry_target) t = 0;  // the one score, class 1's
      // Two base values: class 1's counts (as in ONNX Runtime).
      if (forest_.base.size() > 1) forest_.base = {forest_.base.back()};
      forest_.n_targets = 1;
      for (double w : forest_.entry_weight) positive_ = positive_ && w >= 0;
    }
    return forest_.Validate(ctx);
  }

  Status Compute(ComputeContext& ctx) const override {
    std::vector<double> out;
    int64_t n = 0;
    HONE_RETURN_IF_ERROR(ScoreRows(ctx, forest_, out, n));
    const int64_t c = static_cast<int64_t>(std::max(int_labels_.size(), string_labels_.size()));
    const bool strings = !string_labels_.empty();
    Tensor& label = ctx.Output(0, strings ? DataType::kString : DataType::kInt64, {n});
    Tensor& scores = ctx.Output(1, DataType::kFloat32, {n, c});
    const size_t nt = static_cast<size_t>(forest_.n_targets);
    std::vector<double> acc(std::max<size_t>(nt, 2));
    for (int64_t row = 0; row < n; ++row) {
      std::copy_n(out.begin() + row * forest_.n_targets, nt, acc.begin());
      size_t best = 0;
      if (binary_) {
        const double s = acc[0];
        if (forest_.post == PostTransform::kLogistic) {
          const double p = 1.0 / (1.0 + std::exp(-s));
          acc[0] = 1 - p;
          acc[1] = p;
          best = p > 0.5 ? 1 : 0;
        } else {
          best = positive_ ? (s > 0.5 ? 1 : 0) : (s > 0 ? 1 : 0);
          acc[0] = positive_ ? 1 - s : -s;
          acc[1] = s;
          forest_.Transform(acc.data(), 2);
        }
      } else {
        best = static_cast<size_t>(std::max_element(acc.begin(), acc.begin() + c) - acc.begin());
        forest_.Transform(acc.data(), nt);
      }
      float* z = scores.data<float>() + row * c;
      for (int64_t k = 0; k < c; ++k) z[k] = static_cast<float>(acc[static_cast<size_t>(k)]);
      if (strings)
        label.data<std::string>()[row] = string_labels_[best];
      else
        label.data<int64_t>()[row] = int_labels_[best];
    }
    return Status::Ok();
  }

 private:
  Forest forest_;
  std::vector<int64_t> int_labels_;
  std::vector<std::string> string_labels_;
  bool binary_ = false;
  bool positive_ = true;  // every leaf weight >= 0 (binary case)
};

}  // namespace

std::unique_ptr<Kernel> CreateRefTreeEnsemble() { return std::make_unique<TreeEnsemble>(); }
std::unique_ptr<Kernel> CreateRefTreeEnsembleRegressor() {
  return std::make_unique<TreeEnsembleRegressor>();
}
std::unique_ptr<Kernel> CreateRefTreeEnsembleClassifier() {
  return std::make_unique<TreeEnsembleClassifier>();
}

}  // namespace hone::ref
