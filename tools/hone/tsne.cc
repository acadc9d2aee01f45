// hone tsne DATA -o EMB.npy [--labels Y.npy] [--plot EMB.svg]: a 2-D t-SNE embedding
// (src/ml/tsne.h).
#include "ml/tsne.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "cli.h"
#include "core/errors.h"
#include "core/thread_pool.h"
#include "hone/npy.h"
#include "ml/linalg.h"
#include "ml/table.h"

namespace hone::cli {

namespace {

// One label per row from a numeric column: rounded to an integer, missing -> -1.
std::vector<int64_t> LabelsFrom(const ml::Column& c) {
  std::vector<int64_t> out;
  out.reserve(c.numbers.size());
  for (double v : c.numbers) out.push_back(std::isnan(v) ? -1 : std::llround(v));
  return out;
}

// Labels from a .npy array of integers or floats with one value per row.
StatusOr<std::vector<int64_t>> LabelsFromNpy(const std::string& path) {
  HONE_ASSIGN_OR_RETURN(Tensor t, ReadNpy(path));
  const DataType d = t.dtype();
  if (d != DataType::kInt64 && d != DataType::kInt32 && d != DataType::kUInt8 &&
      d != DataType::kFloat32 && d != DataType::kFloat64)
    return InvalidArgument("{}: labels must be integers or floats, got {}", path, DataTypeName(d));
  auto table = ml::TableFromTensor(t);
  if (!table.ok()) return table.status().WithContext(path);
  if (table->columns.size() != 1)
    return InvalidArgument("{}: labels need one value per row, got shape {}", path,
                           ShapeToString(t.shape()));
  return LabelsFrom(table->columns[0]);
}

}  // namespace

Runner SetupTsne(CLI::App& app) {
  struct Opts {
    std::string data, out, labels, label_column, plot, init = "pca";
    double perplexity = 30, exaggeration = 12, rate = 0, theta = 0.5;
    int iterations = 1000, threads = 0, trust_k = 0;
    uint64_t seed = 0;
    bool json = false, quiet = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("data", o->data, "rows x features: a .csv file (header row) or a 2-D .npy array")
      ->required();
  app.add_option("-o,--output", o->out, "write the embedding here (.npy, float32 [rows, 2])");
  app.add_option("--labels", o->labels, "a .npy array of one label per row (colours the plot)");
  app.add_option("--label-column", o->label_column,
                 "CSV: the column holding the labels (not used as a feature)");
  app.add_option("--plot", o->plot, "write a scatter plot of the embedding (.svg)");
  app.add_option("--perplexity", o->perplexity, "effective number of neighbours")
      ->capture_default_str();
  app.add_option("--iterations", o->iterations, "optimisation steps (the first 250 exaggerated)")
      ->capture_default_str();
  app.add_option("--early-exaggeration", o->exaggeration, "P multiplier for the first 250 steps")
      ->capture_default_str();
  app.add_option("--learning-rate", o->rate, "step size (0 = auto: max(rows / 48, 50))")
      ->capture_default_str();
  app.add_option("--theta", o->theta, "Barnes-Hut accuracy (0 = exact, slower)")
      ->capture_default_str();
  app.add_option("--init", o->init, "pca or random")->capture_default_str();
  app.add_option("--seed", o->seed, "seed for --init random")->capture_default_str();
  app.add_option("--threads", o->threads, "threads (0 = one per core)")->capture_default_str();
  app.add_option("--trustworthiness", o->trust_k,
                 "also report the trustworthiness of the embedding over K neighbours (O(rows^2))");
  app.add_flag("--json", o->json, "print one JSON object at the end");
  app.add_flag("-q,--quiet", o->quiet, "no progress lines");
  return [o]() -> int {
    if (o->init != "pca" && o->init != "random")
      return Fail(InvalidArgument("--init must be pca or random, not '{}'", o->init));
    if (o->out.empty() && o->plot.empty() && !o->json)
      return Fail(InvalidArgument("nothing to write: give -o EMB.npy, --plot EMB.svg or --json"));
    ml::SetThreads(o->threads);
    ThreadPool pool(o->threads);
    auto table = ml::ReadTable(o->data);
    if (!table.ok()) return Fail(table.status());
    std::vector<int64_t> labels;
    std::vector<std::string> features;
    if (!o->label_column.empty()) {
      const int li = table->index(o->label_column);
      if (li < 0) return Fail(InvalidArgument("{}: no column '{}'", o->data, o->label_column));
      const ml::Column& lc = table->columns[static_cast<size_t>(li)];
      if (lc.kind != ml::ColumnKind::kNumeric)
        return Fail(InvalidArgument("label column '{}' must hold numbers", o->label_column));
      labels = LabelsFrom(lc);
      for (const auto& c : table->columns)
        if (c.name != o->label_column) features.push_back(c.name);
    }
    auto x = table->NumericMatrix(features);
    if (!x.ok()) return Fail(x.status().WithContext(o->data));
    if (!o->labels.empty()) {
      auto l = LabelsFromNpy(o->labels);
      if (!l.ok()) return Fail(l.status());
      labels = std::move(l).value();
    }
    if (!labels.empty() && static_cast<int64_t>(labels.size()) != x->dim(0))
      return Fail(InvalidArgument("{} labels for {} rows", labels.size(), x->dim(0)));
    if (o->trust_k > 0 && 2 * static_cast<int64_t>(o->trust_k) >= x->dim(0))
      return Fail(InvalidArgument("--trustworthiness K must be below half the rows ({}), got {}",
                                  x->dim(0), o->trust_k));
    ml::TsneOptions opts;
    opts.perplexity = o->perplexity;
    opts.early_exaggeration = o->exaggeration;
    opts.iterations = o->iterations;
    opts.learning_rate = o->rate;
    opts.theta = o->theta;
    opts.pca_init = o->init == "pca";
    opts.seed = o->seed;
    const auto t0 = std::chrono::steady_clock::now();
    if (!o->quiet) {
      opts.progress = [o, t0](int it, double kl) {
        PrintProgress(it, o->iterations, "iterations", fmt::format("KL {:.4f}", kl),
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      };
    }
    auto r = ml::Tsne(*x, opts, pool);
    if (!r.ok()) return Fail(r.status().WithContext(o->data));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!o->out.empty()) {
      Status s = WriteNpy(o->out, r->embedding);
      if (!s.ok()) return Fail(s);
    }
    if (!o->plot.empty()) {
      const std::string svg =
          ml::ScatterSvg(r->embedding, labels,
                         fmt::format("t-SNE of {} ({} rows, perplexity {}, KL {:.3f})", o->data,
                                     x->dim(0), o->perplexity, r->kl_divergence));
      if (Status s = WriteFile(o->plot, svg); !s.ok()) return Fail(s);
    }
    double trust = -1;
    if (o->trust_k > 0) trust = ml::Trustworthiness(*x, r->embedding, o->trust_k, pool);
    if (o->json) {
      fmt::print(
          "{{\"rows\": {}, \"features\": {}, \"kl_divergence\": {:.6f}, \"iterations\": {}, "
          "\"seconds\": {:.3f}{}}}\n",
          x->dim(0), x->dim(1), r->kl_divergence, r->iterations, seconds,
          trust >= 0 ? fmt::format(", \"trustworthiness\": {:.6f}", trust) : "");
      return 0;
    }
    fmt::print("{} rows x {} features -> 2-D in {:.2f} s, KL divergence {:.4f}\n", x->dim(0),
               x->dim(1), seconds, r->kl_divergence);
    if (trust >= 0) fmt::print("trustworthiness ({} neighbours) {:.4f}\n", o->trust_k, trust);
    if (!o->out.empty()) fmt::print("wrote {}\n", o->out);
    if (!o->plot.empty()) fmt::print("wrote {}\n", o->plot);
    return 0;
  };
}

}  // namespace hone::cli
