// hone quantize MODEL -o OUT.onnx --calibration X.npy|DIR: post-training static int8
// quantization into QDQ ONNX (quant/quantize.h), with a per-layer report.
#include "quant/quantize.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "cli.h"
#include "core/errors.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"

namespace hone::cli {
namespace {

// The calibration feeds: FILE.npy split into batches of `batch` rows, or every .npy of DIR (in
// name order) as one batch each; a file without the batch dimension gets one. `samples` > 0
// keeps the first rows only.
StatusOr<std::vector<std::vector<NamedTensor>>> CalibrationBatches(const ValueInfo& in,
                                                                   const std::string& path,
                                                                   int64_t batch, int64_t samples) {
  auto fit = [&](Tensor t, const std::string& file) -> StatusOr<Tensor> {
    if (t.dtype() != in.dtype && in.dtype != DataType::kUndefined)
      return InvalidArgument("{}: {} data for input '{}' of type {}", file, DataTypeName(t.dtype()),
                             in.name, DataTypeName(in.dtype));
    if (in.has_shape && t.rank() + 1 == static_cast<int64_t>(in.shape.size())) {
      Shape shape = t.shape();
      shape.insert(shape.begin(), 1);
      t = t.Reshaped(shape);
    }
    if (in.has_shape && t.rank() != static_cast<int64_t>(in.shape.size()))
      return InvalidArgument("{}: shape {} does not fit input '{}' {}", file,
                             ShapeToString(t.shape()), in.name, DimsToString(in));
    return t;
  };
  std::vector<std::vector<NamedTensor>> out;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(path, ec))
      if (e.path().extension() == ".npy") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    if (files.empty()) return NotFound("{}: no .npy files", path);
    int64_t rows = 0;
    for (const std::string& f : files) {
      HONE_ASSIGN_OR_RETURN(Tensor t, ReadNpy(f));
      HONE_ASSIGN_OR_RETURN(t, fit(t, f));
      rows += t.dim(0);
      out.push_back({{in.name, t}});
      if (samples > 0 && rows >= samples) break;
    }
    return out;
  }
  HONE_ASSIGN_OR_RETURN(Tensor all, ReadNpy(path));
  HONE_ASSIGN_OR_RETURN(all, fit(all, path));
  int64_t rows = all.dim(0);
  if (samples > 0) rows = std::min(rows, samples);
  if (batch <= 0) batch = std::min<int64_t>(rows, 32);
  for (int64_t b = 0; b + batch <= rows; b += batch) out.push_back({{in.name, all.Rows(b, batch)}});
  if (out.empty())
    return InvalidArgument("{}: {} rows, fewer than one batch of {}", path, rows, batch);
  return out;
}

}  // namespace

Runner SetupQuantize(CLI::App& app) {
  struct Opts {
    std::string model, out, calibration, method = "minmax", report;
    std::vector<std::string> exclude;
    double percentile = 99.99;
    int64_t batch = 0, samples = 0;
    bool per_channel = true, quiet = false;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("model", o->model, "float ONNX model")->required();
  app.add_option("-o,--output", o->out, "where to write the quantized (QDQ) model")->required();
  app.add_option("--calibration", o->calibration,
                 "sample inputs: one .npy (rows along axis 0), or a folder of .npy files (one "
                 "batch each)")
      ->required();
  app.add_option("--method", o->method,
                 "activation ranges: minmax, percentile (clip --percentile of the values) or mse "
                 "(the clipping with least squared quantization error)")
      ->capture_default_str();
  app.add_option("--percentile", o->percentile, "kept share of values for --method percentile")
      ->capture_default_str();
  app.add_flag("--per-channel,!--per-tensor", o->per_channel,
               "weight scales per output channel (needs opset 13; default) or one per tensor");
  app.add_option("--exclude", o->exclude, "node names to keep in float")->expected(1, -1);
  app.add_option("--batch", o->batch,
                 "rows per calibration run (default: the model's fixed batch size, else 32)");
  app.add_option("--samples", o->samples, "use only the first N calibration rows (default all)");
  app.add_option("--report", o->report, "write the per-layer report (JSON) here");
  app.add_option("--threads", o->threads, "intra-op threads (0 = one per core)")
      ->capture_default_str();
  app.add_flag("-q,--quiet", o->quiet, "print nothing but errors");
  return [o]() -> int {
    quant::StaticOptions opts;
    auto method = quant::ParseMethod(o->method);
    if (!method.ok()) return Fail(method.status());
    opts.method = *method;
    if (!(o->percentile > 50 && o->percentile <= 100))
      return Fail(InvalidArgument("--percentile must be in (50, 100], not {}", o->percentile));
    opts.percentile = o->percentile;
    opts.qdq.per_channel = o->per_channel;
    opts.qdq.exclude.insert(o->exclude.begin(), o->exclude.end());
    opts.threads = o->threads;
    auto model = ImportOnnxFile(o->model);
    if (!model.ok()) return Fail(model.status());
    // The fed inputs: graph inputs without an initializer.
    std::vector<const ValueInfo*> fed;
    for (const ValueInfo& in : model->graph.inputs)
      if (!model->graph.initializers.count(in.name)) fed.push_back(&in);
    if (fed.size() != 1)
      return Fail(
          InvalidArgument("calibration data feeds one input; the model has {}", fed.size()));
    const ValueInfo& first = *fed[0];
    int64_t batch = o->batch;
    if (batch <= 0 && first.has_shape && !first.shape.empty() && first.shape[0].known())
      batch = first.shape[0].value;
    auto batches = CalibrationBatches(first, o->calibration, batch, o->samples);
    if (!batches.ok()) return Fail(batches.status());
    for (const std::string& name : o->exclude) {
      bool found = false;
      for (const Node& n : model->graph.nodes) found = found || n.name == name;
      if (!found)
        return Fail(InvalidArgument("--exclude {}: the model has no node of that name", name));
    }
    const auto start = std::chrono::steady_clock::now();
    auto progress = [&](int done, int total, const char* phase) {
      if (o->quiet) return;
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      PrintProgress(done, total, "batches", phase, s);
    };
    auto report = quant::QuantizeStatic(*model, *batches, opts, progress);
    if (!report.ok()) return Fail(report.status().WithContext(o->model));
    auto bytes = ExportOnnxModel(*model);
    if (!bytes.ok()) return Fail(bytes.status());
    if (Status s = WriteFile(o->out, *bytes); !s.ok()) return Fail(s);
    if (!o->report.empty())
      if (Status s = WriteFile(o->report, quant::ReportJson(*report, opts)); !s.ok())
        return Fail(s);
    if (!o->quiet) {
      int int8 = 0;
      double worst = std::numeric_limits<double>::infinity();
      std::string worst_node;
      for (const auto& l : report->layers)
        if (l.precision == "int8") {
          ++int8;
          if (l.sqnr_db < worst) {
            worst = l.sqnr_db;
            worst_node = l.node;
          }
        }
      fmt::print("quantized {} of {} layers to int8 ({} weights, {} ranges over {} batches)\n",
                 int8, report->layers.size(), report->per_channel ? "per-channel" : "per-tensor",
                 quant::MethodName(opts.method), report->calibration_batches);
      if (!worst_node.empty())
        fmt::print("lowest layer SQNR: {:.1f} dB at {}\n", worst, worst_node);
      fmt::print("wrote {} ({:.2f} MB)\n", o->out, static_cast<double>(bytes->size()) / 1e6);
    }
    return 0;
  };
}

}  // namespace hone::cli
