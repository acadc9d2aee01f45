#include "ml/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include "core/errors.h"
#include "ml/graph_builder.h"
#include "ml/linear.h"

namespace hone::ml {

namespace {

// The target column: class indices (-1 where missing) and the class names, sorted; or, for
// regression, the values (label 0 where present, -1 where missing).
struct Target {
  std::vector<int32_t> label;  // per table row
  std::vector<std::string> names;
  bool integers = false;
  bool regression = false;
  std::vector<double> value;  // per table row (regression)
};

StatusOr<Target> ReadTarget(const Table& table, const std::string& name, const std::string& model) {
  const int ci = table.index(name);
  if (ci < 0) {
    std::string names;
    for (const auto& c : table.columns) names += (names.empty() ? "" : ", ") + c.name;
    return InvalidArgument("no target column '{}'; the columns are: {}", name, names);
  }
  const Column& c = table.columns[static_cast<size_t>(ci)];
  Target t;
  t.label.assign(static_cast<size_t>(table.rows), -1);
  if (model == "linear" && c.kind != ColumnKind::kNumeric)
    return InvalidArgument("target '{}' holds strings: linear regression needs numbers", name);
  if (c.kind == ColumnKind::kNumeric) {
    std::set<double> values;
    for (double v : c.numbers)
      if (!std::isnan(v)) values.insert(v);
    // (mlp, logistic: classes; gbdt: either, as auto)
    if (model == "linear" || ((model == "auto" || model == "gbdt") && values.size() > 20)) {
      t.regression = true;
      t.value = c.numbers;
      for (size_t r = 0; r < c.numbers.size(); ++r)
        if (!std::isnan(c.numbers[r])) t.label[r] = 0;
      if (values.size() < 2)
        return InvalidArgument("target '{}' has {} distinct value(s); nothing to regress", name,
                               values.size());
      return t;
    }
    t.integers = std::all_of(values.begin(), values.end(),
                             [](double v) { return v == std::round(v) && std::abs(v) < 9e15; });
    if (!t.integers && values.size() > 20)
      return InvalidArgument(
          "target '{}' has {} distinct non-integer values: use --model linear (regression)", name,
          values.size());
    const std::vector<double> sorted(values.begin(), values.end());
    for (double v : sorted)
      t.names.push_back(t.integers ? fmt::format("{}", static_cast<int64_t>(v))
                                   : fmt::format("{}", v));
    for (size_t r = 0; r < c.numbers.size(); ++r)
      if (!std::isnan(c.numbers[r]))
        t.label[r] = static_cast<int32_t>(
            std::lower_bound(sorted.begin(), sorted.end(), c.numbers[r]) - sorted.begin());
  } else {
    std::set<std::string> values;
    for (size_t r = 0; r < c.strings.size(); ++r)
      if (!c.missing[r]) values.insert(c.strings[r]);
    t.names.assign(values.begin(), values.end());
    for (size_t r = 0; r < c.strings.size(); ++r)
      if (!c.missing[r])
        t.label[r] = static_cast<int32_t>(
            std::lower_bound(t.names.begin(), t.names.end(), c.strings[r]) - t.names.begin());
  }
  if (t.names.size() < 2)
    return InvalidArgument("target '{}' has {} class(es); a classifier needs at least two", name,
                           t.names.size());
  return t;
}

// What one candidate fits: preprocessing, PCA components and the model's settings.
struct ModelOptions {
  std::string kind;  // logistic, linear, mlp or gbdt
  bool regression = false;
  PreprocessOptions pre;
  EstimatorOptions est;
  int64_t pca = 0;
};

// "100" or "64-32": hidden layer sizes.
std::vector<int64_t> ParseHidden(const std::string& v) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= v.size()) {
    const size_t dash = std::min(v.find('-', start), v.size());
    size_t used = 0;
    const std::string part = v.substr(start, dash - start);
    out.push_back(std::stoll(part, &used));
    if (used != part.size() || out.back() < 1) throw std::invalid_argument(v);
    start = dash + 1;
  }
  return out;
}

