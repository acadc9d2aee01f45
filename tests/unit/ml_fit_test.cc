// hone fit's parts (src/ml): preprocessing, folds, logistic regression against scikit-learn's
// results, the search, and the exported pipeline running in a hone Session with the same
// predictions.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "hone/hone.h"
#include "hone/npy.h"
#include "ir/onnx_export.h"
#include "ml/linear.h"
#include "ml/logistic.h"
#include "ml/mlp.h"
#include "ml/model_selection.h"
#include "ml/numpy_random.h"
#include "ml/pipeline.h"
#include "ml/preprocess.h"
#include "ml/table.h"

namespace hone::ml {
namespace {

Table Csv(const std::string& text) {
  auto t = ParseCsv(text);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : Table{};
}

TEST(Preprocess, ImputesScalesAndEncodes) {
  const Table t = Csv("a,b,c\n1,x,5\n,y,5\n3,,5\n4,x,5\n");
  Preprocessor p;
  ASSERT_TRUE(p.Fit(t, {"a", "b", "c"}, {}).ok());
  // a: mean of {1, 3, 4} fills the gap; b: "x" (most frequent) fills, categories x, y.
  EXPECT_EQ(p.feature_names(), (std::vector<std::string>{"a", "c", "b=x", "b=y"}));
  auto x = p.Transform(t);
  ASSERT_TRUE(x.ok());
  const float* v = x->data<float>();
  const double mean = (1 + 8.0 / 3 + 3 + 4) / 4;
  double var = 0;
  for (double a : {1.0, 8.0 / 3, 3.0, 4.0}) var += (a - mean) * (a - mean) / 4;
  EXPECT_NEAR(v[0], (1 - mean) / std::sqrt(var), 1e-5);
  EXPECT_NEAR(v[4], (8.0 / 3 - mean) / std::sqrt(var), 1e-5);
  EXPECT_EQ(v[1], 0.f);  // constant column: centred, scale 1
  EXPECT_EQ(v[2], 1.f);  // row 0: b = x
  EXPECT_EQ(v[3], 0.f);
  EXPECT_EQ(v[2 * 4 + 2], 1.f);  // row 2: b missing -> x
  // A category not seen in training encodes as zeros.
  const Table unseen = Csv("a,b,c\n2,z,5\n");
  auto u = p.Transform(unseen);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->data<float>()[2], 0.f);
  EXPECT_EQ(u->data<float>()[3], 0.f);
}

TEST(Preprocess, MedianMinMaxAndAllMissing) {
  const Table t = Csv("a,b,gone\n1,p,\n2,q,\n10,q,\n,p,\n");
  PreprocessOptions o;
  o.numeric_impute = Impute::kMedian;
  o.scale = Scale::kMinMax;
  Preprocessor p;
  ASSERT_TRUE(p.Fit(t, {"a", "gone"}, o).ok());
  ASSERT_EQ(p.warnings().size(), 1u);
  EXPECT_NE(p.warnings()[0].find("gone"), std::string::npos);
  auto x = p.Transform(t);
  ASSERT_TRUE(x.ok());
  const float* v = x->data<float>();
  EXPECT_FLOAT_EQ(v[3 * 2], (2 - 1) / 9.f);  // missing -> median 2, min-max over [1, 10]
  EXPECT_FLOAT_EQ(v[2 * 2], 1.f);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(v[r * 2 + 1], 0.f);  // the all-missing column
}

TEST(Table, NpyColumnsTakeTheTypeOverridesAsCsvDoes) {
  Tensor t = Tensor::Empty(DataType::kFloat32, {2, 2});
  const float v[] = {1.5f, 7.f, std::nanf(""), 3.f};
  std::copy(v, v + 4, t.data<float>());
  const std::string path = ::testing::TempDir() + "/hone_types.npy";
  ASSERT_TRUE(WriteNpy(path, t).ok());
  CsvOptions o;
  o.types["c1"] = ColumnKind::kString;
  auto table = ReadTable(path, o);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->columns[0].kind, ColumnKind::kNumeric);
  ASSERT_EQ(table->columns[1].kind, ColumnKind::kString);
  EXPECT_EQ(table->columns[1].strings, (std::vector<std::string>{"7", "3"}));
  o.types = {{"c0", ColumnKind::kString}};
  table = ReadTable(path, o);
  ASSERT_TRUE(table.ok());
  EXPECT_TRUE(table->columns[0].missing[1]);  // NaN reads as missing
  o.types = {{"nope", ColumnKind::kString}};
  table = ReadTable(path, o);
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.status().message().find("no column 'nope'"), std::string::npos);
}

