// Matchers shared by the fusion passes (fuse_layer_norm.cc, fuse_gelu.cc): single readers,
// constant scalars, the other operand of a binary node, declared dims; and their driver.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/graph_util.h"

namespace hone {

// The index of the only node reading `value` when it has exactly one reader (a node reading it
// twice counts once) and is not a graph output; else -1.
inline int SoleReader(const GraphIndex& index, const std::string& value) {
  if (index.is_graph_output(value)) return -1;
  const std::vector<int>& c = index.consumers(value);
  if (c.empty()) return -1;
  for (int r : c)
    if (r != c[0]) return -1;
  return c[0];
}

// True for an ai.onnx node of type `op`.
inline bool IsOp(const Node& n, const char* op) { return n.domain.empty() && n.op_type == op; }

// The input of a two-input node that is not `v`; nullptr unless exactly one input is `v`.
inline const std::string* OtherInput(const Node& n, const std::string& v) {
  if (n.inputs.size() != 2) return nullptr;
  if (n.inputs[0] == v && n.inputs[1] != v) return &n.inputs[1];
  if (n.inputs[1] == v && n.inputs[0] != v) return &n.inputs[0];
  return nullptr;
}

// The value of a constant float32 initializer with one element (any rank), or NaN.
inline float ConstantScalarF32(const Graph& g, const std::string& name) {
  const Tensor* t = ConstantF32(g, name);
  return t && t->numel() == 1 ? t->data<float>()[0] : std::nanf("");
}

// True when `name` is a constant float32 scalar within `rel_tol` of `want`.
inline bool IsConstantNear(const Graph& g, const std::string& name, double want, double rel_tol) {
  const float v = ConstantScalarF32(g, name);
  return std::fabs(static_cast<double>(v) - want) <= rel_tol * std::fabs(want);
}

// The declared info of a value (intermediate, graph input or output), or nullptr.
inline const ValueInfo* FindValueInfo(const Graph& g, const std::string& name) {
  auto it = g.value_info.find(name);
  if (it != g.value_info.end()) return &it->second;
  for (const auto& v : g.inputs)
    if (v.name == name) return &v;
  for (const auto& v : g.outputs)
    if (v.name == name) return &v;
  return nullptr;
}

// The declared size of the last dim of `name`, or -1 when unknown.
inline int64_t DeclaredLastDim(const Graph& g, const std::string& name) {
  const ValueInfo* v = FindValueInfo(g, name);
  if (!v || !v->has_shape || v->shape.empty()) return -1;
  return v->shape.back().value;
}

// The driver of a fusion pass whose matches end at the node they replace: for each node i,
// match(index, i, m) fills m (an M with `nodes`, every matched node, the replaced one last);
// a match none of whose nodes an earlier one took is replaced by build(m, last node), the other
// matched nodes are erased. Returns how many matches were fused.
template <typename M, typename MatchFn, typename BuildFn>
int ReplaceMatches(Graph& graph, MatchFn match, BuildFn build) {
  int fused = 0;
  std::vector<bool> dead(graph.nodes.size(), false);
  const GraphIndex index(graph);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    M m;
    if (dead[i] || !match(index, static_cast<int>(i), m)) continue;
    if (std::any_of(m.nodes.begin(), m.nodes.end(),
                    [&](int n) { return dead[static_cast<size_t>(n)]; }))
      continue;
    const int last = m.nodes.back();
    Node fused_node = build(m, graph.nodes[static_cast<size_t>(last)]);
    RetireNodes(graph, m.nodes, last, dead);
    graph.nodes[static_cast<size_t>(last)] = std::move(fused_node);
    ++fused;
  }
  if (fused) EraseNodes(graph, dead);
  return fused;
}

}  // namespace hone