// The options one candidate's parameters give.
Status Apply(const Params& params, const FitOptions& base, const std::string& kind, bool regression,
             ModelOptions& m) {
  m.kind = kind;
  m.regression = regression;
  m.pre = base.preprocess;
  m.est = base.estimator;
  m.pca = base.pca;
  LogisticOptions& lr = m.est.logistic;
  MlpOptions& mlp = m.est.mlp;
  GbdtOptions& gb = m.est.gbdt;
  for (const auto& [k, v] : params) {
    try {
      if (k == "C" && kind == "logistic") {
        lr.c = std::stod(v);
        if (!(lr.c > 0)) return InvalidArgument("C must be positive, got '{}'", v);
      } else if (k == "max_iter" && kind == "logistic") {
        lr.max_iter = std::stoi(v);
      } else if (k == "alpha" && kind == "linear") {
        m.est.alpha = std::stod(v);
        if (!(m.est.alpha >= 0)) return InvalidArgument("alpha must be >= 0, got '{}'", v);
      } else if (k == "alpha" && kind == "mlp") {
        mlp.alpha = std::stod(v);
      } else if (k == "hidden" && kind == "mlp") {
        mlp.hidden = ParseHidden(v);
      } else if (k == "learning_rate" && kind == "mlp") {
        mlp.learning_rate = std::stod(v);
      } else if (k == "max_iter" && kind == "mlp") {
        mlp.max_iter = std::stoi(v);
      } else if (k == "batch_size" && kind == "mlp") {
        mlp.batch_size = std::stoll(v);
      } else if (kind == "gbdt" && k == "learning_rate") {
        gb.learning_rate = std::stod(v);
      } else if (kind == "gbdt" && k == "max_iter") {
        gb.max_iter = std::stoi(v);
      } else if (kind == "gbdt" && k == "max_leaf_nodes") {
        gb.max_leaf_nodes = std::stoi(v);
      } else if (kind == "gbdt" && k == "max_depth") {
        gb.max_depth = std::stoi(v);
      } else if (kind == "gbdt" && k == "min_samples_leaf") {
        gb.min_samples_leaf = std::stoi(v);
      } else if (kind == "gbdt" && (k == "l2_regularization" || k == "l2")) {
        gb.l2_regularization = std::stod(v);
      } else if (kind == "gbdt" && k == "max_bins") {
        gb.max_bins = std::stoi(v);
      } else if (k == "impute") {
        HONE_ASSIGN_OR_RETURN(m.pre.numeric_impute, ImputeFromName(v));
      } else if (k == "scale") {
        HONE_ASSIGN_OR_RETURN(m.pre.scale, ScaleFromName(v));
      } else if (k == "bins") {
        m.pre.bins = std::stoi(v);
      } else if (k == "poly") {
        m.pre.degree = std::stoi(v);
      } else if (k == "pca") {
        m.pca = std::stoll(v);
        if (m.pca < 0) return InvalidArgument("pca components must be >= 0, got '{}'", v);
      } else {
        return InvalidArgument(
            "unknown parameter '{}' ({})", k,
            kind == "linear" ? "linear: alpha, impute, scale, bins, poly, pca"
            : kind == "mlp"  ? "mlp: hidden, alpha, learning_rate, max_iter, batch_size, impute, "
                               "scale, bins, poly, pca"
            : kind == "gbdt"
                ? "gbdt: learning_rate, max_iter, max_leaf_nodes, max_depth, "
                  "min_samples_leaf, l2_regularization, max_bins, impute, scale, bins, poly, pca"
                : "logistic: C, max_iter, impute, scale, bins, poly, pca");
      }
    } catch (const std::exception&) {
      return InvalidArgument("parameter {}: '{}' is not a number", k, v);
    }
  }
  return Status::Ok();
}

// The preprocessing (and PCA) of `m` fitted on `rows`, and those rows transformed by it.
struct Prepared {
  Pipeline pipeline;  // without a model yet
  Tensor x;           // float32 [rows, features after preprocessing / PCA]
};

