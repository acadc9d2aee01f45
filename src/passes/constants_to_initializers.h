// Graph pass: Constant nodes become initializers, so kernels see their values at session
// creation (prepacked weights) and no node runs for them. Exporters such as paddle2onnx store
// every weight as a Constant node.
#pragma once

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

// Rewrites `graph` (not its subgraphs, which are compiled with their own plans); returns how many
// nodes were folded.
StatusOr<int> ConstantsToInitializers(Graph& graph);

}  // namespace hone
