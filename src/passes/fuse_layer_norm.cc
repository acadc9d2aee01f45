#include "passes/fuse_layer_norm.h"

#include <algorithm>
#include <vector>

#include "passes/graph_util.h"
#include "passes/pattern_util.h"

namespace hone {
namespace {

// True for a ReduceMean over the last axis only that keeps dims.
bool IsLastAxisMean(const Graph& g, const Node& n) {
  if (!IsOp(n, "ReduceMean") || n.inputs.empty() || n.outputs.size() != 1) return false;
  if (const Attribute* k = n.attr("keepdims"); k && k->i == 0) return false;
  std::vector<int64_t> axes;
  if (const Attribute* a = n.attr("axes")) {
    axes = a->ints;
  } else if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
    const Tensor* t = g.constant(n.inputs[1]);
    if (!t || t->dtype() != DataType::kInt64) return false;
    axes.assign(t->data<int64_t>(), t->data<int64_t>() + t->numel());
  }
  if (axes.size() != 1) return false;
  if (axes[0] == -1) return true;
  const ValueInfo* info = FindValueInfo(g, n.inputs[0]);
  return info && info->has_shape && axes[0] == static_cast<int64_t>(info->shape.size()) - 1;
}

// The size of the last dim of `v` when the graph fixes it, else -1: declared, or carried through
// the ops that keep it (broadcasting binary ops take their operands' size above 1; a MatMul by a
// constant matrix its column count; a LayerNormalization its input's).
int64_t LastDim(const Graph& g, const GraphIndex& index, const std::string& v, int depth) {
  if (const int64_t d = DeclaredLastDim(g, v); d >= 0) return d;
  if (auto it = g.initializers.find(v); it != g.initializers.end())
    return it->second.rank() > 0 ? it->second.shape().back() : -1;
  const int p = index.producer(v);
  constexpr int kMaxDepth = 16;
  if (p < 0 || depth >= kMaxDepth) return -1;
  const Node& n = g.nodes[static_cast<size_t>(p)];
  if ((IsOp(n, "Add") || IsOp(n, "Sub") || IsOp(n, "Mul") || IsOp(n, "Div")) &&
      n.inputs.size() == 2) {
    const int64_t a = LastDim(g, index, n.inputs[0], depth + 1);
    if (a > 1) return a;
    const int64_t b = LastDim(g, index, n.inputs[1], depth + 1);
    if (b > 1) return b;
    return a == 1 && b == 1 ? 1 : -1;
  }
  if (IsOp(n, "MatMul") && n.inputs.size() == 2) {
    const Tensor* w = g.constant(n.inputs[1]);
    return w && w->rank() >= 2 ? w->shape().back() : -1;
  }
  if (n.op_type == "LayerNormalization" && !n.inputs.empty())
    return LastDim(g, index, n.inputs[0], depth + 1);
  return -1;
}

// Pow(d, 2) or Mul(d, d).
bool IsSquareOf(const Graph& g, const Node& n, const std::string& d) {
  if (IsOp(n, "Pow"))
    return n.inputs.size() == 2 && n.inputs[0] == d && ConstantScalarF32(g, n.inputs[1]) == 2.0f;
  return IsOp(n, "Mul") && n.inputs.size() == 2 && n.inputs[0] == d && n.inputs[1] == d;
}

// A 1-D float32 constant of `n` elements.
bool IsParam(const Graph& g, const std::string& name, int64_t n) {
  const Tensor* t = ConstantF32(g, name);
  return t && t->rank() == 1 && t->dim(0) == n;
}

struct Match {
  std::vector<int> nodes;  // every matched node; the last one is replaced by the fused node
  std::string x, gamma, beta, y;
  float eps = 0;
};

bool MatchAt(const Graph& g, const GraphIndex& index, int mean_idx, Match& m) {
  const Node& mean = g.nodes[static_cast<size_t>(mean_idx)];
  if (!IsLastAxisMean(g, mean) || index.is_graph_output(mean.outputs[0])) return false;
  m.x = mean.inputs[0];
  const int64_t h = LastDim(g, index, m.x, 0);
  if (h <= 0) return false;
  // x - mean, once or twice.
  std::vector<int> subs;
  for (int c : index.consumers(mean.outputs[0])) {
    const Node& s = g.nodes[static_cast<size_t>(c)];
    if (!IsOp(s, "Sub") || s.inputs.size() != 2 || s.inputs[0] != m.x ||
        s.inputs[1] != mean.outputs[0] || s.outputs.size() != 1)
      return false;
    if (std::find(subs.begin(), subs.end(), c) == subs.end()) subs.push_back(c);
  }
  if (subs.empty() || subs.size() > 2) return false;
  // Each Sub feeds the square, the numerator, or (a single Sub) both.
  int sq = -1, div = -1;
  for (int s : subs) {
    const std::string& d = g.nodes[static_cast<size_t>(s)].outputs[0];
    if (index.is_graph_output(d)) return false;
    std::vector<int> readers = index.consumers(d);
    std::sort(readers.begin(), readers.end());
    readers.erase(std::unique(readers.begin(), readers.end()), readers.end());
    for (int r : readers) {
      const Node& n = g.nodes[static_cast<size_t>(r)];
      if (sq < 0 && IsSquareOf(g, n, d)) {
        sq = r;
      } else if (div < 0 && IsOp(n, "Div") && n.inputs.size() == 2 && n.inputs[0] == d) {
        div = r;
      } else {
        return false;
      }
    }
  }
  if (sq < 0 || div < 0) return false;
  const Node& sq_node = g.nodes[static_cast<size_t>(sq)];
  const int var = SoleReader(index, sq_node.outputs[0]);
  if (var < 0 || !IsLastAxisMean(g, g.nodes[static_cast<size_t>(var)])) return false;
  const Node& var_node = g.nodes[static_cast<size_t>(var)];
  if (var_node.inputs[0] != sq_node.outputs[0]) return false;
  const int add_eps = SoleReader(index, var_node.outputs[0]);
  if (add_eps < 0 || !IsOp(g.nodes[static_cast<size_t>(add_eps)], "Add")) return false;
  const Node& add_eps_node = g.nodes[static_cast<size_t>(add_eps)];
  const std::string* eps = OtherInput(add_eps_node, var_node.outputs[0]);
  if (!eps) return false;
  m.eps = ConstantScalarF32(g, *eps);
  if (!(m.eps >= 0.0f)) return false;  // NaN: not a constant scalar
  const int sqrt = SoleReader(index, add_eps_node.outputs[0]);
  if (sqrt < 0 || !IsOp(g.nodes[static_cast<size_t>(sqrt)], "Sqrt")) return false;
  const std::string& root = g.nodes[static_cast<size_t>(sqrt)].outputs[0];
  if (SoleReader(index, root) != div || g.nodes[static_cast<size_t>(div)].inputs[1] != root)
    return false;
  const std::string& normed = g.nodes[static_cast<size_t>(div)].outputs[0];
  const int mul = SoleReader(index, normed);
  if (mul < 0 || !IsOp(g.nodes[static_cast<size_t>(mul)], "Mul")) return false;
  const std::string* gamma = OtherInput(g.nodes[static_cast<size_t>(mul)], normed);
  if (!gamma || !IsParam(g, *gamma, h)) return false;
  m.gamma = *gamma;
  m.nodes = subs;
  m.nodes.insert(m.nodes.begin(), mean_idx);
  for (int n : {sq, var, add_eps, sqrt, div, mul}) m.nodes.push_back(n);
  m.y = g.nodes[static_cast<size_t>(mul)].outputs[0];
  m.beta.clear();
  const int add_b = SoleReader(index, m.y);
  if (add_b >= 0 && IsOp(g.nodes[static_cast<size_t>(add_b)], "Add")) {
    const std::string* beta = OtherInput(g.nodes[static_cast<size_t>(add_b)], m.y);
    if (beta && IsParam(g, *beta, h)) {
      m.beta = *beta;
      m.nodes.push_back(add_b);
      m.y = g.nodes[static_cast<size_t>(add_b)].outputs[0];
    }
  }
  return true;
}

}  // namespace

StatusOr<int> FuseLayerNorm(Graph& graph, int64_t onnx_opset) {
  return ReplaceMatches<Match>(
      graph, [&](const GraphIndex& index, int i, Match& m) { return MatchAt(graph, index, i, m); },
      [&](const Match& m, const Node& last) {
        Node ln;
        ln.name = last.name;
        ln.op_type = "LayerNormalization";
        ln.domain = onnx_opset >= 17 ? "" : kHoneDomain;
        ln.inputs = {m.x, m.gamma};
        if (!m.beta.empty()) ln.inputs.push_back(m.beta);
        ln.outputs = {m.y};
        Attribute axis;
        axis.kind = Attribute::Kind::kInt;
        axis.i = -1;
        ln.attributes["axis"] = axis;
        Attribute eps;
        eps.kind = Attribute::Kind::kFloat;
        eps.f = m.eps;
        ln.attributes["epsilon"] = eps;
        return ln;
      });
}

}  // namespace hone
