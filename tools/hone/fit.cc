// hone fit DATA.csv --target COL: a preprocessing + model pipeline chosen by cross-validated
// search, written as one ONNX model (src/ml/pipeline.h).
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "cli.h"
#include "core/errors.h"
#include "ir/onnx_export.h"
#include "ml/pipeline.h"
#include "ml/table.h"

namespace hone::cli {

namespace {

// A CSV cell, quoted when it holds a comma, quote or line break.
std::string CsvCell(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string ParamsText(const ml::Params& p) {
  std::string s;
  for (const auto& [k, v] : p) s += (s.empty() ? "" : " ") + k + "=" + v;
  return s;
}

std::string ReportJson(const ml::FitResult& r, const std::string& data, const std::string& target,
                       const std::string& model, int cv) {
  std::string s = "{";
  s += fmt::format("\"data\": {}, \"target\": {}, \"model\": {}, \"cv\": {}, ", JsonString(data),
                   JsonString(target), JsonString(model), cv);
  s += fmt::format("\"scoring\": {}, \"train_rows\": {}, \"test_rows\": {}, ",
                   JsonString(r.scoring), r.train_rows, r.test_rows);
  s += "\"classes\": [";
  for (size_t i = 0; i < r.pipeline.class_names.size(); ++i)
    s += (i ? ", " : "") + JsonString(r.pipeline.class_names[i]);
  s += "], \"features\": [";
  const auto names = r.pipeline.preprocess.feature_names();
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + JsonString(names[i]);
  s += "], \"numeric_columns\": [";
  const auto& num = r.pipeline.preprocess.numeric_columns();
  for (size_t i = 0; i < num.size(); ++i) s += (i ? ", " : "") + JsonString(num[i]);
  s += "], \"string_columns\": [";
  const auto& str = r.pipeline.preprocess.string_columns();
  for (size_t i = 0; i < str.size(); ++i) s += (i ? ", " : "") + JsonString(str[i]);
  s += "], \"best_params\": {";
  size_t i = 0;
  for (const auto& [k, v] : r.best) s += (i++ ? ", " : "") + JsonString(k) + ": " + JsonString(v);
  s += fmt::format("}}, \"best_cv_score\": {:.6f}, ", r.best_cv_score);
  if (r.test_rows > 0) s += fmt::format("\"test_score\": {:.6f}, ", r.test_score);
  s += fmt::format("\"seconds\": {:.3f}, \"candidates\": [", r.seconds);
  for (size_t c = 0; c < r.candidates.size(); ++c) {
    const ml::CandidateResult& cr = r.candidates[c];
    s += c ? ", {" : "{";
    s += "\"params\": {";
    size_t j = 0;
    for (const auto& [k, v] : cr.params)
      s += (j++ ? ", " : "") + JsonString(k) + ": " + JsonString(v);
    s += fmt::format(
        "}}, \"mean_score\": {:.6f}, \"std_score\": {:.6f}, \"mean_fit_seconds\": {:.6f}, "
        "\"rank\": {}, \"iteration\": {}, \"resources\": {}, \"fold_scores\": [{:.6f}]}}",
        cr.mean_score, cr.std_score, cr.mean_fit_seconds, cr.rank, cr.iteration, cr.resources,
        fmt::join(cr.fold_scores, ", "));
  }
  s += "], \"warnings\": [";
  for (size_t w = 0; w < r.warnings.size(); ++w) s += (w ? ", " : "") + JsonString(r.warnings[w]);
  return s + "]}";
}

}  // namespace

Runner SetupFit(CLI::App& app) {
  struct Opts {
    std::string data, target, model = "auto", search = "grid", out, report, predictions;
    std::vector<std::string> params, features;
    std::string impute = "mean", scale = "auto";
    int cv = 5, threads = 0, candidates = 10;
    double test_size = 0.2;
    uint64_t seed = 0;
    std::string candidates_file;
    std::vector<std::string> categorical;
    bool quiet = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("data", o->data,
                 "training data: a .csv file with a header row, or a 2-D numeric .npy (columns c0, "
                 "c1, ...)")
      ->required();
  app.add_option("--target", o->target, "the column to predict")->required();
  app.add_option("--model", o->model,
                 "logistic or mlp (classification), linear (ridge regression), gbdt (histogram "
                 "gradient boosting: a regressor for a numeric target with more than 20 distinct "
                 "values, else a classifier), or auto: linear for a numeric target with more than "
                 "20 distinct values, else logistic")
      ->capture_default_str();
  app.add_option("--search", o->search,
                 "grid (every combination of the --param values), random (--n-candidates "
                 "draws) or halving (successive halving over the grid: each round keeps the "
                 "best third and triples the rows)")
      ->capture_default_str();
  app.add_option("--n-candidates", o->candidates, "random search: candidates to draw")
      ->capture_default_str();
  app.add_option("--candidates", o->candidates_file,
                 "search these candidates instead of --param's: a CSV with a header of parameter "
                 "names and one row per candidate (an empty cell: that parameter's default)");
  app.add_option(
      "--param", o->params,
      "NAME=V1,V2,...: values to search. logistic: C, max_iter; linear: alpha; mlp: "
      "hidden (100, 64-32), alpha, learning_rate, max_iter, batch_size; gbdt: "
      "learning_rate, max_iter, max_leaf_nodes, max_depth, min_samples_leaf, "
      "l2_regularization, max_bins; all: bins (K quantile bins, one-hot), poly (2: products), "
      "impute "
      "(mean|median|most_frequent|constant), scale (standard|minmax|none), pca "
      "(components). Random search also takes one distribution: NAME=uniform:LO:HI, "
      "loguniform:LO:HI, randint:LO:HI. Default: C=0.01,0.1,1,10,100 (linear: alpha; "
      "mlp: alpha=0.0001,0.001,0.01; gbdt: learning_rate=0.05,0.1,0.2; random: loguniform)");
  app.add_option("--features", o->features, "columns to use (default: all but the target)")
      ->delimiter(',');
  app.add_option("--categorical", o->categorical,
                 "columns to treat as categories (one-hot) even where every cell is a number, "
                 "e.g. codes; CSV cells keep their text (01234)")
      ->delimiter(',');
  app.add_option("--impute", o->impute, "numeric missing values: mean, median, most_frequent")
      ->capture_default_str();
  app.add_option("--scale", o->scale,
                 "numeric scaling: standard, minmax, none, or auto: none for gbdt (trees do not "
                 "need it), else standard")
      ->capture_default_str();
  app.add_option("--cv", o->cv, "cross-validation folds (stratified for classification)")
      ->capture_default_str();
  app.add_option("--test-size", o->test_size,
                 "fraction of rows held out (stratified) to score the refit model; 0: none")
      ->capture_default_str();
  app.add_option("--seed", o->seed, "seed of the held-out split")->capture_default_str();
  app.add_option("-o,--output", o->out, "write the fitted pipeline here as ONNX");
  app.add_option("--report", o->report,
                 "write every candidate's scores, the best parameters and the test score as JSON");
  app.add_option("--predictions", o->predictions,
                 "write the refit pipeline's label (or predicted value) for each held-out row "
                 "(every row without --test-size) as CSV: row (0-based data row), label");
  app.add_option("--threads", o->threads, "parallel fits (0 = one per core)")
      ->capture_default_str();
  app.add_flag("-q,--quiet", o->quiet, "no progress bar");
  app.add_flag("--json", o->json, "print the report as JSON instead of the table");
  return [o]() -> int {
    ml::CsvOptions csv;
    for (const auto& c : o->categorical) csv.types[c] = ml::ColumnKind::kString;
    auto table = ml::ReadTable(o->data, csv);  // (an unknown column is an error there)
    if (!table.ok()) return Fail(table.status());
    ml::FitOptions fo;
    fo.target = o->target;
    fo.features = o->features;
    fo.model = o->model;
    auto impute = ml::ImputeFromName(o->impute);
    if (!impute.ok()) return Fail(impute.status());
    auto scale = ml::ScaleFromName(o->scale != "auto"   ? o->scale
                                   : o->model == "gbdt" ? "none"
                                                        : "standard");
    if (!scale.ok()) return Fail(scale.status());
    fo.preprocess.numeric_impute = *impute;
    fo.preprocess.scale = *scale;
    for (const std::string& p : o->params) {
      const size_t eq = p.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == p.size())
        return Fail(InvalidArgument("--param takes NAME=V1,V2,..., got '{}'", p));
      std::vector<std::string> values;
      size_t start = eq + 1;
      while (start <= p.size()) {
        const size_t comma = std::min(p.find(',', start), p.size());
        values.push_back(p.substr(start, comma - start));
        start = comma + 1;
      }
      fo.grid.emplace_back(p.substr(0, eq), values);
    }
    if (!o->candidates_file.empty()) {
      auto table = ml::ReadCsv(o->candidates_file);
      if (!table.ok()) return Fail(table.status());
      for (int64_t r = 0; r < table->rows; ++r) {
        ml::Params p;
        for (const ml::Column& c : table->columns) {
          const size_t u = static_cast<size_t>(r);
          if (c.kind == ml::ColumnKind::kNumeric && !std::isnan(c.numbers[u]))
            p[c.name] = fmt::format("{}", c.numbers[u]);
          else if (c.kind == ml::ColumnKind::kString && !c.missing[u])
            p[c.name] = c.strings[u];
        }
        fo.given.push_back(std::move(p));
      }
      if (fo.given.empty())
        return Fail(
            InvalidArgument("{}: no candidates (one row per candidate, a column per "
                            "parameter)",
                            o->candidates_file));
    }
    fo.search = o->search;
    fo.candidates = o->candidates;
    fo.cv = o->cv;
    fo.test_size = o->test_size;
    fo.seed = o->seed;
    fo.threads = o->threads > 0
                     ? o->threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const auto t0 = std::chrono::steady_clock::now();
    if (!o->quiet)
      fo.progress = [t0](int done, int total) {
        PrintProgress(done, total, "fits", "",
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      };
    auto r = ml::FitPipeline(*table, fo);
    if (!r.ok()) return Fail(r.status().WithContext(o->data));
    const std::string json = ReportJson(*r, o->data, o->target, r->pipeline.model->kind(), o->cv);
    if (!o->report.empty())
      if (Status s = WriteFile(o->report, json + "\n"); !s.ok()) return Fail(s);
    if (!o->out.empty()) {
      auto bytes = ExportOnnxModel(r->pipeline.ToOnnx());
      if (!bytes.ok()) return Fail(bytes.status());
      if (Status s = WriteFile(o->out, *bytes); !s.ok()) return Fail(s);
    }
    if (!o->predictions.empty()) {
      std::vector<int64_t> rows = r->test_row_indices;
      if (rows.empty())
        for (int64_t i = 0; i < table->rows; ++i) rows.push_back(i);
      std::string csv = "row,label\n";
      if (r->pipeline.regression()) {
        auto pred = r->pipeline.PredictValues(*table, rows);
        if (!pred.ok()) return Fail(pred.status());
        csv = "row,prediction\n";
        for (size_t i = 0; i < rows.size(); ++i)
          csv += fmt::format("{},{:.9g}\n", rows[i], (*pred)[i]);
      } else {
        auto pred = r->pipeline.Predict(*table, rows);
        if (!pred.ok()) return Fail(pred.status());
        for (size_t i = 0; i < rows.size(); ++i)
          csv += fmt::format("{},{}\n", rows[i],
                             CsvCell(r->pipeline.class_names[static_cast<size_t>((*pred)[i])]));
      }
      if (Status s = WriteFile(o->predictions, csv); !s.ok()) return Fail(s);
    }
    for (const auto& w : r->warnings) std::fprintf(stderr, "hone: warning: %s\n", w.c_str());
    if (o->json) {
      fmt::print("{}\n", json);
      return 0;
    }
    fmt::print("{} training rows, {} held out; {}; {} features; {}-fold CV\n", r->train_rows,
               r->test_rows,
               r->pipeline.regression() ? std::string("ridge regression")
                                        : fmt::format("{} classes", r->pipeline.class_names.size()),
               r->pipeline.preprocess.features(), o->cv);
    const bool halving = o->search == "halving";
    fmt::print("{:>4}  {:>10}  {:>8}  {:>9}  {}{}\n", "rank", "mean score", "std", "fit s",
               halving ? "round  rows  " : "", "params");
    for (const auto& c : r->candidates)
      fmt::print("{:>4}  {:>10.4f}  {:>8.4f}  {:>9.4f}  {}{}\n", c.rank, c.mean_score, c.std_score,
                 c.mean_fit_seconds,
                 halving ? fmt::format("{:>5}  {:>4}  ", c.iteration, c.resources) : "",
                 ParamsText(c.params));
    fmt::print("best: {} (CV {} {:.4f})", ParamsText(r->best), r->scoring, r->best_cv_score);
    if (r->test_rows > 0) fmt::print(", held-out {} {:.4f}", r->scoring, r->test_score);
    fmt::print("; {:.2f} s\n", r->seconds);
    if (!o->out.empty())
      fmt::print("wrote {} (inputs: {}{}{})\n", o->out,
                 r->pipeline.preprocess.numeric_columns().empty() ? "" : "numeric",
                 !r->pipeline.preprocess.numeric_columns().empty() &&
                         !r->pipeline.preprocess.string_columns().empty()
                     ? ", "
                     : "",
                 r->pipeline.preprocess.string_columns().empty() ? "" : "categorical");
    if (!o->report.empty()) fmt::print("wrote {}\n", o->report);
    return 0;
  };
}

}  // namespace hone::cli