StatusOr<Prepared> Prepare(const Table& table, const std::vector<std::string>& features,
                           const std::vector<int64_t>& rows, const ModelOptions& m) {
  Prepared out;
  Pipeline& p = out.pipeline;
  HONE_RETURN_IF_ERROR(p.preprocess.Fit(table, features, m.pre, rows));
  HONE_ASSIGN_OR_RETURN(out.x, p.preprocess.Transform(table, rows));
  if (m.pca > 0) {
    if (m.pca > out.x.dim(1))
      return InvalidArgument("pca={} components, but the preprocessing gives {} features", m.pca,
                             out.x.dim(1));
    p.has_pca = true;
    HONE_RETURN_IF_ERROR(p.pca.Fit(out.x, m.pca));
    HONE_ASSIGN_OR_RETURN(out.x, p.pca.Transform(out.x));
  }
  return out;
}

// A model of `m` fitted on the prepared rows `x` (the table's `rows`).
StatusOr<std::unique_ptr<Estimator>> FitModel(const Tensor& x, const Target& target,
                                              const std::vector<int64_t>& rows,
                                              const ModelOptions& m) {
  std::unique_ptr<Estimator> model = MakeEstimator(m.kind, m.est, m.regression);
  if (!model) return InvalidArgument("unknown model '{}'", m.kind);
  std::vector<int32_t> labels;
  std::vector<double> values;
  for (int64_t r : rows) {
    if (target.regression)
      values.push_back(target.value[static_cast<size_t>(r)]);
    else
      labels.push_back(target.label[static_cast<size_t>(r)]);
  }
  HONE_RETURN_IF_ERROR(model->Fit(x, labels, values, static_cast<int>(target.names.size())));
  return model;
}

StatusOr<Pipeline> FitOne(const Table& table, const std::vector<std::string>& features,
                          const Target& target, const std::vector<int64_t>& rows,
                          const ModelOptions& m) {
  HONE_ASSIGN_OR_RETURN(Prepared prepared, Prepare(table, features, rows, m));
  Pipeline p = std::move(prepared.pipeline);
  HONE_ASSIGN_OR_RETURN(p.model, FitModel(prepared.x, target, rows, m));
  p.class_names = target.names;
  p.integer_classes = target.integers;
  return p;
}

// Accuracy (classifiers) or R^2 (regressors) of `model` on the prepared rows `x` (the table's
// `rows`).
double ScoreMatrix(const Estimator& model, const Tensor& x, const Target& target,
                   const std::vector<int64_t>& rows) {
  if (target.regression) {
    const std::vector<double> pred = model.PredictValue(x);
    std::vector<double> y(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) y[i] = target.value[static_cast<size_t>(rows[i])];
    return R2(y, pred);
  }
  const std::vector<int32_t> pred = model.PredictClass(x);
  int64_t right = 0;
  for (size_t i = 0; i < rows.size(); ++i)
    right += pred[i] == target.label[static_cast<size_t>(rows[i])];
  return rows.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(rows.size());
}

// Accuracy (classifiers) or R^2 (regressors) of `p` on `rows`.
StatusOr<double> Score(const Pipeline& p, const Table& table, const Target& target,
                       const std::vector<int64_t>& rows) {
  HONE_ASSIGN_OR_RETURN(Tensor x, p.Features(table, rows));
  return ScoreMatrix(*p.model, x, target, rows);
}

// Folds over `rows`: stratified for classification.
StatusOr<std::vector<Fold>> MakeFolds(const Target& target, const std::vector<int64_t>& rows,
                                      int k) {
  if (!target.regression) {
    std::vector<int32_t> labels;
    for (int64_t r : rows) labels.push_back(target.label[static_cast<size_t>(r)]);
    return StratifiedKFold(rows, labels, k);
  }
  return KFold(rows, k);
}

// A seeded sample of `fraction` of `rows` (stratified for classification) and the rest.
Fold Split(const Target& target, const std::vector<int64_t>& rows, double fraction, uint64_t seed) {
  std::vector<int32_t> labels;
  for (int64_t r : rows) labels.push_back(target.label[static_cast<size_t>(r)]);
  const Fold f = TrainTestSplit(static_cast<int64_t>(rows.size()), fraction, seed,
                                target.regression ? nullptr : &labels);
  Fold out;
  for (int64_t i : f.train) out.train.push_back(rows[static_cast<size_t>(i)]);
  for (int64_t i : f.test) out.test.push_back(rows[static_cast<size_t>(i)]);
  return out;
}

}  // namespace