TEST(Preprocess, QuantileBinsMatchKBinsDiscretizer) {
  const Table t = Csv("a\n1\n2\n2\n2\n3\n5\n8\n13\n21\n34\n");
  PreprocessOptions o;
  o.bins = 4;
  Preprocessor p;
  ASSERT_TRUE(p.Fit(t, {"a"}, o).ok());
  // KBinsDiscretizer(4, strategy='quantile'): edges 1, 2, 4, 11.75, 34.
  ASSERT_EQ(p.features(), 4);
  EXPECT_EQ(p.feature_names()[3], "a#bin3");
  auto hot_bin = [](const Tensor& x, int64_t row) {
    int bin = -1, hot = 0;
    for (int b = 0; b < 4; ++b)
      if (x.data<float>()[row * 4 + b] == 1.f) ++hot, bin = b;
    return hot == 1 ? bin : -1;
  };
  auto x = p.Transform(t);
  ASSERT_TRUE(x.ok());
  const int want[] = {0, 1, 1, 1, 1, 2, 2, 3, 3, 3};
  for (int r = 0; r < 10; ++r) EXPECT_EQ(hot_bin(*x, r), want[r]) << r;
  auto y = p.Transform(Csv("a\n0\n2.5\n100\n5\n"));
  ASSERT_TRUE(y.ok());
  const int want_new[] = {0, 1, 3, 2};
  for (int r = 0; r < 4; ++r) EXPECT_EQ(hot_bin(*y, r), want_new[r]) << r;
  // 8 bins: three quantiles coincide at 2, so 7 bins remain (with a warning).
  o.bins = 8;
  ASSERT_TRUE(p.Fit(t, {"a"}, o).ok());
  EXPECT_EQ(p.features(), 7);
  ASSERT_EQ(p.warnings().size(), 1u);
  EXPECT_NE(p.warnings()[0].find("merged"), std::string::npos);
}

TEST(Preprocess, PolynomialFeaturesMatchScikitLearn) {
  const Table t = Csv("p,q\n1,2\n3,-1\n0,4\n");
  PreprocessOptions o;
  o.degree = 2;
  Preprocessor p;
  ASSERT_TRUE(p.Fit(t, {"p", "q"}, o).ok());
  EXPECT_EQ(p.feature_names(), (std::vector<std::string>{"p", "q", "p^2", "p*q", "q^2"}));
  auto x = p.Transform(t);
  ASSERT_TRUE(x.ok());
  // StandardScaler then PolynomialFeatures(2, include_bias=False), row 0.
  const double want[] = {-0.26726124, 0.16222142, 0.07142857, -0.0433555, 0.02631579};
  for (int j = 0; j < 5; ++j) EXPECT_NEAR(x->data<float>()[j], want[j], 1e-6) << j;
  o.bins = 3;
  EXPECT_NE(p.Fit(t, {"p", "q"}, o).message().find("not both"), std::string::npos);
  o = {};
  o.bins = 1;
  EXPECT_NE(p.Fit(t, {"p", "q"}, o).message().find("bins"), std::string::npos);
}

