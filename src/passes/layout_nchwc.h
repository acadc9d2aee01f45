// Graph pass: channel-blocked activations between convolutions (like ONNX Runtime's NCHWc
// transformer). 2-D float32 Convs with constant weights become com.hone Conv, whose activations
// are stored [N, ceil(C/B), H, W, B] (kernels/cpu/dnnl_blocked.h); the ops between them that can
// work on that layout (activations, elementwise arithmetic with channel-wise constants, pooling,
// channel Concat) follow it, activations and residual Adds fold into the Conv as post-ops, and
// com.hone ReorderInput / ReorderOutput nodes convert at the region's edges only.
#pragma once

#include <cstdint>

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

// `block` is 8 or 16 (channels per block: the SIMD width in floats), or 0 for NHWC ([N,1,H,W,C]).
// Returns how many nodes were converted or fused.
StatusOr<int> ConvertToBlockedLayout(Graph& graph, int64_t block);

// The layout to use for `graph`: oneDNN's depthwise and narrow convolutions are fastest
// channel-blocked (`simd_block`), its wide dense ones in NHWC (brgemm kernels); measured on
// AVX-512 (docs/PERFORMANCE.md). Graphs with depthwise convolutions, or whose spatial (k > 1)
// dense convolutions average under 48 channels (min of in and out, weighted by FLOPs), get
// blocks; others NHWC.
int64_t PreferredBlock(const Graph& graph, int64_t simd_block);

}  // namespace hone
