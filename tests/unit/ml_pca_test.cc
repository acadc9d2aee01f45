// src/ml: CSV tables, the symmetric eigensolver and PCA (against closed-form cases and the
// properties scikit-learn's PCA has).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/thread_pool.h"
#include "hone/hone.h"
#include "ir/onnx_export.h"
#include "ml/linalg.h"
#include "ml/pca.h"
#include "ml/table.h"

namespace hone::ml {
namespace {

TEST(Csv, InfersKindsAndReadsMissingCellsAndQuotes) {
  auto t = ParseCsv(
      "age,city,income\n"
      "34,\"Paris, FR\",1200.5\n"
      "NA,Lyon,\n"
      "51,\"say \"\"hi\"\"\",3e3\r\n"
      "\n"
      "7,,-2\n");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->rows, 4);
  ASSERT_EQ(t->columns.size(), 3u);
  const Column& age = t->columns[0];
  EXPECT_EQ(age.kind, ColumnKind::kNumeric);
  EXPECT_EQ(age.numbers[0], 34);
  EXPECT_TRUE(std::isnan(age.numbers[1]));
  EXPECT_EQ(age.missing_count(), 1);
  const Column& city = t->columns[1];
  EXPECT_EQ(city.kind, ColumnKind::kString);
  EXPECT_EQ(city.strings[0], "Paris, FR");
  EXPECT_EQ(city.strings[2], "say \"hi\"");
  EXPECT_TRUE(city.missing[3]);
  EXPECT_EQ(city.missing_count(), 1);
  const Column& income = t->columns[2];
  EXPECT_EQ(income.kind, ColumnKind::kNumeric);
  EXPECT_EQ(income.numbers[2], 3000);
  EXPECT_EQ(income.numbers[3], -2);
  EXPECT_TRUE(std::isnan(income.numbers[1]));
  auto m = t->NumericMatrix({"age", "income"});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->shape(), (std::vector<int64_t>{4, 2}));
  EXPECT_FLOAT_EQ(m->data<float>()[1], 1200.5f);
  auto bad = t->NumericMatrix({"city"});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("city"), std::string::npos);
}

TEST(Csv, TypeOverridesAndErrorsNameTheLine) {
  CsvOptions o;
  o.types["zip"] = ColumnKind::kString;
  auto t = ParseCsv("zip,n\n01234,1\n75001,2\n", o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->columns[0].kind, ColumnKind::kString);
  EXPECT_EQ(t->columns[0].strings[0], "01234");

  auto ragged = ParseCsv("a,b\n1,2\n3\n", {}, "x.csv");
  ASSERT_FALSE(ragged.ok());
  EXPECT_NE(ragged.status().message().find("x.csv: line 3"), std::string::npos)
      << ragged.status().message();
  auto open = ParseCsv("a\n\"never closed\n", {}, "y.csv");
  EXPECT_FALSE(open.ok());
  CsvOptions num;
  num.types["a"] = ColumnKind::kNumeric;
  auto notnum = ParseCsv("a\n1\nx\n", num, "z.csv");
  ASSERT_FALSE(notnum.ok());
  EXPECT_NE(notnum.status().message().find("line 3"), std::string::npos);
  EXPECT_FALSE(ParseCsv("a,a\n1,2\n").ok()) << "duplicate names";
  EXPECT_FALSE(ParseCsv("").ok());
  EXPECT_FALSE(ReadCsv("/nonexistent/file.csv").ok());
}

TEST(SymmetricEigen, RecoversAKnownDecomposition) {
  // A = Q diag(5, 2, 1) Q^T with a rotation Q.
  const double c = std::cos(0.3), s = std::sin(0.3);
  const double q[3][3] = {{c, -s, 0}, {s, c, 0}, {0, 0, 1}};
  const double lam[3] = {2, 5, 1};
  std::vector<double> a(9, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) a[static_cast<size_t>(i * 3 + j)] += q[i][k] * lam[k] * q[j][k];
  std::vector<double> vectors;
  std::vector<double> values = SymmetricEigen(a, 3, vectors);
  ASSERT_EQ(values.size(), 3u);
  EXPECT_NEAR(values[0], 5, 1e-12);
  EXPECT_NEAR(values[1], 2, 1e-12);
  EXPECT_NEAR(values[2], 1, 1e-12);
  // The top eigenvector is Q's second column (up to sign).
  EXPECT_NEAR(std::fabs(vectors[0] * -s + vectors[1] * c), 1, 1e-12);
  // A v = lambda v for each pair.
  for (int e = 0; e < 3; ++e)
    for (int i = 0; i < 3; ++i) {
      double av = 0;
      for (int j = 0; j < 3; ++j)
        av += a[static_cast<size_t>(i * 3 + j)] * vectors[static_cast<size_t>(e * 3 + j)];
      EXPECT_NEAR(av, values[static_cast<size_t>(e)] * vectors[static_cast<size_t>(e * 3 + i)],
                  1e-12);
    }
}

