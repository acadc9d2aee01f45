// Graph pass: Identity nodes, and Dropout nodes in inference (no training_mode, mask unused),
// disappear; their readers read the input directly. Nodes whose output is a graph output stay.
#pragma once

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

StatusOr<int> RemoveIdentityAndDropout(Graph& graph);

}  // namespace hone