StatusOr<Tensor> Pipeline::Features(const Table& table, std::span<const int64_t> rows) const {
  HONE_ASSIGN_OR_RETURN(Tensor x, preprocess.Transform(table, rows));
  if (has_pca) return pca.Transform(x);
  return x;
}

StatusOr<std::vector<int32_t>> Pipeline::Predict(const Table& table,
                                                 std::span<const int64_t> rows) const {
  if (regression()) return InvalidArgument("a regressor predicts values, not classes");
  HONE_ASSIGN_OR_RETURN(Tensor x, Features(table, rows));
  return model->PredictClass(x);
}

StatusOr<std::vector<double>> Pipeline::PredictValues(const Table& table,
                                                      std::span<const int64_t> rows) const {
  if (!regression()) return InvalidArgument("a classifier predicts classes, not values");
  HONE_ASSIGN_OR_RETURN(Tensor x, Features(table, rows));
  return model->PredictValue(x);
}

Model Pipeline::ToOnnx() const {
  Model m;
  m.ir_version = 8;
  m.opsets[""] = 13;
  m.opsets["ai.onnx.ml"] = 3;
  m.producer_name = "hone";
  Graph& g = m.graph;
  g.name = "hone_fit";
  preprocess.AppendOnnx(g, "features");
  if (has_pca) pca.AppendOnnx(g, "features", "components");
  const std::string input = has_pca ? "components" : "features";
  if (regression()) {
    model->AppendOnnx(g, input, "prediction", "");
    g.outputs = {BatchTensor("prediction", DataType::kFloat32)};
    return m;
  }
  model->AppendOnnx(g, input, "probabilities", "class_index");
  GraphBuilder b(g, "out_");
  const int64_t k = static_cast<int64_t>(class_names.size());
  std::string classes;
  if (integer_classes) {
    std::vector<int64_t> v;
    for (const auto& s : class_names) v.push_back(std::stoll(s));
    classes = b.Ints("classes", v, {k});
  } else {
    classes = b.Strings("classes", class_names, {k});
  }
  b.Add("Gather", {classes, "class_index"}, {"label"});
  g.outputs = {BatchTensor("label", integer_classes ? DataType::kInt64 : DataType::kString),
               BatchTensor("probabilities", DataType::kFloat32, k)};
  return m;
}

