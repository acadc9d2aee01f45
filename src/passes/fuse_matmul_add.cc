#include "passes/fuse_matmul_add.h"

#include "passes/graph_util.h"
#include "passes/pattern_util.h"

namespace hone {

StatusOr<int> FuseMatMulAdd(Graph& graph, bool allow_hone_ops) {
  GraphIndex index(graph);
  std::vector<bool> dead(graph.nodes.size(), false);
  int fused = 0;
  for (size_t mi = 0; mi < graph.nodes.size(); ++mi) {
    Node& mm = graph.nodes[mi];
    if (!IsOp(mm, "MatMul") || mm.inputs.size() != 2 || mm.outputs.size() != 1) continue;
    const Tensor* w = ConstantF32(graph, mm.inputs[1]);
    if (!w || w->rank() != 2) continue;
    const int ai = SoleReader(index, mm.outputs[0]);
    if (ai < 0) continue;
    const Node& add = graph.nodes[static_cast<size_t>(ai)];
    const std::string* bias = IsOp(add, "Add") ? OtherInput(add, mm.outputs[0]) : nullptr;
    if (!bias) continue;
    const Tensor* b = ConstantF32(graph, *bias);
    if (!b || b->numel() != w->dim(1) || b->rank() > 2 || (b->rank() == 2 && b->dim(0) != 1))
      continue;
    const ValueInfo* a = FindValueInfo(graph, mm.inputs[0]);
    const bool rank2 = a && a->has_shape && a->shape.size() == 2;
    // Unknown rank (after a dynamic Reshape) is fine for com.hone MatMul, which serves any rank.
    const bool higher = !rank2;
    // A [1, N] bias on a 1-D A gives [1, N], which com.hone MatMul would return as [N].
    const bool a_rank_known_2plus = a && a->has_shape && a->shape.size() >= 2;
    if (!rank2 && b->rank() == 2 && !a_rank_known_2plus) continue;
    if (rank2) {
      mm.op_type = "Gemm";  // alpha = beta = 1, no transposes: A @ W + bias
    } else if (higher && allow_hone_ops) {
      mm.domain = kHoneDomain;
    } else {
      continue;
    }
    mm.inputs.push_back(*bias);
    graph.value_info.erase(mm.outputs[0]);
    mm.outputs[0] = add.outputs[0];
    mm.name += "+Add";
    dead[static_cast<size_t>(ai)] = true;
    ++fused;
  }
  if (fused) EraseNodes(graph, dead);
  return fused;
}

}  // namespace hone
