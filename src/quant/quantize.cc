#include "quant/quantize.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "core/errors.h"
#include "core/json.h"
#include "passes/pipeline.h"
#include "runtime/evaluate.h"

namespace hone::quant {
namespace {

// Signal-to-quantization-noise ratio in dB accumulated over batches.
struct Sqnr {
  double signal = 0, noise = 0;
  void Add(const Tensor& ref, const Tensor& q) {
    if (ref.numel() != q.numel() || ref.dtype() != DataType::kFloat32 ||
        q.dtype() != DataType::kFloat32)
      return;
    for (int64_t i = 0; i < ref.numel(); ++i) {
      const double a = ref.data<float>()[i], d = a - q.data<float>()[i];
      signal += a * a;
      noise += d * d;
    }
  }
  double db() const {
    if (noise == 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(std::max(signal, 1e-30) / noise);
  }
};

}  // namespace

StatusOr<StaticReport> QuantizeStatic(Model& model,
                                      const std::vector<std::vector<NamedTensor>>& batches,
                                      const StaticOptions& options, const Progress& progress) {
  if (batches.empty()) return InvalidArgument("calibration needs at least one batch");
  StaticReport report;
  report.nodes_before = static_cast<int>(model.graph.nodes.size());
  const NodeEvaluator evaluate = ReferenceEvaluator();
  HONE_RETURN_IF_ERROR(OptimizeModel(model, OptLevel::kBasic, &evaluate).status());
  NameNodes(model.graph);
  std::vector<std::string> skipped;
  const std::vector<QuantizedNode> plan = PlanStatic(model.graph, options.qdq, &skipped);
  if (plan.empty())
    return InvalidArgument("the model has no Conv, Gemm, MatMul or Add to quantize");
  const Model float_model = model;

  SessionOptions so;
  so.threads = options.threads;
  so.optimization = GraphOptimization::kBasic;
  const std::vector<std::string> values = CalibrationValues(plan);
  HONE_ASSIGN_OR_RETURN(auto calibrator, Calibrator::Create(model, values, options.method, so));
  const int total = static_cast<int>(batches.size());
  for (int b = 0; b < total; ++b) {
    HONE_RETURN_IF_ERROR(calibrator->Observe(batches[static_cast<size_t>(b)])
                             .WithContext(fmt::format("calibration batch {}", b)));
    if (progress) progress(b + 1, total, "calibrate");
  }
  report.calibration_batches = calibrator->batches();
  const auto ranges = calibrator->Ranges(options.percentile);
  HONE_ASSIGN_OR_RETURN(QdqResult qdq, InsertQdq(model, plan, ranges, options.qdq));
  report.per_channel = qdq.per_channel;

  // Each layer's output in the QDQ model (the dequantized copy) against the float model's.
  std::vector<std::string> ref_names, q_names;
  for (const QuantizedNode& q : plan) {
    ref_names.push_back(q.output);
    q_names.push_back(qdq.dequantized.at(q.output));
  }
  HONE_ASSIGN_OR_RETURN(auto ref_session, SessionWithOutputs(float_model, ref_names, so));
  HONE_ASSIGN_OR_RETURN(auto q_session, SessionWithOutputs(model, q_names, so));
  std::vector<Sqnr> sqnr(plan.size());
  const int measure = std::min(total, 16);
  for (int b = 0; b < measure; ++b) {
    const auto& feed = batches[static_cast<size_t>(b)];
    HONE_ASSIGN_OR_RETURN(auto r, ref_session->Run(feed, ref_names));
    HONE_ASSIGN_OR_RETURN(auto q, q_session->Run(feed, q_names));
    for (size_t i = 0; i < plan.size(); ++i) sqnr[i].Add(r[i].tensor, q[i].tensor);
    if (progress) progress(b + 1, measure, "measure");
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    LayerReport l;
    l.node = plan[i].node;
    l.op = plan[i].op;
    l.precision = "int8";
    l.output = plan[i].output;
    l.sqnr_db = sqnr[i].db();
    report.layers.push_back(l);
  }
  for (const std::string& s : skipped) {
    LayerReport l;
    const size_t colon = s.find(": ");
    l.node = s.substr(0, colon);
    for (const Node& n : float_model.graph.nodes)
      if (n.name == l.node) l.op = n.op_type;
    l.precision = "fp32";
    l.reason = s.substr(colon + 2);
    l.sqnr_db = std::numeric_limits<double>::infinity();
    report.layers.push_back(l);
  }
  report.nodes_after = static_cast<int>(model.graph.nodes.size());
  return report;
}

std::string ReportJson(const StaticReport& report, const StaticOptions& options) {
  auto num = [](double v) {
    return std::isfinite(v) ? fmt::format("{:.3f}", v) : std::string("null");
  };
  std::string j = fmt::format(
      "{{\n  \"mode\": \"static\",\n  \"precision\": \"int8\",\n  \"method\": {},\n  "
      "\"per_channel\": {},\n  \"calibration_batches\": {},\n  \"nodes_before\": {},\n  "
      "\"nodes_after\": {},\n  \"layers\": [",
      JsonString(MethodName(options.method)), report.per_channel ? "true" : "false",
      report.calibration_batches, report.nodes_before, report.nodes_after);
  for (size_t i = 0; i < report.layers.size(); ++i) {
    const LayerReport& l = report.layers[i];
    j += fmt::format(
        "{}\n    {{\"node\": {}, \"op\": {}, \"precision\": {}, \"sqnr_db\": {}, \"output\": {}, "
        "\"reason\": {}}}",
        i ? "," : "", JsonString(l.node), JsonString(l.op), JsonString(l.precision), num(l.sqnr_db),
        JsonString(l.output), JsonString(l.reason));
  }
  j += "\n  ]\n}\n";
  return j;
}

}  // namespace hone::quant