Tensor RandomData(int64_t n, int64_t d, uint32_t seed) {
  // Correlated columns with different scales and non-zero means.
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  Tensor x = Tensor::Uninitialized(DataType::kFloat32, {n, d});
  for (int64_t r = 0; r < n; ++r) {
    const float z = g(rng);
    for (int64_t j = 0; j < d; ++j)
      x.data<float>()[r * d + j] =
          10.0f + static_cast<float>(j) + (static_cast<float>(j % 3) + 0.5f) * g(rng) + z * 0.7f;
  }
  return x;
}

TEST(Pca, MatchesTheCovarianceDefinition) {
  const int64_t n = 500, d = 6;
  Tensor x = RandomData(n, d, 1);
  Pca pca;
  ASSERT_TRUE(pca.Fit(x, d).ok());
  // Reference covariance in double, straight from the definition.
  std::vector<double> mean(d, 0.0), cov(d * d, 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < d; ++j) mean[j] += x.data<float>()[r * d + j] / static_cast<double>(n);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        cov[i * d + j] += (x.data<float>()[r * d + i] - mean[i]) *
                          (x.data<float>()[r * d + j] - mean[j]) / static_cast<double>(n - 1);
  double trace = 0;
  for (int64_t i = 0; i < d; ++i) trace += cov[i * d + i];
  double sum_ratio = 0;
  for (int64_t c = 0; c < d; ++c) {
    const float* v = pca.component_matrix().data() + c * d;
    // v^T C v equals the explained variance; components are orthonormal.
    double vcv = 0;
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) vcv += v[i] * cov[i * d + j] * v[j];
    EXPECT_NEAR(vcv, pca.explained_variance()[c], 1e-3 * pca.explained_variance()[0]);
    for (int64_t c2 = 0; c2 < d; ++c2) {
      const float* w = pca.component_matrix().data() + c2 * d;
      double dot = 0;
      for (int64_t j = 0; j < d; ++j) dot += v[j] * w[j];
      EXPECT_NEAR(dot, c == c2 ? 1.0 : 0.0, 1e-5);
    }
    if (c > 0) {
      EXPECT_GE(pca.explained_variance()[c - 1], pca.explained_variance()[c]);
    }
    sum_ratio += pca.explained_variance_ratio()[c];
    EXPECT_NEAR(pca.singular_values()[c],
                std::sqrt(pca.explained_variance()[c] * static_cast<double>(n - 1)), 1e-9);
  }
  EXPECT_NEAR(sum_ratio, 1.0, 1e-6) << "all components explain all the variance";
  double ev_sum = 0;
  for (double e : pca.explained_variance()) ev_sum += e;
  EXPECT_NEAR(ev_sum, trace, 1e-4 * trace);
}

TEST(Pca, TransformProjectsAndWhitens) {
  const int64_t n = 3000, d = 5;  // more rows than one block
  Tensor x = RandomData(n, d, 2);
  for (bool whiten : {false, true}) {
    Pca pca;
    PcaOptions o;
    o.whiten = whiten;
    ASSERT_TRUE(pca.Fit(x, 3, o).ok());
    auto y = pca.Transform(x);
    ASSERT_TRUE(y.ok());
    ASSERT_EQ(y->shape(), (std::vector<int64_t>{n, 3}));
    for (int64_t c = 0; c < 3; ++c) {
      double m = 0, v = 0;
      for (int64_t r = 0; r < n; ++r) m += y->data<float>()[r * 3 + c];
      m /= static_cast<double>(n);
      for (int64_t r = 0; r < n; ++r) {
        const double e = y->data<float>()[r * 3 + c] - m;
        v += e * e / static_cast<double>(n - 1);
      }
      EXPECT_NEAR(m, 0, 1e-3) << "projected data is centred";
      EXPECT_NEAR(v, whiten ? 1.0 : pca.explained_variance()[c], 2e-3 * (whiten ? 1 : v))
          << "component " << c << (whiten ? " whitened" : "");
    }
  }
}

