#include "passes/fuse_hard_swish.h"

#include "passes/graph_util.h"
#include "passes/pattern_util.h"

namespace hone {
namespace {

// Clip(a) with bounds 0 and 6, given as attributes (opset < 11) or constant inputs.
bool IsRelu6(const Graph& g, const Node& n) {
  if (!IsOp(n, "Clip") || n.inputs.empty() || n.outputs.size() != 1) return false;
  float lo = -1, hi = -1;
  if (const Attribute* a = n.attr("min")) lo = a->f;
  if (const Attribute* a = n.attr("max")) hi = a->f;
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) lo = ConstantScalarF32(g, n.inputs[1]);
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) hi = ConstantScalarF32(g, n.inputs[2]);
  return lo == 0.f && hi == 6.f;
}

}  // namespace

StatusOr<int> FuseHardSwish(Graph& graph, int64_t onnx_opset) {
  GraphIndex index(graph);
  std::vector<bool> dead(graph.nodes.size(), false);
  int fused = 0;
  for (size_t ai = 0; ai < graph.nodes.size(); ++ai) {
    const Node& add = graph.nodes[ai];
    if (!IsOp(add, "Add") || add.inputs.size() != 2 || dead[ai]) continue;
    for (int k = 0; k < 2; ++k) {
      const std::string& x = add.inputs[static_cast<size_t>(k)];
      // Constants of rank <= 1 only: a higher-rank one would raise the result's rank.
      auto scalar = [&](const std::string& name) {
        const Tensor* t = graph.constant(name);
        return t && t->rank() <= 1;
      };
      const std::string& three = add.inputs[static_cast<size_t>(1 - k)];
      if (!scalar(three) || !IsConstantNear(graph, three, 3.0, 1e-6)) continue;
      const int ci = SoleReader(index, add.outputs[0]);
      if (ci < 0 || !IsRelu6(graph, graph.nodes[static_cast<size_t>(ci)])) continue;
      const Node& clip = graph.nodes[static_cast<size_t>(ci)];
      const int mi = SoleReader(index, clip.outputs[0]);
      if (mi < 0) continue;
      const Node& mul = graph.nodes[static_cast<size_t>(mi)];
      const std::string* other = OtherInput(mul, clip.outputs[0]);
      if (!IsOp(mul, "Mul") || !other || *other != x) continue;
      const int di = SoleReader(index, mul.outputs[0]);
      if (di < 0) continue;
      const Node& div = graph.nodes[static_cast<size_t>(di)];
      const bool by_div = IsOp(div, "Div") && div.inputs.size() == 2 &&
                          div.inputs[0] == mul.outputs[0] && scalar(div.inputs[1]) &&
                          IsConstantNear(graph, div.inputs[1], 6.0, 1e-6);
      const std::string* sixth = IsOp(div, "Mul") ? OtherInput(div, mul.outputs[0]) : nullptr;
      const bool by_mul = sixth && scalar(*sixth) && IsConstantNear(graph, *sixth, 1.0 / 6.0, 1e-6);
      if (!by_div && !by_mul) continue;
      Node hs;
      hs.name = div.name.empty() ? mul.name : div.name;
      hs.op_type = "HardSwish";
      hs.domain = onnx_opset >= 14 ? "" : kHoneDomain;
      hs.inputs = {x};
      hs.outputs = {div.outputs[0]};
      graph.nodes[static_cast<size_t>(di)] = std::move(hs);  // takes the last node's place
      dead[ai] = dead[static_cast<size_t>(ci)] = dead[static_cast<size_t>(mi)] = true;
      ++fused;
      break;
    }
  }
  if (fused) EraseNodes(graph, dead);
  return fused;
}

}  // namespace hone
