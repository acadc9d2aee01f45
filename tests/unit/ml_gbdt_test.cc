// Histogram gradient boosting (ml/gbdt.h) against scikit-learn 1.2's HistGradientBoosting*
// (early_stopping=False) on the same float32 rows, its ONNX export run by hone's engine
// (ai.onnx.ml TreeEnsembleRegressor), the legacy tree-ensemble kernels, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "hone/hone.h"
#include "ir/onnx_export.h"
#include "ml/gbdt.h"
#include "ml/graph_builder.h"
#include "ml/pipeline.h"

namespace hone::ml {
namespace {

constexpr int64_t kRows = 400;

// The rows the reference values below were computed on (scikit-learn, float64 of these floats):
// x = [sin(0.7 i), cos(1.3 i), ((37 i) mod 101) / 101, i mod 7].
Tensor Rows() {
  Tensor x = Tensor::Empty(DataType::kFloat32, {kRows, 4});
  for (int64_t i = 0; i < kRows; ++i) {
    float* r = x.data<float>() + i * 4;
    r[0] = static_cast<float>(std::sin(static_cast<double>(i) * 0.7));
    r[1] = static_cast<float>(std::cos(static_cast<double>(i) * 1.3));
    r[2] = static_cast<float>(static_cast<double>((i * 37) % 101) / 101.0);
    r[3] = static_cast<float>(i % 7);
  }
  return x;
}

double Col(const Tensor& x, int64_t i, int j) {
  return static_cast<double>(x.data<float>()[i * 4 + j]);
}

GbdtOptions Small() {
  GbdtOptions o;
  o.max_iter = 8;
  o.max_leaf_nodes = 7;
  o.min_samples_leaf = 5;
  o.learning_rate = 0.3;
  return o;
}

template <typename T>
double Accuracy(const std::vector<T>& a, const std::vector<int32_t>& b) {
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return static_cast<double>(same) / static_cast<double>(a.size());
}

TEST(Gbdt, BinaryMatchesScikitLearn) {
  const Tensor x = Rows();
  std::vector<int32_t> y(kRows);
  for (int64_t i = 0; i < kRows; ++i)
    y[static_cast<size_t>(i)] = Col(x, i, 0) + Col(x, i, 1) * Col(x, i, 2) > 0.2;
  Gbdt m;
  ASSERT_TRUE(m.FitClassifier(x, y, 2, Small()).ok());
  EXPECT_EQ(m.trees(), 8u);
  const std::vector<double> raw = m.Raw(x);
  // HistGradientBoostingClassifier(max_iter=8, max_leaf_nodes=7, min_samples_leaf=5,
  // learning_rate=0.3).decision_function(x)[:6]; score 0.9975.
  const double want[] = {-1.3173083382, 2.9535431794, 1.9324950845,
                         2.5318414386,  2.5994884172, 2.1629989437};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(raw[static_cast<size_t>(i)], want[i], 1e-5) << i;
  EXPECT_DOUBLE_EQ(Accuracy(m.Predict(x), y), 0.9975);
  const std::vector<float> p = m.PredictProba(x);
  EXPECT_NEAR(p[1], 1 / (1 + std::exp(1.3173083382)), 1e-6);
  EXPECT_NEAR(p[0] + p[1], 1.0, 1e-6);
}

TEST(Gbdt, MulticlassMatchesScikitLearn) {
  const Tensor x = Rows();
  std::vector<int32_t> y(kRows);
  for (int64_t i = 0; i < kRows; ++i)
    y[static_cast<size_t>(i)] = (Col(x, i, 0) > 0) + (Col(x, i, 1) * Col(x, i, 3) > 0.5);
  Gbdt m;
  ASSERT_TRUE(m.FitClassifier(x, y, 3, Small()).ok());
  EXPECT_EQ(m.trees(), 24u);  // one per class per iteration
  const std::vector<double> raw = m.Raw(x);
  const double want[] = {3.4547889772,  -0.6764366838, -3.1132347662, -2.6577761534, 1.7478533342,
                         -1.7402446758, -2.6444523544, 3.2310800331,  -3.0267909517};
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(raw[static_cast<size_t>(i)], want[i], 1e-5) << i;
  EXPECT_DOUBLE_EQ(Accuracy(m.Predict(x), y), 1.0);
}

TEST(Gbdt, RegressionAndDepthLimitMatchScikitLearn) {
  const Tensor x = Rows();
  std::vector<double> y(kRows);
  for (int64_t i = 0; i < kRows; ++i)
    y[static_cast<size_t>(i)] =
        Col(x, i, 0) * 3 + Col(x, i, 1) * Col(x, i, 2) * 2 + 0.1 * Col(x, i, 3);
  Gbdt m;
  GbdtOptions o = Small();
  o.l2_regularization = 0.5;
  ASSERT_TRUE(m.FitRegressor(x, y, o).ok());
  const std::vector<double> pred = m.PredictValue(x);
  const double want[] = {0.6773701941, 1.9778198322, 2.0204299559,
                         2.4961033558, 1.629774869,  0.7287813814};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(pred[static_cast<size_t>(i)], want[i], 1e-5) << i;
  EXPECT_TRUE(m.Predict(x).empty());  // a regressor has no classes

  // max_depth=2 without a leaf limit, 16 bins (scikit-learn: score 0.8875).
  std::vector<int32_t> yb(kRows);
  for (int64_t i = 0; i < kRows; ++i)
    yb[static_cast<size_t>(i)] = Col(x, i, 0) + Col(x, i, 1) * Col(x, i, 2) > 0.2;
  GbdtOptions d;
  d.max_iter = 8;
  d.max_depth = 2;
  d.max_leaf_nodes = 0;
  d.min_samples_leaf = 5;
  d.max_bins = 16;
  ASSERT_TRUE(m.FitClassifier(x, yb, 2, d).ok());
  const std::vector<double> raw = m.Raw(x);
  const double want_d[] = {-0.5716379194, 0.8417533945, 0.3220015259,
                           0.3220015259,  0.8417533945, -0.5716379194};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(raw[static_cast<size_t>(i)], want_d[i], 1e-5) << i;
  EXPECT_DOUBLE_EQ(Accuracy(m.Predict(x), yb), 0.8875);
  EXPECT_LE(m.leaves(), 8 * 4);  // depth 2: at most 4 leaves a tree
}

TEST(Gbdt, RejectsBadInput) {
  const Tensor x = Rows();
  std::vector<int32_t> y(kRows, 0);
  y[0] = 1;
  Gbdt m;
  GbdtOptions o;
  o.max_bins = 300;
  EXPECT_NE(m.FitClassifier(x, y, 2, o).message().find("max_bins"), std::string::npos);
  o = {};
  o.learning_rate = 0;
  EXPECT_NE(m.FitClassifier(x, y, 2, o).message().find("learning_rate"), std::string::npos);
  EXPECT_NE(m.FitClassifier(x, y, 1).message().find("two or more"), std::string::npos);
  y[1] = 5;
  EXPECT_NE(m.FitClassifier(x, y, 2).message().find("class 5"), std::string::npos);
  y[1] = 0;
  Tensor nan = x;
  nan = Tensor::Empty(DataType::kFloat32, {kRows, 4});
  std::copy(x.data<float>(), x.data<float>() + x.numel(), nan.data<float>());
  nan.data<float>()[4 * 9 + 2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(m.FitClassifier(nan, y, 2).message().find("row 9"), std::string::npos);
  EXPECT_NE(m.FitClassifier(x, std::span<const int32_t>(y).first(10), 2).message().find("targets"),
            std::string::npos);
}

StatusOr<std::vector<NamedTensor>> RunModel(const Model& model, std::vector<NamedTensor> inputs) {
  HONE_ASSIGN_OR_RETURN(std::string bytes, ExportOnnxModel(model));
  HONE_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                        Session::FromBytes(std::span<const uint8_t>(
                            reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
  return session->Run(inputs);
}

// The exported graph of a fitted model alone (input "x", outputs "p" and "i").
Model Exported(const Gbdt& m) {
  Model model;
  model.ir_version = 8;
  model.opsets[""] = 13;
  model.opsets["ai.onnx.ml"] = 3;
  m.AppendOnnx(model.graph, "x", "p", "i");
  model.graph.inputs = {BatchTensor("x", DataType::kFloat32, m.features())};
  model.graph.outputs = {BatchTensor("p", DataType::kFloat32)};
  if (!m.regression()) {
    model.graph.outputs[0] = BatchTensor("p", DataType::kFloat32, m.classes());
    model.graph.outputs.push_back(BatchTensor("i", DataType::kInt64));
  }
  return model;
}

TEST(Gbdt, ExportRunsInHoneWithTheSameResults) {
  const Tensor x = Rows();
  for (int classes : {2, 3, 0}) {
    SCOPED_TRACE(classes);
    Gbdt m;
    std::vector<int32_t> y(kRows);
    std::vector<double> v(kRows);
    for (int64_t i = 0; i < kRows; ++i) {
      const size_t u = static_cast<size_t>(i);
      v[u] = Col(x, i, 0) * 3 + Col(x, i, 2);
      y[u] = classes == 2 ? Col(x, i, 0) > 0.1 : (Col(x, i, 0) > 0) + (Col(x, i, 1) > 0.3);
    }
    ASSERT_TRUE((classes ? m.FitClassifier(x, y, classes) : m.FitRegressor(x, v)).ok());
    auto out = RunModel(Exported(m), {{"x", x}});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    const Tensor& p = (*out)[0].tensor;
    if (classes == 0) {
      const std::vector<double> want = m.PredictValue(x);
      ASSERT_EQ(p.numel(), kRows);
      for (int64_t i = 0; i < kRows; ++i)
        EXPECT_NEAR(p.data<float>()[i], want[static_cast<size_t>(i)], 1e-4) << i;
      continue;
    }
    const std::vector<float> want_p = m.PredictProba(x);
    const std::vector<int32_t> want_i = m.Predict(x);
    ASSERT_EQ(p.numel(), kRows * classes);
    for (int64_t i = 0; i < p.numel(); ++i)
      EXPECT_NEAR(p.data<float>()[i], want_p[static_cast<size_t>(i)], 1e-5) << i;
    const Tensor& idx = (*out)[1].tensor;
    for (int64_t i = 0; i < kRows; ++i)
      EXPECT_EQ(idx.data<int64_t>()[i], want_i[static_cast<size_t>(i)]) << i;
  }
}

// A hand-made TreeEnsembleClassifier: tree 0 splits x0 <= 0.5, tree 1 is one leaf.
Model Classifier(const std::vector<int64_t>& class_ids, const std::string& post) {
  Model model;
  model.ir_version = 8;
  model.opsets[""] = 13;
  model.opsets["ai.onnx.ml"] = 3;
  GraphBuilder b(model.graph, "t_");
  Node& n = b.Add("TreeEnsembleClassifier", {"x"}, {"label", "scores"}, "ai.onnx.ml");
  GraphBuilder::SetInts(n, "nodes_treeids", {0, 0, 0, 1});
  GraphBuilder::SetInts(n, "nodes_nodeids", {0, 1, 2, 0});
  GraphBuilder::SetInts(n, "nodes_featureids", {0, 0, 0, 0});
  GraphBuilder::SetFloats(n, "nodes_values", {0.5f, 0, 0, 0});
  GraphBuilder::SetStrings(n, "nodes_modes", {"BRANCH_LEQ", "LEAF", "LEAF", "LEAF"});
  GraphBuilder::SetInts(n, "nodes_truenodeids", {1, 0, 0, 0});
  GraphBuilder::SetInts(n, "nodes_falsenodeids", {2, 0, 0, 0});
  const size_t k = class_ids.size() / 3;  // entries per leaf
  std::vector<int64_t> trees, nodes;
  std::vector<float> weights;
  const int64_t leaf_tree[] = {0, 0, 1}, leaf_node[] = {1, 2, 0};
  for (size_t l = 0; l < 3; ++l)
    for (size_t e = 0; e < k; ++e) {
      trees.push_back(leaf_tree[l]);
      nodes.push_back(leaf_node[l]);
      weights.push_back(static_cast<float>(l + 1) * (e == 0 ? 0.25f : 0.5f));
    }
  GraphBuilder::SetInts(n, "class_treeids", trees);
  GraphBuilder::SetInts(n, "class_nodeids", nodes);
  GraphBuilder::SetInts(n, "class_ids", class_ids);
  GraphBuilder::SetFloats(n, "class_weights", weights);
  GraphBuilder::SetInts(n, "classlabels_int64s", {7, 9});
  GraphBuilder::SetString(n, "post_transform", post);
  model.graph.inputs = {BatchTensor("x", DataType::kFloat32, 1)};
  model.graph.outputs = {BatchTensor("label", DataType::kInt64),
                         BatchTensor("scores", DataType::kFloat32, 2)};
  return model;
}

TEST(TreeEnsembleClassifier, TwoClassIdsAndTheBinaryCase) {
  Tensor x = Tensor::Empty(DataType::kFloat32, {2, 1});
  x.data<float>()[0] = 0.f;  // left leaf (weights 1x), then the single leaf of tree 1 (3x)
  x.data<float>()[1] = 1.f;  // right leaf (2x)
  // Each leaf scores both classes: class 0 += 0.25 w, class 1 += 0.5 w.
  auto out = RunModel(Classifier({0, 1, 0, 1, 0, 1}, "NONE"), {{"x", x}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const float* s = (*out)[1].tensor.data<float>();
  EXPECT_FLOAT_EQ(s[0], 0.25f + 0.75f);
  EXPECT_FLOAT_EQ(s[1], 0.5f + 1.5f);
  EXPECT_FLOAT_EQ(s[2], 0.5f + 0.75f);
  EXPECT_EQ((*out)[0].tensor.data<int64_t>()[0], 9);
  // One class id: the score is class 1's; LOGISTIC gives [1 - p, p], label 9 when p > 0.5.
  out = RunModel(Classifier({1, 1, 1}, "LOGISTIC"), {{"x", x}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  s = (*out)[1].tensor.data<float>();
  const double p0 = 1 / (1 + std::exp(-(0.25 + 0.75)));
  EXPECT_NEAR(s[1], p0, 1e-6);
  EXPECT_NEAR(s[0], 1 - p0, 1e-6);
  EXPECT_EQ((*out)[0].tensor.data<int64_t>()[0], 9);
  // A child that does not exist is a load error naming it.
  Model bad = Classifier({1, 1, 1}, "NONE");
  bad.graph.nodes[0].attributes["nodes_truenodeids"].ints = {5, 0, 0, 0};
  auto r = RunModel(bad, {{"x", x}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("child node 5"), std::string::npos) << r.status().message();
}

TEST(FitPipeline, GbdtSearchExportsWhatHoneRuns) {
  // Numbers only (graph input "numeric"): two features, a nonlinear class boundary.
  Table t;
  t.rows = 600;
  t.columns.resize(3);
  t.columns[0].name = "a";
  t.columns[1].name = "b";
  t.columns[2].name = "y";
  for (int64_t i = 0; i < t.rows; ++i) {
    const double a = std::sin(static_cast<double>(i) * 0.37), b = std::cos(i * 0.91);
    t.columns[0].numbers.push_back(a);
    t.columns[1].numbers.push_back(b);
    t.columns[2].numbers.push_back(a * b > 0 ? 1 : 0);
  }
  FitOptions o;
  o.target = "y";
  o.model = "gbdt";
  o.grid = {{"max_leaf_nodes", {"3", "15"}}, {"max_iter", {"30"}}};
  auto r = FitPipeline(t, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pipeline.model->kind(), std::string("gbdt"));
  EXPECT_EQ(r->best.at("max_leaf_nodes"), "15");  // an XOR needs more than one split a tree
  EXPECT_GT(r->best_cv_score, 0.9);
  EXPECT_GT(r->test_score, 0.9);
  auto bytes = ExportOnnxModel(r->pipeline.ToOnnx());
  ASSERT_TRUE(bytes.ok());
  auto session = Session::FromBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  Tensor num = Tensor::Empty(DataType::kFloat32, {t.rows, 2});
  for (int64_t i = 0; i < t.rows; ++i)
    for (int j = 0; j < 2; ++j)
      num.data<float>()[i * 2 + j] =
          static_cast<float>(t.columns[static_cast<size_t>(j)].numbers[static_cast<size_t>(i)]);
  auto out = (*session)->Run({{"numeric", num}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto want = r->pipeline.Predict(t);
  ASSERT_TRUE(want.ok());
  const Tensor& label = (*out)[0].tensor;
  for (int64_t i = 0; i < t.rows; ++i)
    EXPECT_EQ(label.data<int64_t>()[i], (*want)[static_cast<size_t>(i)]) << i;
  // A parameter of another family is refused before any fitting, naming gbdt's.
  o.grid = {{"C", {"1"}}};
  r = FitPipeline(t, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("max_leaf_nodes"), std::string::npos);
}

}  // namespace
}  // namespace hone::ml
