// hone fit's engine: a table and a target column in, a fitted pipeline (preprocessing + model)
// out, chosen by cross-validated search, exportable as one ONNX graph that hone and ONNX
// Runtime both run.
//
//   ml::FitOptions o;
//   o.target = "label";
//   o.grid = {{"C", {"0.1", "1", "10"}}};
//   HONE_ASSIGN_OR_RETURN(ml::FitResult r, ml::FitPipeline(table, o));
//   Model m = r.pipeline.ToOnnx();   // inputs "numeric" / "categorical" -> "label",
//   "probabilities"
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hone/status.h"
#include "ir/graph.h"
#include "ml/estimator.h"
#include "ml/model_selection.h"
#include "ml/pca.h"
#include "ml/preprocess.h"
#include "ml/table.h"

namespace hone::ml {

struct FitOptions {
  std::string target;
  std::vector<std::string> features;  // empty: every column but the target
  // logistic or mlp (classification), linear (ridge regression), or auto: linear for a numeric
  // target with more than 20 distinct values, else logistic.
  std::string model = "auto";
  PreprocessOptions preprocess;
  EstimatorOptions estimator;  // each family's settings (the searched ones override them)
  int64_t pca = 0;             // components of a PCA step between preprocessing and model; 0: none
  // Searched parameters: C, max_iter (logistic); alpha (linear); hidden ("100", "64-32"), alpha,
  // learning_rate, max_iter, batch_size (mlp); impute, scale (numeric preprocessing), pca
  // (components; 0 = no PCA step). Empty: C (or alpha) over 0.01 ... 100 (mlp: alpha 1e-4 ...
  // 1e-2).
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;
  // The candidates themselves (hone fit --candidates FILE.csv: one row per candidate), searched
  // instead of `grid`'s combinations or draws: e.g. the draws of another tool's randomized
  // search, to compare both on the same candidates. Halving starts from them.
  std::vector<Params> given;
  std::string search = "grid";  // grid, or random (`candidates` draws from the --param values)
  int candidates = 10;          // random search: how many
  int cv = 5;                   // folds (stratified for classification)
  double test_size = 0.2;       // held-out fraction (stratified for classification); 0: none
  uint64_t seed = 0;            // for the held-out split
  int threads = 1;              // parallel fits
  std::function<void(int, int)> progress;  // (fits done, total)
};

// The fitted pipeline: preprocessing, an optional PCA, the model, and for classifiers the class
// labels the model's indices stand for.
struct Pipeline {
  Preprocessor preprocess;
  bool has_pca = false;
  Pca pca;
  std::shared_ptr<const Estimator> model;  // logistic, linear or mlp (ml/estimator.h)
  bool regression() const { return model && model->regression(); }
  std::vector<std::string> class_names;  // as they read in the data
  bool integer_classes = false;          // the target was integral numbers: labels are int64
  // The model's input for `rows` of `table` (all when empty): preprocessed, then PCA if any.
  StatusOr<Tensor> Features(const Table& table, std::span<const int64_t> rows = {}) const;
  // Class index per row of `table` (rows: all when empty); classifiers only.
  StatusOr<std::vector<int32_t>> Predict(const Table& table,
                                         std::span<const int64_t> rows = {}) const;
  // The predicted value per row; regressors only.
  StatusOr<std::vector<double>> PredictValues(const Table& table,
                                              std::span<const int64_t> rows = {}) const;
  // Graph inputs as Preprocessor::AppendOnnx. Classifiers: outputs "label" ([N] int64 or string)
  // and "probabilities" (float32 [N, classes], columns in class_names order); regressors:
  // "prediction" (float32 [N]).
  Model ToOnnx() const;
};

struct FitResult {
  Pipeline pipeline;
  std::vector<CandidateResult> candidates;
  Params best;
  double best_cv_score = 0;
  std::string scoring;     // accuracy (classification) or r2 (regression)
  double test_score = -1;  // the score on the held-out rows (-1 without them)
  int64_t train_rows = 0, test_rows = 0;
  std::vector<int64_t> test_row_indices;
  std::vector<std::string> warnings;  // dropped rows, all-missing columns
  double seconds = 0;                 // search and refit
};

StatusOr<FitResult> FitPipeline(const Table& table, const FitOptions& options);

}  // namespace hone::ml