TEST(Preprocess, ClearErrors) {
  const Table t = Csv("a,b\n1,x\n");
  Preprocessor p;
  Status s = p.Fit(t, {"a", "nope"}, {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nope"), std::string::npos);
  ASSERT_TRUE(p.Fit(t, {"a", "b"}, {}).ok());
  auto x = p.Transform(Csv("a\n1\n"));
  ASSERT_FALSE(x.ok());
  EXPECT_NE(x.status().message().find("'b'"), std::string::npos);
}

TEST(Folds, StratifiedMatchesScikitLearn) {
  // scikit-learn 1.2: StratifiedKFold(3).split(zeros(16), y) test folds.
  const std::vector<int32_t> y = {1, 0, 0, 0, 2, 0, 0, 1, 1, 0, 0, 0, 2, 2, 0, 1};
  std::vector<int64_t> rows(y.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  auto folds = StratifiedKFold(rows, y, 3);
  ASSERT_TRUE(folds.ok()) << folds.status().ToString();
  ASSERT_EQ(folds->size(), 3u);
  EXPECT_EQ((*folds)[0].test, (std::vector<int64_t>{0, 1, 2, 3, 4, 7}));
  EXPECT_EQ((*folds)[1].test, (std::vector<int64_t>{5, 6, 8, 9, 12}));
  EXPECT_EQ((*folds)[2].test, (std::vector<int64_t>{10, 11, 13, 14, 15}));
  EXPECT_EQ((*folds)[1].train.size() + (*folds)[1].test.size(), y.size());
  EXPECT_FALSE(StratifiedKFold(rows, y, 1).ok());
  const auto k = KFold(rows, 3);  // 6, 5, 5 rows
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ((*k)[0].test.size(), 6u);
  EXPECT_EQ((*k)[2].test.front(), 11);
  EXPECT_FALSE(KFold(rows, 1).ok());
  EXPECT_FALSE(KFold({1, 2}, 3).ok());
}

TEST(NumpyRandom, ReproducesRandomState) {
  NumpyRandom r(0);  // np.random.RandomState(0).uniform(-0.1, 0.1, 3)
  EXPECT_NEAR(r.Uniform(-0.1, 0.1), 0.0097627, 1e-7);
  EXPECT_NEAR(r.Uniform(-0.1, 0.1), 0.04303787, 1e-8);
  EXPECT_NEAR(r.Uniform(-0.1, 0.1), 0.02055268, 1e-8);
  NumpyRandom s(7);  // a = np.arange(10); RandomState(7).shuffle(a)
  std::vector<int> a(10);
  std::iota(a.begin(), a.end(), 0);
  s.Shuffle(a);
  EXPECT_EQ(a, (std::vector<int>{8, 5, 0, 2, 1, 9, 7, 3, 6, 4}));
  EXPECT_DOUBLE_EQ(NumpyRandom(0).Sample(), 0.5488135039273248);
}

TEST(Folds, RandomCandidatesDrawFromTheirDistributions) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> space = {
      {"C", {"loguniform:0.001:100"}},
      {"scale", {"standard", "minmax"}},
      {"max_iter", {"randint:10:20"}},
      {"x", {"uniform:-1:1"}}};
  auto a = RandomCandidates(space, 50, 3);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->size(), 50u);
  bool small = false, large = false, both[2] = {false, false};
  for (const Params& p : *a) {
    const double c = std::stod(p.at("C"));
    EXPECT_GE(c, 0.001);
    EXPECT_LE(c, 100.0);
    small |= c < 0.01;  // log-uniform: a fifth of the draws below 0.01
    large |= c > 10;
    ASSERT_TRUE(p.at("scale") == "standard" || p.at("scale") == "minmax");
    both[p.at("scale") == "minmax"] = true;
    const int it = std::stoi(p.at("max_iter"));
    EXPECT_GE(it, 10);
    EXPECT_LE(it, 20);
    EXPECT_LE(std::abs(std::stod(p.at("x"))), 1.0);
  }
  EXPECT_TRUE(small && large && both[0] && both[1]);
  auto b = RandomCandidates(space, 50, 3);  // the same seed draws the same candidates
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(RandomCandidates({{"C", {"loguniform:0:1"}}}, 5, 0).ok());
  EXPECT_FALSE(RandomCandidates({{"C", {"uniform:2:1"}}}, 5, 0).ok());
  EXPECT_FALSE(RandomCandidates({{"C", {"uniform:a:1"}}}, 5, 0).ok());
  EXPECT_FALSE(RandomCandidates(space, 0, 0).ok());
}

Tensor Matrix(const std::vector<std::vector<float>>& rows) {
  Tensor t = Tensor::Empty(DataType::kFloat32, {static_cast<int64_t>(rows.size()),
                                                static_cast<int64_t>(rows[0].size())});
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy(rows[i].begin(), rows[i].end(), t.data<float>() + i * rows[0].size());
  return t;
}

const std::vector<std::vector<float>> kX = {{0.5, 1.0},   {1.5, -0.5}, {-1.0, 0.3}, {2.0, 2.0},
                                            {-0.3, -1.2}, {0.8, 0.1},  {-1.5, 1.1}, {0.2, -0.7},
                                            {1.1, 0.9},   {-0.6, -0.2}};

TEST(Logistic, BinaryMatchesScikitLearn) {
  // LogisticRegression(C=0.5, tol=1e-8).fit(X, y).predict_proba(X)[:, 1]
  const std::vector<int32_t> y = {1, 1, 0, 1, 0, 1, 0, 0, 1, 0};
  const std::vector<float> want = {0.648433, 0.716781, 0.230572, 0.928637, 0.233542,
                                   0.622992, 0.207424, 0.386677, 0.76244,  0.262501};
  LogisticRegression lr;
  LogisticOptions o;
  o.c = 0.5;
  o.tol = 1e-8;
  ASSERT_TRUE(lr.Fit(Matrix(kX), y, 2, o).ok());
  const auto p = lr.PredictProba(Matrix(kX));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(p[2 * i + 1], want[i], 2e-5) << i;
}

TEST(Logistic, MultinomialMatchesScikitLearn) {
  const std::vector<int32_t> y = {0, 1, 2, 1, 0, 2, 2, 0, 1, 2};
  const std::vector<std::vector<float>> want = {
      {0.256613, 0.286623, 0.456764}, {0.301253, 0.630878, 0.067869},
      {0.213917, 0.011029, 0.775054}, {0.031082, 0.934261, 0.034657},
      {0.606084, 0.035046, 0.35887},  {0.378912, 0.369124, 0.251963},
      {0.08588, 0.003353, 0.910767},  {0.563275, 0.110101, 0.326624},
      {0.204554, 0.594043, 0.201402}, {0.358427, 0.025545, 0.616028}};
  LogisticRegression lr;
  LogisticOptions o;
  o.c = 2.0;
  o.tol = 1e-8;
  ASSERT_TRUE(lr.Fit(Matrix(kX), y, 3, o).ok());
  EXPECT_TRUE(lr.converged());
  const auto p = lr.PredictProba(Matrix(kX));
  for (size_t i = 0; i < want.size(); ++i)
    for (size_t c = 0; c < 3; ++c) EXPECT_NEAR(p[3 * i + c], want[i][c], 2e-5) << i << "," << c;
  EXPECT_FALSE(lr.Fit(Matrix(kX), y, 3, LogisticOptions{-1.0}).ok());  // C must be positive
}

TEST(Linear, RidgeAndLeastSquaresMatchScikitLearn) {
  const std::vector<double> y = {1.2, 0.3, -2.0, 4.1, -1.5, 0.9, -1.1, -0.4, 2.2, -0.8};
  Ridge r;
  ASSERT_TRUE(r.Fit(Matrix(kX), y, 0.7).ok());  // Ridge(alpha=0.7)
  EXPECT_NEAR(r.coef()[0], 1.1574598198921882, 1e-6);
  EXPECT_NEAR(r.coef()[1], 0.8748480416392174, 1e-6);
  EXPECT_NEAR(r.intercept(), -0.26747160115865887, 1e-6);
  ASSERT_TRUE(r.Fit(Matrix(kX), y, 0.0).ok());  // LinearRegression()
  EXPECT_NEAR(r.coef()[0], 1.2170045614665352, 1e-6);
  EXPECT_NEAR(r.coef()[1], 0.9293443982012873, 1e-6);
  EXPECT_NEAR(r.intercept(), -0.2988076611008078, 1e-6);
  const auto p = r.Predict(Matrix(kX));
  EXPECT_GT(R2(y, p), 0.9);
  EXPECT_DOUBLE_EQ(R2(y, y), 1.0);
  // Two identical columns without a penalty: refused with advice.
  const Status s = r.Fit(Matrix({{1, 1}, {2, 2}, {3, 3}}), std::vector<double>{1, 2, 3}, 0.0);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("alpha"), std::string::npos);
}

