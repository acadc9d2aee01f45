// hone optimize MODEL -o OUT.onnx: runs the graph passes and writes the result as ONNX.
#include <fmt/format.h>

#include <fstream>

#include "cli.h"
#include "core/errors.h"
#include "ir/graph_text.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "passes/pipeline.h"
#include "runtime/evaluate.h"

namespace hone::cli {

StatusOr<OptLevel> ParseLevel(const std::string& s) {
  if (s == "none") return OptLevel::kNone;
  if (s == "basic") return OptLevel::kBasic;
  if (s == "all") return OptLevel::kAll;
  return InvalidArgument("--level must be none, basic or all, not '{}'", s);
}

Runner SetupOptimize(CLI::App& app) {
  struct Opts {
    std::string model, out, level = "basic";
    bool graph = false, quiet = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("model", o->model, "ONNX model file")->required();
  app.add_option("-o,--output", o->out, "where to write the optimised model (.onnx)")->required();
  app.add_option("--level", o->level,
                 "basic: rewrites into standard ONNX ops (any runtime loads the result); all: "
                 "also hone's fused and channel-blocked com.hone ops (only hone runs them)")
      ->capture_default_str();
  app.add_flag("--graph", o->graph, "print the optimised graph");
  app.add_flag("-q,--quiet", o->quiet, "print nothing but errors");
  return [o]() -> int {
    auto level = ParseLevel(o->level);
    if (!level.ok()) return Fail(level.status());
    auto model = ImportOnnxFile(o->model);
    if (!model.ok()) return Fail(model.status());
    size_t before = model->graph.nodes.size();
    const NodeEvaluator evaluate = ReferenceEvaluator();
    auto runs = OptimizeModel(*model, *level, &evaluate);
    if (!runs.ok()) return Fail(runs.status().WithContext(o->model));
    auto bytes = ExportOnnxModel(*model);
    if (!bytes.ok()) return Fail(bytes.status());
    if (Status s = WriteFile(o->out, *bytes); !s.ok()) return Fail(s);
    if (o->graph) fmt::print("{}", GraphToText(model->graph));
    if (!o->quiet) {
      for (const auto& r : *runs)
        if (r.rewrites) fmt::print("{:<28} {} rewrite(s)\n", r.pass, r.rewrites);
      fmt::print("nodes: {} -> {}; wrote {} ({:.2f} MB)\n", before, model->graph.nodes.size(),
                 o->out, static_cast<double>(bytes->size()) / 1e6);
    }
    return 0;
  };
}

}  // namespace hone::cli
