// Robustness tests for the reference kernels in kernels/ref/{loss,vision,detection,misc_math,
// training}.cc: bad data found at compute time is an error naming the node, bad attributes fail
// at load, and non-finite coordinates never crash. The ONNX backend cases cover the numerics.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "model_builder.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;

Tensor Int64Tensor(const std::vector<int64_t>& shape, const std::vector<int64_t>& v) {
  Tensor t = Tensor::Empty(DataType::kInt64, shape);
  for (size_t i = 0; i < v.size(); ++i) t.data<int64_t>()[i] = v[i];
  return t;
}

// A one-node model whose inputs and outputs have the given dtypes and unknown dims of the given
// ranks.
struct Io {
  std::string name;
  int dtype;
  size_t rank;
};
onnx::ModelProto OneNode(const std::string& op, const std::vector<Io>& ins,
                         const std::vector<Io>& outs, int64_t opset,
                         onnx::NodeProto** node = nullptr, const std::string& domain = "") {
  auto m = NewModel(opset);
  if (!domain.empty()) {
    auto* o = m.add_opset_import();
    o->set_domain(domain);
    o->set_version(1);
  }
  auto* g = m.mutable_graph();
  std::vector<std::string> in_names, out_names;
  auto sym = [](const std::string& n, size_t rank) {
    std::vector<std::string> s;
    for (size_t i = 0; i < rank; ++i) s.push_back(n + "_d" + std::to_string(i));
    return s;
  };
  for (const auto& i : ins) {
    SetType(g->add_input(), i.name, i.dtype, std::vector<int64_t>(i.rank, 0), sym(i.name, i.rank));
    in_names.push_back(i.name);
  }
  for (const auto& o : outs) {
    SetType(g->add_output(), o.name, o.dtype, std::vector<int64_t>(o.rank, 0), sym(o.name, o.rank));
    out_names.push_back(o.name);
  }
  auto* n = AddNode(g, op, in_names, out_names, "n0");
  if (!domain.empty()) n->set_domain(domain);
  if (node != nullptr) *node = n;
  return m;
}

