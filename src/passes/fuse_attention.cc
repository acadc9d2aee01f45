#include "passes/fuse_attention.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/errors.h"
#include "passes/graph_util.h"
#include "passes/pattern_util.h"

namespace hone {
namespace {

// The rank of `v` when the graph fixes it, else -1: declared, an initializer's, or carried by
// the ops between (a Transpose's perm, a Reshape to a constant shape, the larger operand rank of
// a broadcasting binary op or MatMul of rank >= 2 operands).
int64_t KnownRank(const Graph& g, const GraphIndex& index, const std::string& v, int depth) {
  if (const ValueInfo* info = FindValueInfo(g, v); info && info->has_shape)
    return static_cast<int64_t>(info->shape.size());
  if (auto it = g.initializers.find(v); it != g.initializers.end()) return it->second.rank();
  const int p = index.producer(v);
  constexpr int kMaxDepth = 16;
  if (p < 0 || depth >= kMaxDepth) return -1;
  const Node& n = g.nodes[static_cast<size_t>(p)];
  if (IsOp(n, "Transpose")) {
    const Attribute* perm = n.attr("perm");
    return perm ? static_cast<int64_t>(perm->ints.size()) : -1;
  }
  if (IsOp(n, "Reshape") && n.inputs.size() >= 2) {
    const Tensor* shape = g.constant(n.inputs[1]);
    return shape && shape->rank() == 1 ? shape->numel() : -1;
  }
  const bool binary = IsOp(n, "Add") || IsOp(n, "Sub") || IsOp(n, "Mul") || IsOp(n, "Div");
  if ((binary || IsOp(n, "MatMul")) && n.inputs.size() == 2) {
    const int64_t a = KnownRank(g, index, n.inputs[0], depth + 1);
    const int64_t b = KnownRank(g, index, n.inputs[1], depth + 1);
    if (a < 0 || b < 0 || (!binary && (a < 2 || b < 2))) return -1;
    return std::max(a, b);
  }
  return -1;
}

// A constant float32 factor of rank 0 or 1 with one element (it broadcasts against a rank >= 2
// operand without changing its shape); NaN otherwise.
float ScalarFactor(const Graph& g, const std::string& name) {
  const Tensor* t = ConstantF32(g, name);
  return t && t->rank() <= 1 && t->numel() == 1 ? t->data<float>()[0] : std::nanf("");
}

// When `v` is x * c, c * x or x / c for a scalar factor c, read only by node `reader`: returns
// the producer's index and sets x and the factor (1 / c for a Div); else -1.
int ScaledBy(const Graph& g, const GraphIndex& index, const std::string& v, int reader,
             std::string& x, double& factor) {
  if (!index.only_read_by(v, reader)) return -1;
  const int p = index.producer(v);
  if (p < 0) return -1;
  const Node& n = g.nodes[static_cast<size_t>(p)];
  if (n.inputs.size() != 2 || n.outputs.size() != 1) return -1;
  if (IsOp(n, "Mul")) {
    for (int i = 0; i < 2; ++i) {
      const float c = ScalarFactor(g, n.inputs[static_cast<size_t>(i)]);
      if (std::isfinite(c) && c != 0.0f) {
        x = n.inputs[static_cast<size_t>(1 - i)];
        factor = c;
        return p;
      }
    }
    return -1;
  }
  if (IsOp(n, "Div")) {
    const float c = ScalarFactor(g, n.inputs[1]);
    if (!std::isfinite(c) || c == 0.0f) return -1;
    x = n.inputs[0];
    factor = 1.0 / static_cast<double>(c);
    return p;
  }
  return -1;
}

// True when the Softmax normalises over the last axis of its input.
bool IsLastAxisSoftmax(const Graph& g, const GraphIndex& index, const Node& n, int64_t opset) {
  if (!IsOp(n, "Softmax") || n.inputs.size() != 1 || n.outputs.size() != 1) return false;
  const int64_t axis = n.attr("axis") ? n.attr("axis")->i : (opset >= 13 ? -1 : 1);
  if (axis == -1) return true;
  return axis >= 0 && KnownRank(g, index, n.inputs[0], 0) == axis + 1;
}

struct Match {
  std::vector<int> dead;  // matched nodes the fused node replaces (not the final MatMul)
  int final_matmul = -1;
  std::string q, k, v, mask;
  double scale = 1.0;
  // When >= 0, this Transpose node is rewritten to produce K (perm `k_perm`, output `k`).
  int rewrite_transpose = -1;
  std::vector<int64_t> k_perm;
};

// Finds K = Transpose(x, perm) given the scores' right operand kt = Transpose(x, p): returns
// false when that would cost a transpose the graph did not already do.
bool FindK(const Graph& g, const GraphIndex& index, const std::string& kt, int kt_reader,
           Match& m) {
  const int t = index.producer(kt);
  if (t < 0) return false;
  const Node& tr = g.nodes[static_cast<size_t>(t)];
  const Attribute* perm = tr.attr("perm");
  if (!IsOp(tr, "Transpose") || tr.inputs.size() != 1 || !perm || perm->ints.size() < 2)
    return false;
  std::vector<int64_t> want = perm->ints;
  std::swap(want[want.size() - 1], want[want.size() - 2]);
  const bool kt_dies = index.only_read_by(kt, kt_reader);
  std::vector<int64_t> identity(want.size());
  std::iota(identity.begin(), identity.end(), int64_t{0});
  if (want == identity) {
    m.k = tr.inputs[0];
    if (kt_dies) m.dead.push_back(t);
    return true;
  }
  for (int c : index.consumers(tr.inputs[0])) {
    const Node& other = g.nodes[static_cast<size_t>(c)];
    const Attribute* p = other.attr("perm");
    if (c != t && IsOp(other, "Transpose") && other.inputs.size() == 1 && p && p->ints == want &&
        other.outputs.size() == 1) {
      m.k = other.outputs[0];
      if (kt_dies) m.dead.push_back(t);
      return true;
    }
  }
  if (!kt_dies) return false;
  m.k = FreshName(g, tr.outputs[0] + "_k");
  m.rewrite_transpose = t;
  m.k_perm = want;
  return true;
}

bool MatchAt(const Graph& g, const GraphIndex& index, int softmax, int64_t opset, Match& m) {
  const Node& sm = g.nodes[static_cast<size_t>(softmax)];
  if (!IsLastAxisSoftmax(g, index, sm, opset)) return false;
  const ValueInfo* scores_info = FindValueInfo(g, sm.inputs[0]);
  if (!scores_info || scores_info->dtype != DataType::kFloat32) return false;
  // The probabilities feed the left operand of one MatMul.
  const std::string& probs = sm.outputs[0];
  const int pv = SoleReader(index, probs);
  if (pv < 0) return false;
  const Node& pv_node = g.nodes[static_cast<size_t>(pv)];
  if (!IsOp(pv_node, "MatMul") || pv_node.inputs.size() != 2 || pv_node.inputs[0] != probs ||
      pv_node.inputs[1] == probs || pv_node.outputs.size() != 1)
    return false;
  m.v = pv_node.inputs[1];
  m.final_matmul = pv;
  m.dead = {softmax};
  // Softmax input: the scaled scores, plus the mask when it is an Add.
  std::string scores = sm.inputs[0];
  int reader = softmax;
  if (!index.only_read_by(scores, softmax)) return false;
  const int add = index.producer(scores);
  if (add >= 0 && IsOp(g.nodes[static_cast<size_t>(add)], "Add")) {
    const Node& a = g.nodes[static_cast<size_t>(add)];
    if (a.inputs.size() != 2 || a.inputs[0] == a.inputs[1]) return false;
    // The scores are the operand that a (scaled) MatMul produces; the other is the mask.
    int side = -1;
    for (int i = 0; i < 2 && side < 0; ++i) {
      std::string s = a.inputs[static_cast<size_t>(i)];
      int r = add;
      std::string x;
      double f = 1.0;
      for (int hop; (hop = ScaledBy(g, index, s, r, x, f)) >= 0; s = x) r = hop;
      const int mm = index.producer(s);
      if (mm >= 0 && IsOp(g.nodes[static_cast<size_t>(mm)], "MatMul") && index.only_read_by(s, r))
        side = i;
    }
    if (side < 0) return false;
    m.mask = a.inputs[static_cast<size_t>(1 - side)];
    scores = a.inputs[static_cast<size_t>(side)];
    reader = add;
    m.dead.push_back(add);
  }
  // Scalar factors between the MatMul and the Add (or Softmax).
  for (int hop;;) {
    std::string x;
    double f = 1.0;
    if ((hop = ScaledBy(g, index, scores, reader, x, f)) < 0) break;
    m.scale *= f;
    m.dead.push_back(hop);
    scores = x;
    reader = hop;
  }
  const int qk = index.producer(scores);
  if (qk < 0 || !index.only_read_by(scores, reader)) return false;
  const Node& qk_node = g.nodes[static_cast<size_t>(qk)];
  if (!IsOp(qk_node, "MatMul") || qk_node.inputs.size() != 2 || qk_node.outputs.size() != 1)
    return false;
  m.dead.push_back(qk);
  // Q' = Q * c or Q / c folds its factor when only the scores read it; the same for K^T.
  m.q = qk_node.inputs[0];
  std::string x;
  double f = 1.0;
  if (const int h = ScaledBy(g, index, m.q, qk, x, f); h >= 0) {
    m.scale *= f;
    m.dead.push_back(h);
    m.q = x;
  }
  std::string kt = qk_node.inputs[1];
  int kt_reader = qk;
  if (const int h = ScaledBy(g, index, kt, qk, x, f); h >= 0) {
    m.scale *= f;
    m.dead.push_back(h);
    kt = x;
    kt_reader = h;
  }
  if (!std::isfinite(m.scale) || m.scale == 0.0) return false;
  if (m.q == kt || m.v == probs) return false;
  if (KnownRank(g, index, m.q, 0) < 2 || KnownRank(g, index, m.v, 0) < 2) return false;
  return FindK(g, index, kt, kt_reader, m);
}

}  // namespace

StatusOr<int> FuseAttention(Graph& graph, int64_t onnx_opset) {
  int fused = 0;
  std::vector<bool> dead(graph.nodes.size(), false);
  std::vector<bool> used(graph.nodes.size(), false);  // inside an earlier match
  const GraphIndex index(graph);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    Match m;
    if (used[i] || !MatchAt(graph, index, static_cast<int>(i), onnx_opset, m)) continue;
    std::vector<int> all = m.dead;
    all.push_back(m.final_matmul);
    if (m.rewrite_transpose >= 0) all.push_back(m.rewrite_transpose);
    if (std::any_of(all.begin(), all.end(), [&](int n) { return used[static_cast<size_t>(n)]; }))
      continue;
    for (int n : all) used[static_cast<size_t>(n)] = true;
    if (m.rewrite_transpose >= 0) {
      Node& t = graph.nodes[static_cast<size_t>(m.rewrite_transpose)];
      graph.value_info.erase(t.outputs[0]);
      t.outputs[0] = m.k;
      t.attributes["perm"].ints = m.k_perm;
    }
    RetireNodes(graph, m.dead, -1, dead);
    Node& last = graph.nodes[static_cast<size_t>(m.final_matmul)];
    Node att;
    att.name = last.name;
    att.op_type = "Attention";
    att.domain = kHoneDomain;
    att.inputs = {m.q, m.k, m.v};
    if (!m.mask.empty()) att.inputs.push_back(m.mask);
    att.outputs = last.outputs;
    Attribute scale;
    scale.kind = Attribute::Kind::kFloat;
    scale.f = static_cast<float>(m.scale);
    att.attributes["scale"] = scale;
    last = std::move(att);
    ++fused;
  }
  if (fused) {
    EraseNodes(graph, dead);
    // A reused Transpose of K may sit after the fused node in the list.
    if (!TopoSort(graph)) return Internal("the attention fusion produced an unordered graph");
  }
  return fused;
}

}  // namespace hone
