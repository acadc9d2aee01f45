// passes/fold_constants.cc with runtime/evaluate.h's reference evaluator.
#include "passes/fold_constants.h"

#include <gtest/gtest.h>

#include "ir/onnx_import.h"
#include "model_builder.h"
#include "runtime/evaluate.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT

// Y = X + Transpose(C) * 2, Big = Expand(E, [64, 1024]), R = a transposed random tensor: the
// Transpose and the Mul of C fold; the Expand of a scalar to 64x1024 (256 KiB from 4 bytes)
// stays, and so does everything after RandomNormalLike.
onnx::ModelProto FoldModel() {
  auto m = NewModel(13);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {3, 2});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {3, 2});
  SetType(g->add_output(), "Big", onnx::TensorProto::FLOAT, {64, 1024});
  SetType(g->add_output(), "R", onnx::TensorProto::FLOAT, {2, 3});
  AddFloatInit(g, "C", {2, 3}, {1, 2, 3, 4, 5, 6});
  AddFloatInit(g, "two", {}, {2});
  AddFloatInit(g, "E", {1}, {7});
  auto* shape = g->add_initializer();
  shape->set_name("big_shape");
  shape->set_data_type(onnx::TensorProto::INT64);
  shape->add_dims(2);
  shape->add_int64_data(64);
  shape->add_int64_data(1024);
  auto* t = AddNode(g, "Transpose", {"C"}, {"CT"});
  auto* perm = t->add_attribute();
  perm->set_name("perm");
  perm->set_type(onnx::AttributeProto::INTS);
  perm->add_ints(1);
  perm->add_ints(0);
  AddNode(g, "Mul", {"CT", "two"}, {"C2"});
  AddNode(g, "Add", {"X", "C2"}, {"Y"});
  AddNode(g, "Expand", {"E", "big_shape"}, {"Big"});
  AddNode(g, "RandomNormalLike", {"C2"}, {"R0"});
  AddNode(g, "Mul", {"R0", "two"}, {"R1"});
  AddNode(g, "Transpose", {"R1"}, {"R"});
  return m;
}

TEST(FoldConstants, FoldsConstantChainsOnly) {
  std::string bytes = Bytes(FoldModel());
  auto model = ImportOnnxModel(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto r = FoldConstants(model->graph, model->opsets, ReferenceEvaluator());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 2) << "Transpose and Mul";
  std::vector<std::string> ops;
  for (const auto& n : model->graph.nodes) ops.push_back(n.op_type);
  EXPECT_EQ(ops,
            (std::vector<std::string>{"Add", "Expand", "RandomNormalLike", "Mul", "Transpose"}));
  ASSERT_TRUE(model->graph.initializers.count("C2"));
  const Tensor& c2 = model->graph.initializers.at("C2");
  EXPECT_EQ(c2.shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(c2.data<float>()[1], 8.f) << "C[1][0] * 2";
}

TEST(FoldConstants, SessionGivesTheSameResult) {
  SessionOptions none;
  none.optimization = GraphOptimization::kNone;
  auto a = Load(FoldModel(), "", none);
  auto b = Load(FoldModel());
  ASSERT_TRUE(a.ok() && b.ok());
  Tensor x = FloatTensor({3, 2}, {0, 1, 2, 3, 4, 5});
  auto ra = (*a)->Run({{"X", x}});
  auto rb = (*b)->Run({{"X", x}});
  ASSERT_TRUE(ra.ok() && rb.ok());
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ((*ra)[0].tensor.data<float>()[i], (*rb)[0].tensor.data<float>()[i]);
  EXPECT_EQ((*rb)[1].tensor.data<float>()[64 * 1024 - 1], 7.f);
}

}  // namespace
}  // namespace hone
