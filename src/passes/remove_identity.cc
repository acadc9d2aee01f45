#include "passes/remove_identity.h"

#include <set>

#include "passes/graph_util.h"

namespace hone {
namespace {

bool IsPassThrough(const Graph& g, const Node& n) {
  if (!n.domain.empty() || n.inputs.empty() || n.inputs[0].empty() || n.outputs.empty() ||
      n.outputs[0].empty())
    return false;
  if (n.op_type == "Identity") return n.inputs.size() == 1 && n.outputs.size() == 1;
  if (n.op_type != "Dropout") return false;
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) return false;  // the mask is read
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    // training_mode: only a constant false keeps the node an identity.
    const Tensor* t = g.constant(n.inputs[2]);
    if (!t || t->dtype() != DataType::kBool || t->numel() != 1 || t->data<bool>()[0]) return false;
  }
  return true;
}

}  // namespace

StatusOr<int> RemoveIdentityAndDropout(Graph& graph) {
  int removed = 0;
  std::vector<bool> dead(graph.nodes.size(), false);
  GraphIndex index(graph);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    if (!IsPassThrough(graph, n)) continue;
    const std::string out = n.outputs[0], in = n.inputs[0];
    if (index.is_graph_output(out)) continue;
    // Readers inside subgraphs name the value themselves; leave those alone.
    // (GraphIndex lists a node once per direct read and once more if its subgraphs read it.)
    size_t direct_reads = 0;
    std::set<int> readers;
    for (int c : index.consumers(out)) {
      if (!readers.insert(c).second) continue;
      for (const auto& x : graph.nodes[c].inputs) direct_reads += x == out ? 1 : 0;
    }
    if (direct_reads != index.consumers(out).size()) continue;
    RenameUses(graph, out, in);
    dead[i] = true;
    ++removed;
  }
  if (removed) EraseNodes(graph, dead);
  return removed;
}

}  // namespace hone
