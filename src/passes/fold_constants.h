// Graph pass: nodes whose inputs are all constants run once, at session creation, and their
// outputs become initializers (shape arithmetic on constant shapes, weight transposes, casts of
// constants, ...). Nodes with subgraphs, random ops, and results much larger than their inputs
// (Expand, Tile of small constants) stay. The pass does not run kernels itself: the caller
// passes an evaluator (runtime/evaluate.h runs the reference kernels).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

// Computes a node's outputs from its constant inputs (nullptr for omitted ones).
using NodeEvaluator = std::function<StatusOr<std::vector<Tensor>>(
    const Node& node, const std::map<std::string, int64_t>& opsets,
    const std::vector<const Tensor*>& inputs)>;

StatusOr<int> FoldConstants(Graph& graph, const std::map<std::string, int64_t>& opsets,
                            const NodeEvaluator& evaluate);

}  // namespace hone