TEST(Pca, ExportedGraphRunsTheSameTransform) {
  Tensor x = RandomData(64, 7, 3);
  Pca pca;
  PcaOptions o;
  o.whiten = true;
  ASSERT_TRUE(pca.Fit(x, 4, o).ok());
  auto bytes = ExportOnnxModel(pca.ToOnnx());
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto session = Session::FromBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  auto out = (*session)->Run({{"X", x}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto y = pca.Transform(x);
  ASSERT_TRUE(y.ok());
  ASSERT_EQ((*out)[0].tensor.shape(), y->shape());
  for (int64_t i = 0; i < y->numel(); ++i)
    EXPECT_NEAR((*out)[0].tensor.data<float>()[i], y->data<float>()[i], 1e-4);
}

TEST(Pca, ThreadsGiveTheSameResult) {
  Tensor x = RandomData(5000, 9, 6);  // several row blocks per thread
  ThreadPool pool(2);
  Pca one, two;
  ASSERT_TRUE(one.Fit(x, 4).ok());
  ASSERT_TRUE(two.Fit(x, 4, {}, &pool).ok());
  for (int64_t c = 0; c < 4; ++c)
    EXPECT_NEAR(one.explained_variance()[c], two.explained_variance()[c],
                1e-6 * one.explained_variance()[0]);
  auto a = one.Transform(x);
  auto b = two.Transform(x, &pool);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int64_t i = 0; i < a->numel(); ++i)
    ASSERT_NEAR(a->data<float>()[i], b->data<float>()[i], 1e-3) << i;
}

TEST(Pca, RandomizedSolverAgreesWithTheExactOne) {
  // 3000 x 120 with a decaying spectrum: column j scaled by 1 / (1 + j / 4).
  Tensor x = RandomData(3000, 120, 7);
  for (int64_t r = 0; r < 3000; ++r)
    for (int64_t j = 0; j < 120; ++j)
      x.data<float>()[r * 120 + j] /= static_cast<float>(1.0 + static_cast<double>(j) / 4);
  Pca full, rnd;
  ASSERT_TRUE(full.Fit(x, 5).ok());
  PcaOptions o;
  o.solver = "randomized";
  ASSERT_TRUE(rnd.Fit(x, 5, o).ok());
  for (size_t c = 0; c < 5; ++c) {
    EXPECT_NEAR(rnd.explained_variance_ratio()[c], full.explained_variance_ratio()[c],
                1e-4 * full.explained_variance_ratio()[c])
        << c;
    double dot = 0;  // the same direction, and the same sign convention
    for (size_t j = 0; j < 120; ++j)
      dot += static_cast<double>(rnd.component_matrix()[c * 120 + j]) *
             full.component_matrix()[c * 120 + j];
    EXPECT_GT(dot, 0.999) << c;
  }
  o.solver = "arpack";
  Status s = rnd.Fit(x, 5, o);
  EXPECT_NE(s.message().find("arpack"), std::string::npos);
}

TEST(Pca, BadInputIsRefusedClearly) {
  Pca pca;
  EXPECT_FALSE(pca.Transform(RandomData(4, 3, 4)).ok()) << "not fitted";
  EXPECT_FALSE(pca.Fit(RandomData(1, 3, 4), 1).ok()) << "one row";
  EXPECT_FALSE(pca.Fit(RandomData(10, 3, 4), 4).ok()) << "more components than features";
  EXPECT_FALSE(pca.Fit(RandomData(10, 3, 4), 0).ok());
  Tensor nan = RandomData(10, 3, 4);
  nan.data<float>()[4] = std::nanf("");
  auto s = pca.Fit(nan, 2);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("column 1"), std::string::npos) << s.message();
  ASSERT_TRUE(pca.Fit(RandomData(10, 3, 4), 2).ok());
  EXPECT_FALSE(pca.Transform(RandomData(10, 4, 4)).ok()) << "wrong feature count";
}

}  // namespace
}  // namespace hone::ml
