// hone info MODEL: opsets, inputs/outputs, op histogram, parameters.
#include <fmt/format.h>

#include <algorithm>

#include "cli.h"
#include "ir/graph_text.h"
#include "ir/onnx_import.h"
#include "passes/pipeline.h"
#include "runtime/evaluate.h"

namespace hone::cli {
namespace {
// "float32", "seq(float32)", "optional(float32)", "optional(seq(float32))".
std::string TypeName(const ValueInfo& v) {
  std::string t = DataTypeName(v.dtype);
  switch (v.kind) {
    case ValueInfo::Kind::kSequence:
      return "seq(" + t + ")";
    case ValueInfo::Kind::kOptionalTensor:
      return "optional(" + t + ")";
    case ValueInfo::Kind::kOptionalSequence:
      return "optional(seq(" + t + "))";
    case ValueInfo::Kind::kOther:
      return "map/other";
    default:
      return t;
  }
}
}  // namespace

StatusOr<OptLevel> ParseLevel(const std::string& s);  // optimize.cc

Runner SetupInfo(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto graph = std::make_shared<bool>(false);
  auto level = std::make_shared<std::string>("none");
  app.add_option("model", *model, "ONNX model file")->required();
  app.add_flag("--graph", *graph, "print the graph, one line per node");
  app.add_option("--level", *level,
                 "with --graph: the graph after the optimisation passes of this level (none, "
                 "basic, all)")
      ->capture_default_str();
  return [model, graph, level]() -> int {
    if (*graph) {
      auto lv = ParseLevel(*level);
      if (!lv.ok()) return Fail(lv.status());
      auto m = ImportOnnxFile(*model);
      if (!m.ok()) return Fail(m.status());
      const NodeEvaluator evaluate = ReferenceEvaluator();
      auto runs = OptimizeModel(*m, *lv, &evaluate);
      if (!runs.ok()) return Fail(runs.status().WithContext(*model));
      fmt::print("{}", GraphToText(m->graph));
      return 0;
    }
    auto s = Session::FromFile(*model);
    if (!s.ok()) return Fail(s.status());
    const Session& session = **s;
    const ModelInfo& info = session.info();
    fmt::print("model:      {}\n", *model);
    fmt::print("ir_version: {}\n", info.ir_version);
    if (!info.producer.empty()) fmt::print("producer:   {}\n", info.producer);
    for (const auto& [domain, v] : info.opsets)
      fmt::print("opset:      {} {}\n", domain.empty() ? "ai.onnx" : domain, v);
    fmt::print("inputs:\n");
    for (const auto& in : session.inputs())
      fmt::print("  {:<24} {:<8} {}\n", in.name, TypeName(in), DimsToString(in));
    fmt::print("outputs:\n");
    for (const auto& out : session.outputs())
      fmt::print("  {:<24} {:<8} {}\n", out.name, TypeName(out), DimsToString(out));
    fmt::print("parameters: {} ({:.2f} MB)\n", info.parameter_count,
               static_cast<double>(info.parameter_bytes) / 1e6);
    fmt::print("nodes:      {}\n", info.node_count);
    std::vector<std::pair<std::string, int64_t>> ops(info.op_histogram.begin(),
                                                     info.op_histogram.end());
    std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    fmt::print("ops:\n");
    for (const auto& [op, n] : ops) fmt::print("  {:<28} {}\n", op, n);
    return 0;
  };
}

}  // namespace hone::cli
