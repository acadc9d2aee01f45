#include "passes/fold_constants.h"

#include <set>

#include "passes/graph_util.h"

namespace hone {
namespace {

bool Foldable(const Graph& g, const Node& n) {
  static const std::set<std::string> kNever = {
      "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
      "Multinomial",  "Bernoulli",     "Constant"};
  if (n.domain != "" && n.domain != "ai.onnx.ml") return false;  // hone's own ops: no reference
  if (kNever.count(n.op_type) || n.inputs.empty()) return false;
  for (const auto& [k, a] : n.attributes)
    if (a.g || !a.graphs.empty()) return false;
  bool any = false;
  for (const auto& i : n.inputs) {
    if (i.empty()) continue;
    if (!g.constant(i)) return false;
    any = true;
  }
  if (!any) return false;
  for (const auto& o : n.outputs)
    if (o.empty() || g.initializers.count(o)) return false;
  return true;
}

}  // namespace

StatusOr<int> FoldConstants(Graph& graph, const std::map<std::string, int64_t>& opsets,
                            const NodeEvaluator& evaluate) {
  if (!TopoSort(graph)) return 0;  // the planner reports the cycle
  std::vector<bool> dead(graph.nodes.size(), false);
  int folded = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    if (!Foldable(graph, n)) continue;
    std::vector<const Tensor*> inputs;
    size_t in_bytes = 0;
    for (const auto& name : n.inputs) {
      const Tensor* t = name.empty() ? nullptr : graph.constant(name);
      inputs.push_back(t);
      if (t) in_bytes += t->nbytes();
    }
    auto out = evaluate(n, opsets, inputs);
    if (!out.ok() || out->size() != n.outputs.size()) continue;  // the kernel reports it at run
    size_t out_bytes = 0;
    for (const auto& t : *out) out_bytes += t.nbytes();
    // Keep the model small: a result much larger than its inputs is cheaper to compute per run.
    if (out_bytes > std::max<size_t>(size_t{64} << 10, 2 * in_bytes)) continue;
    for (size_t k = 0; k < n.outputs.size(); ++k) graph.initializers[n.outputs[k]] = (*out)[k];
    dead[i] = true;
    ++folded;
  }
  if (folded) EraseNodes(graph, dead);
  return folded;
}

}  // namespace hone
