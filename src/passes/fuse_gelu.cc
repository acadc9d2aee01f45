#include "passes/fuse_gelu.h"

#include <algorithm>
#include <vector>

#include "passes/graph_util.h"
#include "passes/pattern_util.h"

namespace hone {
namespace {

// Exporters store the constants as float32; allow for their rounding only.
constexpr double kTol = 1e-6;
constexpr double kSqrt2 = 1.4142135623730951;

struct Match {
  std::vector<int> nodes;  // every matched node; the last one is replaced by the fused node
  std::string x, y;
};

// True for a Mul of `v` and a constant scalar near `c`.
bool IsMulByConstant(const Graph& g, const Node& n, const std::string& v, double c) {
  if (!IsOp(n, "Mul")) return false;
  const std::string* other = OtherInput(n, v);
  return other && IsConstantNear(g, *other, c, kTol);
}

bool MatchAt(const Graph& g, const GraphIndex& index, int erf_idx, Match& m) {
  const Node& erf = g.nodes[static_cast<size_t>(erf_idx)];
  if (!IsOp(erf, "Erf") || erf.inputs.size() != 1 || erf.outputs.size() != 1) return false;
  // u = x / sqrt(2) or x * (1 / sqrt(2)).
  const int scale = index.producer(erf.inputs[0]);
  if (scale < 0 || SoleReader(index, erf.inputs[0]) != erf_idx) return false;
  const Node& s = g.nodes[static_cast<size_t>(scale)];
  if (IsOp(s, "Div") && s.inputs.size() == 2 && IsConstantNear(g, s.inputs[1], kSqrt2, kTol)) {
    m.x = s.inputs[0];
  } else if (IsOp(s, "Mul") && s.inputs.size() == 2) {
    if (IsConstantNear(g, s.inputs[1], 1.0 / kSqrt2, kTol)) {
      m.x = s.inputs[0];
    } else if (IsConstantNear(g, s.inputs[0], 1.0 / kSqrt2, kTol)) {
      m.x = s.inputs[1];
    } else {
      return false;
    }
  } else {
    return false;
  }
  // a = 1 + erf(u).
  const int add = SoleReader(index, erf.outputs[0]);
  if (add < 0 || !IsOp(g.nodes[static_cast<size_t>(add)], "Add")) return false;
  const Node& add_node = g.nodes[static_cast<size_t>(add)];
  const std::string* one = OtherInput(add_node, erf.outputs[0]);
  if (!one || !IsConstantNear(g, *one, 1.0, kTol)) return false;
  const std::string& a = add_node.outputs[0];
  // Then x and 0.5, in one of three orders.
  const int m1 = SoleReader(index, a);
  if (m1 < 0 || !IsOp(g.nodes[static_cast<size_t>(m1)], "Mul")) return false;
  const Node& m1_node = g.nodes[static_cast<size_t>(m1)];
  const std::string* other = OtherInput(m1_node, a);
  if (!other) return false;
  m.nodes = {scale, erf_idx, add, m1};
  if (*other == m.x || IsConstantNear(g, *other, 0.5, kTol)) {
    // (x * a) * 0.5, or x * (a * 0.5).
    const int m2 = SoleReader(index, m1_node.outputs[0]);
    if (m2 < 0) return false;
    const Node& m2_node = g.nodes[static_cast<size_t>(m2)];
    if (*other == m.x) {
      if (!IsMulByConstant(g, m2_node, m1_node.outputs[0], 0.5)) return false;
    } else {
      const std::string* x = OtherInput(m2_node, m1_node.outputs[0]);
      if (!IsOp(m2_node, "Mul") || !x || *x != m.x) return false;
    }
    m.nodes.push_back(m2);
    m.y = m2_node.outputs[0];
    return true;
  }
  // (x * 0.5) * a.
  const int m0 = index.producer(*other);
  if (m0 < 0 || SoleReader(index, *other) != m1) return false;
  if (!IsMulByConstant(g, g.nodes[static_cast<size_t>(m0)], m.x, 0.5)) return false;
  m.nodes.insert(m.nodes.end() - 1, m0);
  m.y = m1_node.outputs[0];
  return true;
}

}  // namespace

StatusOr<int> FuseGelu(Graph& graph, int64_t onnx_opset) {
  return ReplaceMatches<Match>(
      graph, [&](const GraphIndex& index, int i, Match& m) { return MatchAt(graph, index, i, m); },
      [&](const Match& m, const Node& last) {
        Node gelu;
        gelu.name = last.name;
        gelu.op_type = "Gelu";
        gelu.domain = onnx_opset >= 20 ? "" : kHoneDomain;
        gelu.inputs = {m.x};
        gelu.outputs = {m.y};
        return gelu;
      });
}

}  // namespace hone
