// Graph pass: the decomposed layer normalisation that PyTorch exports for opsets below 17,
//   m = ReduceMean(x, last axis); d = Sub(x, m); v = ReduceMean(Pow(d, 2) or Mul(d, d), last axis)
//   y = Add(Mul(Div(d, Sqrt(Add(v, eps))), gamma), beta)
// (also with d computed twice, once for the variance and once for the numerator; the beta Add
// may be missing), becomes one LayerNormalization node (axis -1, epsilon eps, inputs x, gamma,
// beta): ai.onnx's when the model's ai.onnx opset is 17 or more, else com.hone's, which takes
// the same inputs and attributes. eps, gamma and beta must be constants, gamma and beta 1-D over
// x's last dim (declared, or fixed by the ops producing x: shape inference loses it after a
// dynamic Reshape), and every intermediate read only inside the pattern.
#pragma once

#include <cstdint>

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

StatusOr<int> FuseLayerNorm(Graph& graph, int64_t onnx_opset);

}  // namespace hone
