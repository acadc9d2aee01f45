// Structural checks of a node against the ONNX operator schema (libonnx): input/output arity and
// required inputs. Kernels may then rely on every required input being present.
#pragma once

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

// OK when the schema is unknown (newer or custom op): kernel lookup reports those.
Status CheckNodeArity(const Node& node, int64_t opset);

}  // namespace hone
