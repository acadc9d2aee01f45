// Fitted feature transforms for tables, composed as scikit-learn's ColumnTransformer composes
// them: numeric columns are imputed then scaled (or quantile-binned; optionally with their
// pairwise products), string columns imputed then one-hot encoded
// (a category not seen in training encodes as all zeros, like handle_unknown='ignore'), and the
// result is one float32 design matrix: the numeric features first, then each string column's
// categories in sorted order. The fitted transform exports as standard ONNX nodes (plus
// ai.onnx.ml LabelEncoder for strings).
//
//   ml::Preprocessor pre;
//   HONE_RETURN_IF_ERROR(pre.Fit(table, {"age", "city"}, {}));
//   HONE_ASSIGN_OR_RETURN(Tensor x, pre.Transform(table));   // float32 [rows, pre.features()]
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"
#include "ir/graph.h"
#include "ml/table.h"

namespace hone::ml {

enum class Impute { kMean, kMedian, kMostFrequent, kConstant };
enum class Scale { kNone, kStandard, kMinMax };

StatusOr<Impute> ImputeFromName(const std::string& name);  // mean|median|most_frequent|constant
StatusOr<Scale> ScaleFromName(const std::string& name);    // none|standard|minmax

struct PreprocessOptions {
  Impute numeric_impute = Impute::kMean;
  double numeric_fill = 0;  // for Impute::kConstant
  Scale scale = Scale::kStandard;
  // >= 2: each (imputed) numeric column becomes `bins` one-hot quantile bins, as scikit-learn's
  // KBinsDiscretizer(strategy='quantile', encode='onehot-dense') (bins narrower than 1e-8 are
  // merged); it takes the place of scaling. 0: no binning.
  int bins = 0;
  // 2: the (scaled) numeric columns followed by their pairwise products x_i x_j, i <= j, as
  // PolynomialFeatures(degree=2, include_bias=False). 1: the columns only.
  int degree = 1;
  Impute string_impute = Impute::kMostFrequent;  // kMostFrequent or kConstant
  std::string string_fill = "missing";           // for kConstant (and all-missing columns)
};

class Preprocessor {
 public:
  // Fits on `rows` of `table` (every row when empty). A column that is missing in every fitted
  // row carries no information: a numeric one becomes a constant 0 feature, a string one a single
  // category; both are listed in warnings().
  Status Fit(const Table& table, const std::vector<std::string>& columns,
             const PreprocessOptions& options, std::span<const int64_t> rows = {});
  // float32 [rows, features()]; the table must have the fitted columns (by name, same kinds).
  StatusOr<Tensor> Transform(const Table& table, std::span<const int64_t> rows = {}) const;

  int64_t features() const;
  std::vector<std::string> feature_names() const;
  const std::vector<std::string>& numeric_columns() const { return numeric_names_; }
  const std::vector<std::string>& string_columns() const { return string_names_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Appends the transform to `g`: graph input "numeric" float32 [N, numeric columns] (NaN =
  // missing) when there are numeric columns, "categorical" string [N, string columns] ("" =
  // missing) when there are string columns; the float32 [N, features()] result is named
  // `output`.
  void AppendOnnx(Graph& g, const std::string& output) const;

 private:
  struct Numeric {
    double fill = 0, center = 0, scale = 1;  // y = (imputed - center) / scale
    std::vector<float> edges;                // binned: the inner bin edges, ascending
  };
  // The numeric columns' features of one row: scaled values (and products) or one-hot bins.
  void NumericFeatures(const float* imputed, float* out) const;
  int64_t numeric_features() const;
  struct Categorical {
    std::string fill;
    std::vector<std::string> categories;  // sorted
  };
  std::vector<std::string> numeric_names_, string_names_;
  std::vector<Numeric> numeric_;
  std::vector<Categorical> strings_;
  bool binned_ = false;
  int degree_ = 1;
  std::vector<std::string> warnings_;
};

}  // namespace hone::ml
