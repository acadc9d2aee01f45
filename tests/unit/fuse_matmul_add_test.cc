// passes/fuse_matmul_add.cc: MatMul + constant bias Add -> Gemm (2-D) or com.hone MatMul.
#include "passes/fuse_matmul_add.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "ir/onnx_import.h"
#include "model_builder.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT

std::vector<float> Values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// Y = X @ W + b with X of the given dims (rank 2 or 3), W [4, 5], b [5] (bias first when
// `bias_first`, as PyTorch exports it).
onnx::ModelProto Linear(std::vector<int64_t> x_dims, bool bias_first, bool const_bias = true) {
  auto m = NewModel(13);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, x_dims);
  std::vector<int64_t> y_dims = x_dims;
  y_dims.back() = 5;
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, y_dims);
  AddFloatInit(g, "W", {4, 5}, Values(20, 1));
  if (const_bias)
    AddFloatInit(g, "b", {5}, Values(5, 2));
  else
    SetType(g->add_input(), "b", onnx::TensorProto::FLOAT, {5});
  AddNode(g, "MatMul", {"X", "W"}, {"P"});
  AddNode(g, "Add",
          bias_first ? std::vector<std::string>{"b", "P"} : std::vector<std::string>{"P", "b"},
          {"Y"});
  return m;
}

Model Import(const onnx::ModelProto& m) {
  std::string bytes = Bytes(m);
  auto model = ImportOnnxModel(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model).value();
}

TEST(FuseMatMulAdd, TwoDimensionalBecomesGemm) {
  Model m = Import(Linear({3, 4}, /*bias_first=*/true));
  auto r = FuseMatMulAdd(m.graph, /*allow_hone_ops=*/false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1);
  ASSERT_EQ(m.graph.nodes.size(), 1u);
  EXPECT_EQ(m.graph.nodes[0].op_type, "Gemm");
  EXPECT_EQ(m.graph.nodes[0].domain, "");
  EXPECT_EQ(m.graph.nodes[0].inputs, (std::vector<std::string>{"X", "W", "b"}));
  EXPECT_EQ(m.graph.nodes[0].outputs[0], "Y");
}

TEST(FuseMatMulAdd, HigherRankNeedsHoneOps) {
  Model basic = Import(Linear({2, 3, 4}, false));
  auto r = FuseMatMulAdd(basic.graph, /*allow_hone_ops=*/false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0) << "no standard op takes a 3-D A with a bias";
  Model all = Import(Linear({2, 3, 4}, false));
  r = FuseMatMulAdd(all.graph, /*allow_hone_ops=*/true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1);
  ASSERT_EQ(all.graph.nodes.size(), 1u);
  EXPECT_EQ(all.graph.nodes[0].domain, "com.hone");
}

TEST(FuseMatMulAdd, LeavesRuntimeBiasAlone) {
  Model m = Import(Linear({3, 4}, false, /*const_bias=*/false));
  auto r = FuseMatMulAdd(m.graph, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0);
  EXPECT_EQ(m.graph.nodes.size(), 2u);
}

TEST(FuseMatMulAdd, SameNumbersAsReference) {
  for (auto dims : {std::vector<int64_t>{3, 4}, std::vector<int64_t>{2, 3, 4}}) {
    auto model = Linear(dims, true);
    SessionOptions ref_opts;
    ref_opts.use_fast_kernels = false;
    ref_opts.optimization = GraphOptimization::kNone;
    auto ref = Load(model, "", ref_opts);
    auto fast = Load(model);
    ASSERT_TRUE(ref.ok() && fast.ok());
    Tensor x = FloatTensor(dims, Values(static_cast<size_t>(ShapeSize(dims)), 3));
    auto a = (*ref)->Run({{"X", x}});
    auto b = (*fast)->Run({{"X", x}});
    ASSERT_TRUE(a.ok() && b.ok());
    const Tensor &ta = (*a)[0].tensor, &tb = (*b)[0].tensor;
    ASSERT_EQ(ta.shape(), tb.shape());
    for (int64_t i = 0; i < ta.numel(); ++i)
      EXPECT_NEAR(ta.data<float>()[i], tb.data<float>()[i], 1e-5) << i;
  }
}

}  // namespace
}  // namespace hone
