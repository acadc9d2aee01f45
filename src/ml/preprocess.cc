#include "ml/preprocess.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "core/errors.h"
#include "ml/graph_builder.h"

namespace hone::ml {

StatusOr<Impute> ImputeFromName(const std::string& name) {
  if (name == "mean") return Impute::kMean;
  if (name == "median") return Impute::kMedian;
  if (name == "most_frequent") return Impute::kMostFrequent;
  if (name == "constant") return Impute::kConstant;
  return InvalidArgument("unknown imputation '{}' (mean, median, most_frequent, constant)", name);
}

StatusOr<Scale> ScaleFromName(const std::string& name) {
  if (name == "none") return Scale::kNone;
  if (name == "standard") return Scale::kStandard;
  if (name == "minmax") return Scale::kMinMax;
  return InvalidArgument("unknown scaling '{}' (none, standard, minmax)", name);
}

namespace {

// Calls f(row) for `rows`, or for every row of the table when `rows` is empty.
template <typename F>
void ForRows(const Table& t, std::span<const int64_t> rows, F&& f) {
  if (rows.empty()) {
    for (int64_t r = 0; r < t.rows; ++r) f(r);
  } else {
    for (int64_t r : rows) f(r);
  }
}

// The most frequent value; among equally frequent ones the smallest (scikit-learn's rule).
template <typename T>
T MostFrequent(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  T best = v[0];
  size_t best_n = 0;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j < v.size() && v[j] == v[i]) ++j;
    if (j - i > best_n) {
      best_n = j - i;
      best = v[i];
    }
    i = j;
  }
  return best;
}

}  // namespace

Status Preprocessor::Fit(const Table& table, const std::vector<std::string>& columns,
                         const PreprocessOptions& o, std::span<const int64_t> rows) {
  *this = Preprocessor();
  if (o.string_impute != Impute::kMostFrequent && o.string_impute != Impute::kConstant)
    return InvalidArgument("string columns are imputed with most_frequent or constant");
  if (o.bins == 1 || o.bins < 0 || o.bins > 1000)
    return InvalidArgument("bins must be 0 (none) or 2 ... 1000, got {}", o.bins);
  if (o.degree != 1 && o.degree != 2)
    return InvalidArgument("polynomial degree must be 1 or 2, got {}", o.degree);
  if (o.bins > 0 && o.degree == 2)
    return InvalidArgument("choose quantile bins or polynomial features, not both");
  binned_ = o.bins > 0;
  degree_ = o.degree;
  for (const std::string& name : columns) {
    const int ci = table.index(name);
    if (ci < 0) return InvalidArgument("no column '{}' in the table", name);
    const Column& c = table.columns[static_cast<size_t>(ci)];
    if (c.kind == ColumnKind::kNumeric) {
      std::vector<double> present;
      ForRows(table, rows, [&](int64_t r) {
        const double v = c.numbers[static_cast<size_t>(r)];
        if (!std::isnan(v)) present.push_back(v);
      });
      Numeric n;
      if (present.empty()) {
        warnings_.push_back(fmt::format(
            "column '{}' is missing in every training row: it becomes a constant 0 feature", name));
        n.fill = o.numeric_impute == Impute::kConstant ? o.numeric_fill : 0.0;
      } else if (o.numeric_impute == Impute::kMean) {
        n.fill = std::accumulate(present.begin(), present.end(), 0.0) /
                 static_cast<double>(present.size());
      } else if (o.numeric_impute == Impute::kMedian) {
        std::sort(present.begin(), present.end());
        const size_t m = present.size();
        n.fill = m % 2 ? present[m / 2] : 0.5 * (present[m / 2 - 1] + present[m / 2]);
      } else if (o.numeric_impute == Impute::kMostFrequent) {
        n.fill = MostFrequent(present);
      } else {
        n.fill = o.numeric_fill;
      }
      // The scaler sees the imputed column (as in a Pipeline of imputer then scaler).
      double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
      int64_t count = 0;
      ForRows(table, rows, [&](int64_t r) {
        double v = c.numbers[static_cast<size_t>(r)];
        if (std::isnan(v)) v = n.fill;
        sum += v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        ++count;
      });
      const double mean = count ? sum / static_cast<double>(count) : 0.0;
      ForRows(table, rows, [&](int64_t r) {
        double v = c.numbers[static_cast<size_t>(r)];
        if (std::isnan(v)) v = n.fill;
        sq += (v - mean) * (v - mean);
      });
      if (present.empty()) {
        n.center = n.fill;  // constant 0 whatever the scaling
      } else if (o.scale == Scale::kStandard) {
        n.center = mean;
        const double sd = count ? std::sqrt(sq / static_cast<double>(count)) : 0.0;
        n.scale =
            sd > 10 * std::numeric_limits<double>::epsilon() * std::abs(mean) && sd > 0 ? sd : 1.0;
      } else if (o.scale == Scale::kMinMax) {
        n.center = lo;
        n.scale = hi - lo > 0 ? hi - lo : 1.0;
      }
      if (binned_ && !present.empty()) {
        // Quantile edges (numpy's linear percentiles) of the imputed column; the inner ones
        // that are more than 1e-8 above the previous kept edge.
        std::vector<double> v;
        ForRows(table, rows, [&](int64_t r) {
          const double x = c.numbers[static_cast<size_t>(r)];
          v.push_back(std::isnan(x) ? n.fill : x);
        });
        std::sort(v.begin(), v.end());
        std::vector<double> edges;
        for (int q = 0; q <= o.bins; ++q) {
          const double at = static_cast<double>(q) / o.bins * static_cast<double>(v.size() - 1);
          const size_t lo = static_cast<size_t>(std::floor(at));
          const double e = lo + 1 < v.size()
                               ? v[lo] + (at - static_cast<double>(lo)) * (v[lo + 1] - v[lo])
                               : v[lo];
          if (edges.empty() || e - edges.back() > 1e-8) edges.push_back(e);
        }
        for (size_t k = 1; k + 1 < edges.size(); ++k)
          n.edges.push_back(static_cast<float>(edges[k]));
        if (static_cast<int>(edges.size()) - 1 < o.bins)
          warnings_.push_back(
              fmt::format("column '{}': {} quantile bins of {} are too narrow "
                          "and were merged",
                          name, o.bins - static_cast<int>(edges.size()) + 1, o.bins));
      }
      numeric_names_.push_back(name);
      numeric_.push_back(n);
    } else {
      std::vector<std::string> present;
      bool any_missing = false;
      ForRows(table, rows, [&](int64_t r) {
        if (c.missing[static_cast<size_t>(r)])
          any_missing = true;
        else
          present.push_back(c.strings[static_cast<size_t>(r)]);
      });
      Categorical s;
      if (present.empty()) {
        warnings_.push_back(fmt::format(
            "column '{}' is missing in every training row: it becomes a constant feature", name));
        s.fill = o.string_fill;
      } else {
        s.fill = o.string_impute == Impute::kConstant ? o.string_fill : MostFrequent(present);
      }
      if (any_missing) present.push_back(s.fill);
      std::sort(present.begin(), present.end());
      present.erase(std::unique(present.begin(), present.end()), present.end());
      s.categories = std::move(present);
      string_names_.push_back(name);
      strings_.push_back(std::move(s));
    }
  }
  if (numeric_.empty() && strings_.empty()) return InvalidArgument("no feature columns");
  return Status::Ok();
}

