#include <gtest/gtest.h>

#include "ir/onnx_import.h"
#include "model_builder.h"
#include "passes/constants_to_initializers.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT

// Y = X + C where C comes from a Constant node with a tensor value, and Z = Y * k from a
// value_float Constant.
onnx::ModelProto ConstantModel() {
  auto m = NewModel();
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {3});
  SetType(g->add_output(), "Z", onnx::TensorProto::FLOAT, {3});
  auto* c = AddNode(g, "Constant", {}, {"C"}, "const_c");
  auto* a = c->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  auto* t = a->mutable_t();
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(3);
  for (float v : {1.f, 2.f, 3.f}) t->add_float_data(v);
  auto* k = AddNode(g, "Constant", {}, {"k"}, "const_k");
  auto* ka = k->add_attribute();
  ka->set_name("value_float");
  ka->set_type(onnx::AttributeProto::FLOAT);
  ka->set_f(2.0f);
  AddNode(g, "Add", {"X", "C"}, {"Y"}, "add");
  AddNode(g, "Mul", {"Y", "k"}, {"Z"}, "mul");
  return m;
}

TEST(ConstantsToInitializers, FoldsConstantNodes) {
  std::string bytes = Bytes(ConstantModel());
  auto model = ImportOnnxModel(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  Graph& g = model->graph;
  ASSERT_EQ(g.nodes.size(), 4u);
  auto folded = ConstantsToInitializers(g);
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(*folded, 2);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op_type, "Add");
  ASSERT_TRUE(g.initializers.count("C"));
  EXPECT_EQ(g.initializers.at("C").data<float>()[2], 3.0f);
  ASSERT_TRUE(g.initializers.count("k"));
  EXPECT_EQ(g.initializers.at("k").rank(), 0);
}

TEST(ConstantsToInitializers, SessionResultsAreUnchanged) {
  // The session applies the pass and computes the model's values.
  auto s = Load(ConstantModel());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto out = (*s)->Run({{"X", FloatTensor({3}, {10, 20, 30})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const float* z = (*out)[0].tensor.data<float>();
  EXPECT_EQ(std::vector<float>(z, z + 3), (std::vector<float>{22, 44, 66}));
  // The histogram still reports the model as written.
  EXPECT_EQ((*s)->info().op_histogram.at("Constant"), 2);
  EXPECT_EQ((*s)->info().parameter_count, 4);
}

}  // namespace
}  // namespace hone

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT

TEST(ConstantsToInitializers, FoldsIdentityOfInitializers) {
  auto m = AddModel();  // Y = X + B, B an initializer
  auto* g = m.mutable_graph();
  g->mutable_node(0)->set_input(1, "B2");
  auto* id = g->add_node();
  *id = g->node(0);
  // Put Identity(B) -> B2 first.
  g->mutable_node(0)->Clear();
  g->mutable_node(0)->set_op_type("Identity");
  g->mutable_node(0)->set_name("id");
  g->mutable_node(0)->add_input("B");
  g->mutable_node(0)->add_output("B2");
  std::string bytes = Bytes(m);
  auto model = ImportOnnxModel(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto folded = ConstantsToInitializers(model->graph);
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(*folded, 1);
  ASSERT_EQ(model->graph.nodes.size(), 1u);
  EXPECT_EQ(model->graph.nodes[0].op_type, "Add");
  ASSERT_TRUE(model->graph.initializers.count("B2"));
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto out = (*s)->Run({{"X", FloatTensor({1, 3}, {0, 0, 0})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].tensor.data<float>()[2], 3.0f);
}

TEST(ConstantsToInitializers, KeepsIdentityOfOverridableInitializers) {
  auto m = AddModel();
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "B", onnx::TensorProto::FLOAT, {3});  // B can be fed at run time
  g->mutable_node(0)->set_input(1, "B2");
  *g->add_node() = g->node(0);
  g->mutable_node(0)->Clear();
  g->mutable_node(0)->set_op_type("Identity");
  g->mutable_node(0)->add_input("B");
  g->mutable_node(0)->add_output("B2");
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto out = (*s)->Run({{"X", FloatTensor({1, 3}, {0, 0, 0})}, {"B", FloatTensor({3}, {7, 8, 9})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].tensor.data<float>()[2], 9.0f);
}

}  // namespace
}  // namespace hone
