// Graph pass: Constant nodes, and Identity nodes of initializers, become initializers, so kernels
// see their values at session creation (prepacked weights) and no node runs for them. Exporters
// store weights this way: paddle2onnx as Constant nodes, PyTorch shared weights as Identity.
#pragma once

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

// Rewrites `graph` (not its subgraphs, which are compiled with their own plans); returns how many
// nodes were folded.
StatusOr<int> ConstantsToInitializers(Graph& graph);

}  // namespace hone
