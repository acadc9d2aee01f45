#include "runtime/evaluate.h"

#include "core/thread_pool.h"
#include "runtime/plan.h"

namespace hone {

NodeEvaluator ReferenceEvaluator() {
  return [](const Node& node, const std::map<std::string, int64_t>& opsets,
            const std::vector<const Tensor*>& inputs) -> StatusOr<std::vector<Tensor>> {
    // A one-node graph whose inputs are the constants, compiled and run like any other.
    Graph g;
    g.name = "fold";
    Node n = node;
    std::vector<Value> feed;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i]) continue;
      ValueInfo vi;
      vi.name = n.inputs[i];
      vi.dtype = inputs[i]->dtype();
      g.inputs.push_back(vi);
      feed.emplace_back(*inputs[i]);
    }
    for (const auto& o : n.outputs) {
      ValueInfo vi;
      vi.name = o;
      g.outputs.push_back(vi);
    }
    g.nodes.push_back(std::move(n));
    CompileOptions options;
    options.opsets = &opsets;
    options.fast_kernels = false;
    HONE_ASSIGN_OR_RETURN(auto plan, CompilePlan(g, options, {}));
    ThreadPool pool(1);
    HONE_ASSIGN_OR_RETURN(std::vector<Value> out, RunPlan(*plan, feed, nullptr, pool));
    std::vector<Tensor> tensors;
    for (auto& v : out) {
      if (!v.is_tensor()) return NotSupported("{}: not a tensor result", node.Describe());
      tensors.push_back(v.tensor());
    }
    return tensors;
  };
}

}  // namespace hone