int64_t Preprocessor::numeric_features() const {
  const int64_t k = static_cast<int64_t>(numeric_.size());
  if (binned_) {
    int64_t f = 0;
    for (const auto& n : numeric_) f += static_cast<int64_t>(n.edges.size()) + 1;
    return f;
  }
  return degree_ == 2 ? k + k * (k + 1) / 2 : k;
}

void Preprocessor::NumericFeatures(const float* imputed, float* out) const {
  const size_t k = numeric_.size();
  if (binned_) {
    // scikit-learn's tolerance: a value within 1e-8 + 1e-5 |x| below an edge counts as on it.
    for (size_t j = 0; j < k; ++j) {
      const float v = imputed[j];
      const float t = v + (1e-8f + 1e-5f * std::abs(v));
      const std::vector<float>& e = numeric_[j].edges;
      const size_t bin = static_cast<size_t>(std::upper_bound(e.begin(), e.end(), t) - e.begin());
      std::fill(out, out + e.size() + 1, 0.f);
      out[bin] = 1.f;
      out += e.size() + 1;
    }
    return;
  }
  for (size_t j = 0; j < k; ++j)  // float arithmetic, as the exported graph computes it
    out[j] = (imputed[j] - static_cast<float>(numeric_[j].center)) /
             static_cast<float>(numeric_[j].scale);
  if (degree_ == 2) {
    size_t at = k;
    for (size_t a = 0; a < k; ++a)
      for (size_t b = a; b < k; ++b) out[at++] = out[a] * out[b];
  }
}

int64_t Preprocessor::features() const {
  int64_t f = numeric_features();
  for (const auto& s : strings_) f += static_cast<int64_t>(s.categories.size());
  return f;
}