StatusOr<FitResult> FitPipeline(const Table& table, const FitOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.model != "logistic" && o.model != "linear" && o.model != "mlp" && o.model != "gbdt" &&
      o.model != "auto")
    return InvalidArgument("unknown model '{}' (logistic, linear, mlp, gbdt, auto)", o.model);
  HONE_ASSIGN_OR_RETURN(Target target, ReadTarget(table, o.target, o.model));
  std::vector<std::string> features = o.features;
  if (features.empty())
    for (const auto& c : table.columns)
      if (c.name != o.target) features.push_back(c.name);
  for (const auto& f : features) {
    if (f == o.target) return InvalidArgument("the target '{}' is also a feature", f);
    if (table.index(f) < 0) return InvalidArgument("no feature column '{}'", f);
  }
  if (features.empty()) return InvalidArgument("no feature columns besides the target");
  FitResult result;
  std::vector<int64_t> valid;
  for (int64_t r = 0; r < table.rows; ++r)
    if (target.label[static_cast<size_t>(r)] >= 0) valid.push_back(r);
  if (static_cast<int64_t>(valid.size()) < table.rows)
    result.warnings.push_back(fmt::format("{} row(s) with a missing target were left out",
                                          table.rows - static_cast<int64_t>(valid.size())));
  std::vector<int64_t> train = valid, test;
  if (o.test_size > 0) {
    if (o.test_size >= 1)
      return InvalidArgument("--test-size must be below 1, got {}", o.test_size);
    const Fold split = Split(target, valid, o.test_size, o.seed);
    train = split.train;
    test = split.test;
  }
  HONE_ASSIGN_OR_RETURN(std::vector<Fold> folds, MakeFolds(target, train, o.cv));
  result.scoring = target.regression ? "r2" : "accuracy";
  const std::string kind = o.model == "gbdt"   ? "gbdt"
                           : target.regression ? "linear"
                           : o.model == "mlp"  ? "mlp"
                                               : "logistic";
  using Space = std::vector<std::pair<std::string, std::vector<std::string>>>;
  const std::string knob = kind == "logistic" ? "C" : "alpha";
  const Space space =
      !o.grid.empty()  ? o.grid
      : kind == "gbdt" ? (o.search == "random" ? Space{{"learning_rate", {"loguniform:0.02:0.5"}}}
                                               : Space{{"learning_rate", {"0.05", "0.1", "0.2"}}})
      : kind == "mlp"  ? (o.search == "random" ? Space{{knob, {"loguniform:0.00001:0.1"}}}
                                               : Space{{knob, {"0.0001", "0.001", "0.01"}}})
      : o.search == "random" ? Space{{knob, {"loguniform:0.001:1000"}}}
                             : Space{{knob, {"0.01", "0.1", "1", "10", "100"}}};
  std::vector<Params> candidates;
  if (!o.given.empty()) {
    if (!o.grid.empty())
      return InvalidArgument(
          "give the candidates (--candidates) or the values to search "
          "(--param), not both");
    if (o.search != "grid" && o.search != "random" && o.search != "halving")
      return InvalidArgument("unknown search '{}' (grid, random, halving)", o.search);
    candidates = o.given;
  } else if (o.search == "grid" || o.search == "halving") {
    for (const auto& [name, values] : space)
      if (IsDistribution(values))
        return InvalidArgument("parameter {}: a distribution ('{}') needs --search random", name,
                               values[0]);
    candidates = Grid(space);
  } else if (o.search == "random") {
    HONE_ASSIGN_OR_RETURN(candidates, RandomCandidates(space, o.candidates, o.seed));
  } else {
    return InvalidArgument("unknown search '{}' (grid, random, halving)", o.search);
  }
  for (const Params& p : candidates) {  // bad parameters fail before any fitting
    ModelOptions m;
    HONE_RETURN_IF_ERROR(Apply(p, o, kind, target.regression, m));
  }
  SearchOptions so;
  so.threads = o.threads;
  so.progress = o.progress;
  // Candidates that differ only in the model's settings share a fold's preprocessing: it is
  // fitted and applied once per (fold, preprocessing settings) and kept for the search.
  struct FoldData {
    Tensor train, test;
  };
  std::mutex cache_mu;  // guards cache
  std::map<std::pair<const Fold*, std::string>, std::shared_ptr<const FoldData>> cache;
  const auto fit_score = [&](const Params& params, const Fold& fold) -> StatusOr<double> {
    ModelOptions m;
    HONE_RETURN_IF_ERROR(Apply(params, o, kind, target.regression, m));
    const auto key = std::make_pair(
        &fold, fmt::format("{}|{}|{}|{}|{}|{}|{}|{}", static_cast<int>(m.pre.numeric_impute),
                           m.pre.numeric_fill, static_cast<int>(m.pre.scale),
                           static_cast<int>(m.pre.string_impute), m.pre.string_fill, m.pca,
                           m.pre.bins, m.pre.degree));
    std::shared_ptr<const FoldData> data;
    {
      std::lock_guard<std::mutex> lock(cache_mu);
      auto it = cache.find(key);
      if (it != cache.end()) data = it->second;
    }
    if (!data) {  // (two workers may prepare the same fold at once; both results are equal)
      HONE_ASSIGN_OR_RETURN(Prepared prepared, Prepare(table, features, fold.train, m));
      auto made = std::make_shared<FoldData>();
      made->train = prepared.x;
      HONE_ASSIGN_OR_RETURN(made->test, prepared.pipeline.Features(table, fold.test));
      std::lock_guard<std::mutex> lock(cache_mu);
      data = cache.emplace(key, std::move(made)).first->second;
    }
    HONE_ASSIGN_OR_RETURN(std::unique_ptr<Estimator> model,
                          FitModel(data->train, target, fold.train, m));
    return ScoreMatrix(*model, data->test, target, fold.test);
  };
  if (o.search != "halving") {
    HONE_ASSIGN_OR_RETURN(result.candidates, Search(candidates, folds, fit_score, so));
  } else {
    // Successive halving (scikit-learn's HalvingGridSearchCV, factor 3, resources = rows,
    // min_resources 'exhaust'): round i scores the surviving candidates on a seeded stratified
    // sample of min_rows * 3^i training rows, and the best third go on; the last round uses
    // (nearly) all of them.
    constexpr int kFactor = 3;
    const int64_t n = static_cast<int64_t>(train.size());
    const int64_t smallest = 2 * static_cast<int64_t>(o.cv) *
                             (target.regression ? 1 : static_cast<int64_t>(target.names.size()));
    const int needed =
        1 + static_cast<int>(std::floor(
                std::log(static_cast<double>(candidates.size())) / std::log(kFactor) + 1e-9));
    int64_t min_rows = n;
    for (int i = 1; i < needed; ++i) min_rows /= kFactor;
    min_rows = std::max(min_rows, smallest);
    int rounds = 1;
    for (int64_t r = min_rows; r * kFactor <= n && rounds < needed; r *= kFactor) ++rounds;
    std::vector<Params> alive = candidates;
    int64_t rows_now = min_rows;
    for (int round = 0; round < rounds; ++round, rows_now *= kFactor) {
      std::vector<int64_t> subset = train;
      if (rows_now < n)
        subset = Split(target, train, static_cast<double>(rows_now) / static_cast<double>(n),
                       o.seed + static_cast<uint64_t>(round))
                     .test;
      HONE_ASSIGN_OR_RETURN(std::vector<Fold> round_folds, MakeFolds(target, subset, o.cv));
      HONE_ASSIGN_OR_RETURN(std::vector<CandidateResult> scored,
                            Search(alive, round_folds, fit_score, so));
      cache.clear();  // keyed by fold address: the next round's folds may reuse these addresses
      std::vector<size_t> order(scored.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return scored[a].mean_score > scored[b].mean_score;
      });
      const size_t keep = (alive.size() + kFactor - 1) / kFactor;
      std::vector<Params> next;
      for (size_t i = 0; i < keep && i < order.size(); ++i) next.push_back(scored[order[i]].params);
      for (CandidateResult& c : scored) {
        c.iteration = round;
        c.resources = static_cast<int64_t>(subset.size());
        result.candidates.push_back(std::move(c));
      }
      alive = std::move(next);
    }
    // Ranks: later rounds first, then by mean score (as HalvingGridSearchCV ranks them).
    std::vector<size_t> order(result.candidates.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const CandidateResult &x = result.candidates[a], &y = result.candidates[b];
      return x.iteration != y.iteration ? x.iteration > y.iteration : x.mean_score > y.mean_score;
    });
    for (size_t i = 0; i < order.size(); ++i)
      result.candidates[order[i]].rank = static_cast<int>(i) + 1;
  }
  const CandidateResult& best = *std::find_if(result.candidates.begin(), result.candidates.end(),
                                              [](const CandidateResult& c) { return c.rank == 1; });
  result.best = best.params;
  result.best_cv_score = best.mean_score;
  ModelOptions best_options;
  HONE_RETURN_IF_ERROR(Apply(best.params, o, kind, target.regression, best_options));
  HONE_ASSIGN_OR_RETURN(result.pipeline, FitOne(table, features, target, train, best_options));
  for (const auto& w : result.pipeline.preprocess.warnings()) result.warnings.push_back(w);
  if (!test.empty()) {
    HONE_ASSIGN_OR_RETURN(result.test_score, Score(result.pipeline, table, target, test));
  }
  result.train_rows = static_cast<int64_t>(train.size());
  result.test_rows = static_cast<int64_t>(test.size());
  result.test_row_indices = test;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace hone::ml