TEST(MlpTest, LearnsXorWhichNoLinearModelCan) {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<std::vector<float>> rows;
  std::vector<int32_t> y;
  for (int i = 0; i < 400; ++i) {
    const float a = u(rng), b = u(rng);
    rows.push_back({a, b});
    y.push_back((a > 0) != (b > 0));
  }
  const Tensor x = Matrix(rows);
  Mlp net;
  MlpOptions o;
  o.hidden = {16, 8};
  o.learning_rate = 0.01;
  o.seed = 1;
  ASSERT_TRUE(net.Fit(x, y, 2, o).ok());
  const auto pred = net.Predict(x);
  int right = 0;
  for (size_t i = 0; i < y.size(); ++i) right += pred[i] == y[i];
  EXPECT_GT(right, 370) << "epochs " << net.epochs();
  LogisticRegression lr;
  ASSERT_TRUE(lr.Fit(x, y, 2).ok());
  const auto lin = lr.Predict(x);
  int lin_right = 0;
  for (size_t i = 0; i < y.size(); ++i) lin_right += lin[i] == y[i];
  EXPECT_LT(lin_right, 300);
  o.hidden = {0};
  EXPECT_FALSE(net.Fit(x, y, 2, o).ok());
}

// 600 rows: two numeric columns (one with gaps), a string column, a binary target.
Table Mixed(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  const char* cities[] = {"north", "south", "east", "west"};
  std::string csv = "x1,x2,city,y\n";
  for (int i = 0; i < 600; ++i) {
    const double a = z(rng), b = 3 * z(rng);
    const int c = static_cast<int>(rng() % 4);
    const double logit = 1.5 * a - 0.4 * b + (c == 1 ? 1.0 : -0.5);
    const int y = std::uniform_real_distribution<double>(0, 1)(rng) < 1 / (1 + std::exp(-logit));
    csv += (i % 17 == 3 ? std::string() : fmt::format("{}", a)) + "," + fmt::format("{}", b) + "," +
           (i % 29 == 5 ? "" : cities[c]) + "," + (y ? "yes" : "no") + "\n";
  }
  return Csv(csv);
}