std::vector<std::string> Preprocessor::feature_names() const {
  std::vector<std::string> names;
  if (binned_) {
    for (size_t j = 0; j < numeric_.size(); ++j)
      for (size_t b = 0; b <= numeric_[j].edges.size(); ++b)
        names.push_back(fmt::format("{}#bin{}", numeric_names_[j], b));
  } else {
    names = numeric_names_;
    if (degree_ == 2)
      for (size_t a = 0; a < numeric_names_.size(); ++a)
        for (size_t b = a; b < numeric_names_.size(); ++b)
          names.push_back(a == b ? numeric_names_[a] + "^2"
                                 : numeric_names_[a] + "*" + numeric_names_[b]);
  }
  for (size_t j = 0; j < strings_.size(); ++j)
    for (const auto& c : strings_[j].categories) names.push_back(string_names_[j] + "=" + c);
  return names;
}

StatusOr<Tensor> Preprocessor::Transform(const Table& table, std::span<const int64_t> rows) const {
  std::vector<const Column*> num, str;
  for (const auto& name : numeric_names_) {
    const int ci = table.index(name);
    if (ci < 0) return InvalidArgument("the data has no column '{}' (the model needs it)", name);
    const Column& c = table.columns[static_cast<size_t>(ci)];
    if (c.kind != ColumnKind::kNumeric)
      return InvalidArgument("column '{}' holds strings; the model was fitted on numbers", name);
    num.push_back(&c);
  }
  for (const auto& name : string_names_) {
    const int ci = table.index(name);
    if (ci < 0) return InvalidArgument("the data has no column '{}' (the model needs it)", name);
    str.push_back(&table.columns[static_cast<size_t>(ci)]);
  }
  const int64_t n = rows.empty() ? table.rows : static_cast<int64_t>(rows.size());
  const int64_t f = features();
  Tensor x = Tensor::Empty(DataType::kFloat32, {n, f});
  float* out = x.data<float>();
  int64_t i = 0;
  std::vector<float> imputed(num.size());
  const int64_t numeric_f = numeric_features();
  ForRows(table, rows, [&](int64_t r) {
    float* row = out + i * f;
    const size_t ur = static_cast<size_t>(r);
    for (size_t j = 0; j < num.size(); ++j) {
      const float v = static_cast<float>(num[j]->numbers[ur]);
      imputed[j] = std::isnan(v) ? static_cast<float>(numeric_[j].fill) : v;
    }
    NumericFeatures(imputed.data(), row);
    int64_t off = numeric_f;
    for (size_t j = 0; j < str.size(); ++j) {
      const Categorical& s = strings_[j];
      // A numeric column where strings were fitted: its cells read as their text.
      std::string text;
      bool missing;
      if (str[j]->kind == ColumnKind::kString) {
        missing = str[j]->missing[ur];
        if (!missing) text = str[j]->strings[ur];
      } else {
        missing = std::isnan(str[j]->numbers[ur]);
        if (!missing) text = fmt::format("{}", str[j]->numbers[ur]);
      }
      const std::string& v = missing ? s.fill : text;
      auto it = std::lower_bound(s.categories.begin(), s.categories.end(), v);
      if (it != s.categories.end() && *it == v) row[off + (it - s.categories.begin())] = 1.f;
      off += static_cast<int64_t>(s.categories.size());
    }
    ++i;
  });
  return x;
}