void SetAttr(onnx::NodeProto* n, const std::string& k, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void SetAttr(onnx::NodeProto* n, const std::string& k, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

TEST(RefLoss, TargetOutOfRangeIsAnErrorAndIgnoreIndexIsSkipped) {
  onnx::NodeProto* n = nullptr;
  auto m = OneNode("NegativeLogLikelihoodLoss", {{"x", kFloat, 2}, {"t", kInt64, 1}},
                   {{"y", kFloat, 0}}, 13, &n);
  SetAttr(n, "ignore_index", int64_t{-1});
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const Tensor x = FloatTensor({2, 3}, {-1, -2, -3, -4, -5, -6});
  auto bad = (*s)->Run({{"x", x}, {"t", Int64Tensor({2}, {0, 3})}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("out of range"), std::string::npos)
      << bad.status().message();
  auto ok = (*s)->Run({{"x", x}, {"t", Int64Tensor({2}, {2, -1})}});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_FLOAT_EQ((*ok)[0].tensor.data<float>()[0], 3.0f);  // mean over the one kept element
}

TEST(RefLoss, BadReductionFailsAtLoad) {
  onnx::NodeProto* n = nullptr;
  auto m = OneNode("SoftmaxCrossEntropyLoss", {{"x", kFloat, 2}, {"t", kInt64, 1}},
                   {{"y", kFloat, 0}}, 13, &n);
  SetAttr(n, "reduction", std::string("median"));
  auto s = Load(m);
  EXPECT_FALSE(s.ok());
}

TEST(RefVision, GridSampleSurvivesNonFiniteGrid) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const char* mode : {"bilinear", "nearest", "bicubic"}) {
    for (const char* pad : {"zeros", "border", "reflection"}) {
      onnx::NodeProto* n = nullptr;
      auto m =
          OneNode("GridSample", {{"x", kFloat, 4}, {"g", kFloat, 4}}, {{"y", kFloat, 4}}, 16, &n);
      SetAttr(n, "mode", std::string(mode));
      SetAttr(n, "padding_mode", std::string(pad));
      auto s = Load(m);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      auto out = (*s)->Run(
          {{"x", FloatTensor({1, 1, 2, 2}, {1, 2, 3, 4})},
           {"g", FloatTensor({1, 1, 4, 2}, {nan, 0, inf, -inf, 1e30f, -1e30f, 0.5f, -0.25f})}});
      ASSERT_TRUE(out.ok()) << mode << " " << pad << ": " << out.status().ToString();
      EXPECT_EQ((*out)[0].tensor.shape(), (std::vector<int64_t>{1, 1, 1, 4}));
    }
  }
}

TEST(RefVision, DeformConvSurvivesNonFiniteOffsets) {
  auto m = OneNode("DeformConv", {{"x", kFloat, 4}, {"w", kFloat, 4}, {"off", kFloat, 4}},
                   {{"y", kFloat, 4}}, 19);
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // X 1x1x2x2, W 1x1x1x1 -> output 2x2; offsets 1x2x2x2
  auto out =
      (*s)->Run({{"x", FloatTensor({1, 1, 2, 2}, {1, 2, 3, 4})},
                 {"w", FloatTensor({1, 1, 1, 1}, {1})},
                 {"off", FloatTensor({1, 2, 2, 2}, {nan, 1e30f, -1e30f, 0, 0, 0, 0, 0.5f})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // last output point samples (1, 1.5): halfway between 4 and the zero padding
  EXPECT_FLOAT_EQ((*out)[0].tensor.data<float>()[3], 2.0f);
  // a wrong offset shape is an error, not a crash
  auto bad = (*s)->Run({{"x", FloatTensor({1, 1, 2, 2}, {1, 2, 3, 4})},
                        {"w", FloatTensor({1, 1, 1, 1}, {1})},
                        {"off", FloatTensor({1, 2, 1, 1}, {0, 0})}});
  EXPECT_FALSE(bad.ok());
}

TEST(RefDetection, RoiAlignRejectsBadBatchIndexAndNonFiniteRois) {
  auto m = OneNode("RoiAlign", {{"x", kFloat, 4}, {"r", kFloat, 2}, {"b", kInt64, 1}},
                   {{"y", kFloat, 4}}, 16);
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const Tensor x = FloatTensor({1, 1, 2, 2}, {1, 2, 3, 4});
  auto bad_index =
      (*s)->Run({{"x", x}, {"r", FloatTensor({1, 4}, {0, 0, 1, 1})}, {"b", Int64Tensor({1}, {1})}});
  EXPECT_FALSE(bad_index.ok());
  auto nan_roi = (*s)->Run({{"x", x},
                            {"r", FloatTensor({1, 4}, {0, 0, std::nanf(""), 1})},
                            {"b", Int64Tensor({1}, {0})}});
  EXPECT_FALSE(nan_roi.ok());
  auto huge_roi = (*s)->Run(
      {{"x", x}, {"r", FloatTensor({1, 4}, {0, 0, 1e30f, 1e30f})}, {"b", Int64Tensor({1}, {0})}});
  EXPECT_FALSE(huge_roi.ok());
  auto inverted =
      (*s)->Run({{"x", x}, {"r", FloatTensor({1, 4}, {2, 2, 0, 0})}, {"b", Int64Tensor({1}, {0})}});
  ASSERT_TRUE(inverted.ok()) << inverted.status().ToString();
  EXPECT_EQ((*inverted)[0].tensor.data<float>()[0], 0.0f);
}

TEST(RefDetection, NonMaxSuppressionWithoutLimitSelectsNothing) {
  auto m =
      OneNode("NonMaxSuppression", {{"b", kFloat, 3}, {"s", kFloat, 3}}, {{"y", kInt64, 2}}, 11);
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto out = (*s)->Run(
      {{"b", FloatTensor({1, 1, 4}, {0, 0, 1, 1})}, {"s", FloatTensor({1, 1, 1}, {0.5f})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].tensor.shape(), (std::vector<int64_t>{0, 3}));
}

TEST(RefMath, DetOfSingularAndPermutedMatrices) {
  auto m = OneNode("Det", {{"x", kFloat, 3}}, {{"y", kFloat, 1}}, 11);
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto out = (*s)->Run({{"x", FloatTensor({2, 2, 2}, {1, 2, 2, 4, 0, 1, 1, 0})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_FLOAT_EQ((*out)[0].tensor.data<float>()[0], 0.0f);
  EXPECT_FLOAT_EQ((*out)[0].tensor.data<float>()[1], -1.0f);
}

TEST(RefTraining, MomentumNeedsItsAttributes) {
  auto m = OneNode(
      "Momentum",
      {{"r", kFloat, 0}, {"t", kInt64, 0}, {"x", kFloat, 1}, {"g", kFloat, 1}, {"v", kFloat, 1}},
      {{"xn", kFloat, 1}, {"vn", kFloat, 1}}, 13, nullptr, "ai.onnx.preview.training");
  EXPECT_FALSE(Load(m).ok());
}

}  // namespace
}  // namespace hone