// Exports `p`, loads it in a hone Session and runs it on `t` (numeric columns 0 and 1, string
// column 2, as Mixed and the regression test build them); the first output.
StatusOr<Tensor> RunExported(const Pipeline& p, const Table& t) {
  HONE_ASSIGN_OR_RETURN(std::string bytes, ExportOnnxModel(p.ToOnnx()));
  HONE_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                        Session::FromBytes(std::span<const uint8_t>(
                            reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
  Tensor num = Tensor::Empty(DataType::kFloat32, {t.rows, 2});
  Tensor cat = Tensor::Empty(DataType::kString, {t.rows, 1});
  for (int64_t i = 0; i < t.rows; ++i) {
    const size_t u = static_cast<size_t>(i);
    num.data<float>()[2 * i] = static_cast<float>(t.columns[0].numbers[u]);
    num.data<float>()[2 * i + 1] = static_cast<float>(t.columns[1].numbers[u]);
    if (!t.columns[2].missing[u]) cat.data<std::string>()[i] = t.columns[2].strings[u];
  }
  HONE_ASSIGN_OR_RETURN(std::vector<NamedTensor> out,
                        session->Run({{"numeric", num}, {"categorical", cat}}));
  return out[0].tensor;
}

// Rows where the exported graph's string label (`out`) is the class `p` predicts.
int64_t SameLabels(const Tensor& out, const Pipeline& p, const std::vector<int32_t>& want) {
  int64_t same = 0;
  for (int64_t i = 0; i < out.numel(); ++i)
    same += out.data<std::string>()[i] ==
            p.class_names[static_cast<size_t>(want[static_cast<size_t>(i)])];
  return same;
}

TEST(FitPipeline, SearchesAndExportsWhatHoneRunsIdentically) {
  const Table t = Mixed(7);
  FitOptions o;
  o.target = "y";
  o.grid = {{"C", {"0.01", "1"}}, {"scale", {"standard", "minmax"}}};
  o.threads = 2;
  int progress = 0;
  o.progress = [&](int done, int total) {
    EXPECT_EQ(total, 4 * 5);
    progress = done;
  };
  auto r = FitPipeline(t, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(progress, 20);
  ASSERT_EQ(r->candidates.size(), 4u);
  EXPECT_EQ(r->pipeline.class_names, (std::vector<std::string>{"no", "yes"}));
  EXPECT_GT(r->best_cv_score, 0.7);
  EXPECT_GT(r->test_score, 0.7);
  EXPECT_EQ(r->test_rows, 120);
  int best = 0;
  for (const auto& c : r->candidates) {
    best += c.rank == 1;
    EXPECT_EQ(c.fold_scores.size(), 5u);
    EXPECT_LE(c.mean_score, r->best_cv_score);
  }
  EXPECT_EQ(best, 1);

  // The exported graph, run by a hone Session, predicts what the pipeline predicts, including
  // for a category never seen in training and missing cells.
  Table test = Mixed(8);
  test.columns[2].strings[0] = "atlantis";  // unseen
  test.columns[2].missing[0] = false;
  const int64_t n = test.rows;
  auto out = RunExported(r->pipeline, test);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto want = r->pipeline.Predict(test);
  ASSERT_TRUE(want.ok());
  const Tensor& label = *out;
  ASSERT_EQ(label.dtype(), DataType::kString);
  ASSERT_EQ(label.numel(), n);
  EXPECT_EQ(SameLabels(label, r->pipeline, *want), n);
}

TEST(FitPipeline, BinsAndPolynomialFeaturesExportWhatHoneRuns) {
  const Table t = Mixed(11);
  for (const char* step : {"bins", "poly"}) {
    SCOPED_TRACE(step);
    FitOptions o;
    o.target = "y";
    o.grid = {{step, {std::string(step) == "bins" ? "5" : "2"}}, {"C", {"1"}}};
    auto r = FitPipeline(t, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GT(r->best_cv_score, 0.7);
    // bins: 2 numeric columns x 5 bins; poly: 2 + 3 products; then the 4 cities.
    EXPECT_EQ(r->pipeline.preprocess.features(), std::string(step) == "bins" ? 14 : 9);
    auto out = RunExported(r->pipeline, t);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    auto want = r->pipeline.Predict(t);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(SameLabels(*out, r->pipeline, *want), t.rows);
  }
}

TEST(FitPipeline, GivenCandidatesAreSearchedAsGiven) {
  FitOptions o;
  o.target = "y";
  o.given = {{{"C", "0.01"}}, {{"C", "10"}, {"scale", "minmax"}}, {{"C", "1"}}};
  auto r = FitPipeline(Mixed(5), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->candidates.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(r->candidates[i].params, o.given[i]);
  o.grid = {{"C", {"1"}}};  // both: refused
  r = FitPipeline(Mixed(5), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not both"), std::string::npos);
}

TEST(FitPipeline, RandomSearch) {
  FitOptions o;
  o.target = "y";
  o.search = "random";
  o.candidates = 4;
  o.grid = {{"C", {"loguniform:0.01:10"}}};
  auto r = FitPipeline(Mixed(3), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->candidates.size(), 4u);
  EXPECT_GT(r->best_cv_score, 0.7);
  o.search = "grid";  // a distribution needs the random search
  r = FitPipeline(Mixed(3), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--search random"), std::string::npos);
}

TEST(FitPipeline, SuccessiveHalvingKeepsTheBestThirdOnTripledRows) {
  FitOptions o;
  o.target = "y";
  o.search = "halving";
  o.test_size = 0;
  o.grid = {{"C", {"0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"}}};
  auto r = FitPipeline(Mixed(5), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // 600 rows, 9 candidates: rounds of 9, 3 and 1 candidates on 66, 198 and 594 rows.
  std::vector<int> per_round(3, 0);
  std::vector<int64_t> rows(3, 0);
  for (const auto& c : r->candidates) {
    ASSERT_LT(c.iteration, 3);
    per_round[static_cast<size_t>(c.iteration)]++;
    rows[static_cast<size_t>(c.iteration)] = c.resources;
  }
  EXPECT_EQ(per_round, (std::vector<int>{9, 3, 1}));
  EXPECT_EQ(rows, (std::vector<int64_t>{66, 198, 594}));
  // The winner is the last round's candidate, which was among the first round's best third.
  const auto& best = *std::find_if(r->candidates.begin(), r->candidates.end(),
                                   [](const CandidateResult& c) { return c.rank == 1; });
  EXPECT_EQ(best.iteration, 2);
  EXPECT_EQ(best.params, r->best);
}

TEST(FitPipeline, RegressionSearchesAlphaAndExportsThePrediction) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z;
  std::string csv = "a,b,kind,price\n";
  for (int i = 0; i < 300; ++i) {
    const double a = z(rng), b = z(rng);
    const int k = static_cast<int>(rng() % 3);
    csv += fmt::format("{},{},{},{}\n", a, b, "xyz"[k], 3 * a - 2 * b + k + 0.1 * z(rng));
  }
  const Table t = Csv(csv);
  FitOptions o;
  o.target = "price";  // numeric with many values: auto picks linear regression
  o.grid = {{"alpha", {"0.1", "10"}}};
  auto r = FitPipeline(t, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->pipeline.regression());
  EXPECT_STREQ(r->pipeline.model->kind(), "linear");
  EXPECT_EQ(r->scoring, "r2");
  EXPECT_GT(r->best_cv_score, 0.99);
  EXPECT_GT(r->test_score, 0.99);
  auto out = RunExported(r->pipeline, t);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto want = r->pipeline.PredictValues(t);
  ASSERT_TRUE(want.ok());
  const Tensor& pred = *out;
  ASSERT_EQ(pred.numel(), t.rows);
  for (int64_t i = 0; i < t.rows; ++i)
    EXPECT_NEAR(pred.data<float>()[i], (*want)[static_cast<size_t>(i)], 1e-4) << i;
  o.grid = {{"C", {"1"}}};  // a classifier's parameter
  r = FitPipeline(t, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("linear: alpha"), std::string::npos);
}

TEST(FitPipeline, MlpExportRunsInHoneWithThePipelinesPredictions) {
  const Table t = Mixed(9);
  FitOptions o;
  o.target = "y";
  o.model = "mlp";
  o.grid = {{"hidden", {"8", "8-4"}}, {"max_iter", {"100"}}};
  auto r = FitPipeline(t, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_STREQ(r->pipeline.model->kind(), "mlp");
  EXPECT_GT(r->best_cv_score, 0.7);
  auto out = RunExported(r->pipeline, t);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto want = r->pipeline.Predict(t);
  ASSERT_TRUE(want.ok());
  // (float sums in another order may flip a tie)
  EXPECT_GE(SameLabels(*out, r->pipeline, *want), t.rows - 1);
  o.grid = {{"hidden", {"8-x"}}};
  r = FitPipeline(t, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("8-x"), std::string::npos);
}

TEST(FitPipeline, BadInputGetsClearErrors) {
  const Table t = Mixed(1);
  FitOptions o;
  o.target = "nope";
  auto r = FitPipeline(t, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no target column 'nope'"), std::string::npos);
  o.target = "y";
  o.grid = {{"gamma", {"1"}}};
  r = FitPipeline(t, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown parameter 'gamma'"), std::string::npos);
  o.grid = {{"C", {"abc"}}};
  r = FitPipeline(t, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a number"), std::string::npos);
  // A ragged CSV is an error naming the line.
  auto ragged = ParseCsv("a,b\n1,2\n3\n");
  ASSERT_FALSE(ragged.ok());
  EXPECT_NE(ragged.status().message().find("line 3"), std::string::npos);
  // One class only.
  const Table single = Csv("a,y\n1,k\n2,k\n3,k\n");
  o.grid.clear();
  r = FitPipeline(single, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("at least two"), std::string::npos);
}

}  // namespace
}  // namespace hone::ml
