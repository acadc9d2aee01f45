// Static int8 quantization in the QDQ format: QuantizeLinear/DequantizeLinear pairs around the
// float ops, which any ONNX runtime loads (ONNX Runtime fuses them into its int8 kernels, hone
// into its own: passes/fuse_qdq.cc).
//
// What is quantized: Conv (2-D), Gemm and MatMul with constant weights, and Add of two
// activations. Activations: uint8, asymmetric, per tensor (scale, zero point from the calibrated
// range widened to hold 0). Weights: int8, symmetric ([-127, 127], zero point 0), per output
// channel when the opset has per-axis QDQ (13+), else per tensor. Biases: int32 with scale
// input_scale x weight_scale, as ONNX Runtime's QDQ Conv/Gemm expect. A Relu, or a Clip from 0,
// that alone reads a quantized op's output moves the QuantizeLinear after it (its range starts
// at 0, so the runtime can drop the activation into the quantization).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "hone/status.h"
#include "ir/graph.h"
#include "quant/calibrate.h"

namespace hone::quant {

struct QdqOptions {
  bool per_channel = true;
  std::set<std::string> exclude;  // node names kept in float
};

// One node that static quantization rewrites.
struct QuantizedNode {
  std::string node;                      // node name (unique in the graph after naming)
  std::string op;                        // op type
  std::vector<std::string> activations;  // float inputs quantized to uint8
  std::string weight;                    // constant weight initializer, or ""
  int weight_axis = 0;                   // its output-channel axis
  std::string bias;                      // constant bias initializer (Conv, Gemm), or ""
  std::string output;                    // value quantized after it (after a fused Relu/Clip)
};

// Gives every unnamed node a unique name (reports and --exclude refer to nodes by name).
void NameNodes(Graph& g);
// The nodes of `g` static quantization rewrites, in graph order; `skipped` (when not null)
// receives "node: why" for candidate ops left in float.
std::vector<QuantizedNode> PlanStatic(const Graph& g, const QdqOptions& options,
                                      std::vector<std::string>* skipped = nullptr);
// Every value whose range the plan needs, each once.
std::vector<std::string> CalibrationValues(const std::vector<QuantizedNode>& plan);

// uint8 scale and zero point for a calibrated range (widened to hold 0).
struct QParams {
  float scale = 1;
  uint8_t zero_point = 0;
};
QParams ActivationParams(const Range& r);

// Rewrites `model` into QDQ form. Every value in CalibrationValues(plan) needs a range.
struct QdqResult {
  std::map<std::string, std::string> dequantized;  // v -> the DequantizeLinear output that
                                                   // replaced its reads
  bool per_channel = false;                        // weights were quantized per channel
};
StatusOr<QdqResult> InsertQdq(Model& model, const std::vector<QuantizedNode>& plan,
                              const std::map<std::string, Range>& ranges,
                              const QdqOptions& options);

}  // namespace hone::quant
