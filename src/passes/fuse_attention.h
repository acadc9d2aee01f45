// Graph pass: the attention core as exporters write it becomes one com.hone Attention node
// (kernels/cpu/attention.cc; reference kernels/ref/attention.cc):
//
//   Softmax(s * MatMul(Q', Transpose(X, p)) [+ mask], last axis) @ V
//     -> com.hone.Attention(Q, K, V[, mask]) {scale}
//
// where K = Transpose(X, p') and p' is p with its last two entries swapped (K is X itself when
// p' is the identity, an existing Transpose(X, p') of the graph when there is one, else the
// Transpose node is rewritten to p'). The scale is the product of the constant scalar factors
// (rank 0 or 1, one element) that Mul or Div Q (Q' = Q * c or Q / c), the transposed K, or
// the scores before the mask Add; mask is the Add's other operand. Every intermediate must be
// read only inside the pattern, the Softmax must be over the last axis, the scores float32,
// and Q and V of known rank >= 2 (so the numpy broadcasting of the original MatMuls and Add
// is what the fused op computes). Anything else is left as it is.
//
// PyTorch's nn.MultiheadAttention export (opset 13) is the model:
//   Div(Q, sqrt(d)) @ Transpose(K0, [1, 2, 0]) * 1 + Where(pad, -inf, 0) * 1 -> Softmax -> @ V.
#pragma once

#include <cstdint>

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

// Returns the number of attention cores fused. `onnx_opset` selects the Softmax semantics
// (before 13 it flattens from `axis`, so only the last axis itself matches).
StatusOr<int> FuseAttention(Graph& graph, int64_t onnx_opset);

}  // namespace hone
