// Post-training static quantization of a float ONNX model: optimise it (standard ops only),
// calibrate its activations over sample batches, rewrite it into QDQ form (quant/qdq.h), and
// measure each quantized layer's error against the float model.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "hone/session.h"
#include "hone/status.h"
#include "ir/graph.h"
#include "quant/calibrate.h"
#include "quant/qdq.h"

namespace hone::quant {

struct StaticOptions {
  QdqOptions qdq;
  Method method = Method::kMinMax;
  double percentile = 99.99;
  int threads = 0;
};

// Per quantized (or considered) layer.
struct LayerReport {
  std::string node, op;
  std::string precision;  // "int8" or "fp32"
  std::string reason;     // why fp32; empty for int8
  std::string output;     // the value its error is measured on
  double sqnr_db = 0;     // 10 log10(sum x^2 / sum (x - x_q)^2) of `output` over the batches;
                          // infinity when equal
};

struct StaticReport {
  std::vector<LayerReport> layers;
  bool per_channel = false;
  int64_t calibration_batches = 0;
  int nodes_before = 0, nodes_after = 0;
};

// Called as progress(done, total, phase) while calibrating ("calibrate") and measuring errors
// ("measure").
using Progress = std::function<void(int done, int total, const char* phase)>;

// Quantizes `model` in place. `batches` are feeds of the model's inputs.
StatusOr<StaticReport> QuantizeStatic(Model& model,
                                      const std::vector<std::vector<NamedTensor>>& batches,
                                      const StaticOptions& options, const Progress& progress = {});

// The report as one JSON object.
std::string ReportJson(const StaticReport& report, const StaticOptions& options);

}  // namespace hone::quant