void Preprocessor::AppendOnnx(Graph& g, const std::string& output) const {
  GraphBuilder b(g, "pre_");
  std::vector<std::string> parts;
  if (!numeric_.empty()) {
    g.inputs.push_back(
        BatchTensor("numeric", DataType::kFloat32, static_cast<int64_t>(numeric_.size())));
    std::vector<float> fill, center, scale;
    for (const auto& n : numeric_) {
      fill.push_back(static_cast<float>(n.fill));
      center.push_back(static_cast<float>(n.center));
      scale.push_back(static_cast<float>(n.scale));
    }
    const Shape s = {static_cast<int64_t>(numeric_.size())};
    const std::string nan = b.Op("IsNaN", {"numeric"});
    const std::string filled = b.Op("Where", {nan, b.Floats("fill", fill, s), "numeric"});
    if (binned_) {
      // t = x + (1e-8 + 1e-5 |x|); bin b of column j is hot where lower <= t < upper.
      const std::string tol =
          b.Op("Add", {b.Floats("atol", {1e-8f}, {}),
                       b.Op("Mul", {b.Floats("rtol", {1e-5f}, {}), b.Op("Abs", {filled})})});
      const std::string t = b.Op("Add", {filled, tol});
      std::vector<int64_t> column;
      std::vector<float> lower, upper;
      constexpr float kInf = std::numeric_limits<float>::infinity();
      for (size_t j = 0; j < numeric_.size(); ++j) {
        const std::vector<float>& e = numeric_[j].edges;
        for (size_t bin = 0; bin <= e.size(); ++bin) {
          column.push_back(static_cast<int64_t>(j));
          lower.push_back(bin == 0 ? -kInf : e[bin - 1]);
          upper.push_back(bin == e.size() ? kInf : e[bin]);
        }
      }
      const Shape nb = {static_cast<int64_t>(column.size())};
      Node& gather = b.Add("Gather", {t, b.Ints("bin_column", column, nb)}, {b.Name("per_bin")});
      GraphBuilder::SetInt(gather, "axis", 1);
      const std::string per_bin = gather.outputs[0];
      const std::string hot =
          b.Op("And", {b.Op("GreaterOrEqual", {per_bin, b.Floats("lower", lower, nb)}),
                       b.Op("Less", {per_bin, b.Floats("upper", upper, nb)})});
      const std::string hot_f = b.Name("bins");
      GraphBuilder::SetInt(b.Add("Cast", {hot}, {hot_f}), "to",
                           static_cast<int64_t>(DataType::kFloat32));
      parts.push_back(hot_f);
    } else {
      const std::string centred = b.Op("Sub", {filled, b.Floats("center", center, s)});
      const std::string scaled = b.Op("Div", {centred, b.Floats("scale", scale, s)});
      parts.push_back(scaled);
      if (degree_ == 2) {  // products x_a x_b, a <= b, in PolynomialFeatures' order
        std::vector<int64_t> ia, ib;
        for (size_t a = 0; a < numeric_.size(); ++a)
          for (size_t c = a; c < numeric_.size(); ++c) {
            ia.push_back(static_cast<int64_t>(a));
            ib.push_back(static_cast<int64_t>(c));
          }
        const Shape np = {static_cast<int64_t>(ia.size())};
        Node& ga = b.Add("Gather", {scaled, b.Ints("poly_a", ia, np)}, {b.Name("poly_a")});
        GraphBuilder::SetInt(ga, "axis", 1);
        const std::string left = ga.outputs[0];
        Node& gb = b.Add("Gather", {scaled, b.Ints("poly_b", ib, np)}, {b.Name("poly_b")});
        GraphBuilder::SetInt(gb, "axis", 1);
        const std::string right = gb.outputs[0];
        parts.push_back(b.Op("Mul", {left, right}));
      }
    }
  }
  if (!strings_.empty()) {
    g.inputs.push_back(
        BatchTensor("categorical", DataType::kString, static_cast<int64_t>(strings_.size())));
    const std::string axes = b.Ints("axes", {1}, {1});
    for (size_t j = 0; j < strings_.size(); ++j) {
      const Categorical& s = strings_[j];
      Node& gather =
          b.Add("Gather", {"categorical", b.Ints("column", {static_cast<int64_t>(j)}, {})},
                {b.Name("column")});
      GraphBuilder::SetInt(gather, "axis", 1);
      const std::string column = gather.outputs[0];
      // Category -> its index; "" (missing) -> the fill's index (-1 when the fill was never a
      // category); anything else -> -1, which matches no one-hot position.
      std::vector<std::string> keys = s.categories;
      std::vector<int64_t> values(keys.size());
      std::iota(values.begin(), values.end(), 0);
      auto it = std::lower_bound(s.categories.begin(), s.categories.end(), s.fill);
      if (std::find(keys.begin(), keys.end(), "") == keys.end()) {
        keys.push_back("");
        values.push_back(it != s.categories.end() && *it == s.fill ? it - s.categories.begin()
                                                                   : -1);
      }
      const std::string index = b.Name("index");
      Node& enc = b.Add("LabelEncoder", {column}, {index}, "ai.onnx.ml");
      GraphBuilder::SetStrings(enc, "keys_strings", keys);
      GraphBuilder::SetInts(enc, "values_int64s", values);
      GraphBuilder::SetInt(enc, "default_int64", -1);
      const std::string index2 = b.Op("Unsqueeze", {index, axes});
      std::vector<int64_t> positions(s.categories.size());
      std::iota(positions.begin(), positions.end(), 0);
      const std::string hot =
          b.Op("Equal",
               {index2, b.Ints("positions", positions, {static_cast<int64_t>(positions.size())})});
      const std::string hot_f = b.Name("onehot");
      GraphBuilder::SetInt(b.Add("Cast", {hot}, {hot_f}), "to",
                           static_cast<int64_t>(DataType::kFloat32));
      parts.push_back(hot_f);
    }
  }
  if (parts.size() == 1) {
    b.Add("Identity", {parts[0]}, {output});
  } else {
    GraphBuilder::SetInt(b.Add("Concat", parts, {output}), "axis", 1);
  }
}

}  // namespace hone::ml
