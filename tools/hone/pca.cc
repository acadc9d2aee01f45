// hone pca DATA -k K: principal components of a CSV or .npy matrix (src/ml/pca.h).
#include "ml/pca.h"

#include <fmt/format.h>

#include <chrono>
#include <fstream>

#include "cli.h"
#include "core/errors.h"
#include "core/thread_pool.h"
#include "hone/npy.h"
#include "ir/onnx_export.h"
#include "ml/linalg.h"
#include "ml/table.h"

namespace hone::cli {

Runner SetupPca(CLI::App& app) {
  struct Opts {
    std::string data, out, onnx;
    std::vector<std::string> columns;
    int64_t k = 0;
    int threads = 0;
    std::string solver = "full";
    uint64_t seed = 0;
    bool whiten = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("data", o->data, "rows x features: a .csv file (header row) or a 2-D .npy array")
      ->required();
  app.add_option("-k,--components", o->k, "components to keep (default: all)");
  app.add_option("--columns", o->columns, "CSV columns to use (default: every column)")
      ->delimiter(',');
  app.add_flag("--whiten", o->whiten, "scale the projected components to unit variance");
  app.add_option("--solver", o->solver,
                 "full (exact) or randomized (a randomized SVD: for many features and few "
                 "components)")
      ->capture_default_str();
  app.add_option("--seed", o->seed, "seed of the randomized solver")->capture_default_str();
  app.add_option("-o,--output", o->out, "write the projected data here (.npy, float32)");
  app.add_option("--export", o->onnx,
                 "write the fitted transform as an ONNX model (input X [N, features] -> Y)");
  app.add_option("--threads", o->threads, "threads (0 = one per core)")->capture_default_str();
  app.add_flag("--json", o->json, "print one JSON object instead of the table");
  return [o]() -> int {
    ml::SetThreads(o->threads);
    ThreadPool pool(o->threads);
    auto table = ml::ReadTable(o->data);
    if (!table.ok()) return Fail(table.status());
    auto x = table->NumericMatrix(o->columns);
    if (!x.ok()) return Fail(x.status().WithContext(o->data));
    const int64_t k = o->k > 0 ? o->k : std::min(x->dim(0), x->dim(1));
    ml::Pca pca;
    ml::PcaOptions opts;
    opts.whiten = o->whiten;
    opts.solver = o->solver;
    opts.seed = o->seed;
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    Status fit = pca.Fit(*x, k, opts, &pool);
    if (!fit.ok()) return Fail(fit.WithContext(o->data));
    const auto t1 = Clock::now();
    auto y = pca.Transform(*x, &pool);
    if (!y.ok()) return Fail(y.status());
    const auto t2 = Clock::now();
    const double fit_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    const double transform_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    if (!o->out.empty()) {
      Status s = WriteNpy(o->out, *y);
      if (!s.ok()) return Fail(s);
    }
    if (!o->onnx.empty()) {
      auto bytes = ExportOnnxModel(pca.ToOnnx());
      if (!bytes.ok()) return Fail(bytes.status());
      if (Status s = WriteFile(o->onnx, *bytes); !s.ok()) return Fail(s);
    }
    const auto& ev = pca.explained_variance();
    const auto& ratio = pca.explained_variance_ratio();
    if (o->json) {
      fmt::print(
          "{{\"rows\": {}, \"features\": {}, \"components\": {}, \"whiten\": {}, "
          "\"explained_variance\": [{}], \"explained_variance_ratio\": [{}], "
          "\"fit_ms\": {:.3f}, \"transform_ms\": {:.3f}}}\n",
          x->dim(0), x->dim(1), k, o->whiten ? "true" : "false", fmt::join(ev, ", "),
          fmt::join(ratio, ", "), fit_ms, transform_ms);
      return 0;
    }
    fmt::print("{} rows x {} features -> {} components{}\n", x->dim(0), x->dim(1), k,
               o->whiten ? " (whitened)" : "");
    fmt::print("{:>9}  {:>14}  {:>9}  {:>10}\n", "component", "variance", "ratio", "cumulative");
    double cum = 0;
    for (int64_t c = 0; c < k; ++c) {
      cum += ratio[static_cast<size_t>(c)];
      fmt::print("{:>9}  {:>14.6g}  {:>9.4f}  {:>10.4f}\n", c + 1, ev[static_cast<size_t>(c)],
                 ratio[static_cast<size_t>(c)], cum);
    }
    fmt::print("fit {:.2f} ms, transform {:.2f} ms\n", fit_ms, transform_ms);
    if (!o->out.empty()) fmt::print("wrote {} ({} x {})\n", o->out, y->dim(0), y->dim(1));
    if (!o->onnx.empty()) fmt::print("wrote {}\n", o->onnx);
    return 0;
  };
}

}  // namespace hone::cli
