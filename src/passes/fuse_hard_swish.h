// Graph pass: the HardSwish that exporters without the op (paddle2onnx, opset < 14) spell out,
// x * Clip(x + 3, 0, 6) / 6 (or * 1/6), becomes one HardSwish node: ai.onnx HardSwish from opset
// 14, com.hone HardSwish before. The blocked-layout pass then fuses it into the Conv before it.
#pragma once

#include <cstdint>

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

StatusOr<int> FuseHardSwish(Graph& graph, int64_t onnx_opset);

}  // namespace hone
