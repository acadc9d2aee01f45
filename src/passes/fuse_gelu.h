// Graph pass: the exact GELU as exporters write it, x * 0.5 * (1 + Erf(x / sqrt(2))), becomes
// one Gelu node (input x): ai.onnx's (approximate "none") when the model's ai.onnx opset is 20 or
// more, else com.hone's. Matched orderings, with either operand order of each Add and Mul:
//   Mul(Mul(x, a), 0.5), Mul(Mul(x, 0.5), a), Mul(x, Mul(a, 0.5))   a = Add(Erf(u), 1)
// where u is Div(x, sqrt(2)) or Mul(x, 1/sqrt(2)), the constants scalars, and every
// intermediate read only inside the pattern.
#pragma once

#include <cstdint>

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

StatusOr<int> FuseGelu(Graph& graph, int64_t onnx_opset);

}  // namespace hone
