// Graph pass over QDQ models (QuantizeLinear/DequantizeLinear around float ops, as written by
// `hone quantize`, ONNX Runtime's quantizer and other tools).
//
// Always: a DequantizeLinear of a constant (a quantized weight or bias) becomes a float
// initializer, so that ops it feeds that stay in float see constant weights (constant folding
// keeps such nodes when the float copy is much larger than the int8 one).
//
// With `fuse` (optimisation level all), before that, QDQ groups become hone's int8 ops, whose
// activations are uint8 and, between convolutions, channels-last ([N, 1, H, W, C], as the
// blocked-layout pass's NHWC):
//   DQ(x) -> Conv(DQ(w), [DQ(b)]) -> [Relu | Clip(0, m)] -> Q   =>  com.hone.QConv
//   DQ(a), DQ(b) -> Add -> [Relu] -> Q                          =>  com.hone.QAdd
//   DQ(x) -> Gemm|MatMul(DQ(w), [bias]) -> [Relu] -> Q          =>  com.hone.QMatMul (plain)
//   DQ(x) -> MaxPool -> Q, one scale and zero point              =>  com.hone.MaxPool on uint8
// and the Q / DQ nodes at the edges of a channels-last region become com.hone QuantizeLinear /
// DequantizeLinear, which also convert the layout. Activations: uint8, per tensor. Weights:
// int8 with zero point 0, per tensor or per output channel.
#pragma once

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

// `onnx_opset` is the model's ai.onnx opset (Clip's bounds are inputs from 11).
StatusOr<int> FuseQdq(Graph& graph, int64_t onnx_opset, bool fuse);

}  // namespace hone
