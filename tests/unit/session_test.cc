#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "model_builder.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT
namespace fs = std::filesystem;

bool Contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

TEST(Session, RunsAndListsInputsWithSymbolicDims) {
  auto s = Load(AddModel());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ((*s)->inputs().size(), 1u);
  EXPECT_EQ(DimsToString((*s)->inputs()[0]), "[batch,3]");
  auto out = (*s)->Run({{"X", FloatTensor({2, 3}, {0, 0, 0, 10, 20, 30})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const float* y = (*out)[0].tensor.data<float>();
  EXPECT_EQ(std::vector<float>(y, y + 6), (std::vector<float>{1, 2, 3, 11, 22, 33}));
  EXPECT_EQ((*s)->info().parameter_count, 3);
  EXPECT_EQ((*s)->info().op_histogram.at("Add"), 1);
}

TEST(Session, InputErrorsNameTheInput) {
  auto s = Load(AddModel());
  ASSERT_TRUE(s.ok());
  auto missing = (*s)->Run({});
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(missing.status().message(), "missing input 'X'"));
  auto unknown = (*s)->Run({{"Z", FloatTensor({1, 3}, {1, 2, 3})}});
  EXPECT_TRUE(Contains(unknown.status().message(), "unknown input 'Z'"));
  Tensor i64 = Tensor::Empty(DataType::kInt64, {1, 3});
  auto dtype = (*s)->Run({{"X", i64}});
  EXPECT_TRUE(Contains(dtype.status().message(), "expected dtype float32, got int64"));
  auto shape = (*s)->Run({{"X", FloatTensor({1, 4}, {1, 2, 3, 4})}});
  EXPECT_TRUE(Contains(shape.status().message(), "expected shape [batch,3], got [1,4]"));
  auto rank = (*s)->Run({{"X", FloatTensor({3}, {1, 2, 3})}});
  EXPECT_TRUE(Contains(rank.status().message(), "rank"));
}

TEST(Session, InitializerInputsCanBeOverridden) {
  auto m = AddModel();
  SetType(m.mutable_graph()->add_input(), "B", onnx::TensorProto::FLOAT, {3});
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto dflt = (*s)->Run({{"X", FloatTensor({1, 3}, {0, 0, 0})}});
  ASSERT_TRUE(dflt.ok()) << dflt.status().ToString();
  EXPECT_EQ((*dflt)[0].tensor.data<float>()[2], 3.0f);
  auto over =
      (*s)->Run({{"X", FloatTensor({1, 3}, {0, 0, 0})}, {"B", FloatTensor({3}, {7, 8, 9})}});
  ASSERT_TRUE(over.ok()) << over.status().ToString();
  EXPECT_EQ((*over)[0].tensor.data<float>()[2], 9.0f);
}

TEST(Session, UnknownOpAndNewerOpsetAreNotSupported) {
  auto m = AddModel();
  m.mutable_graph()->mutable_node(0)->set_op_type("FancyOp");
  auto s = Load(m);
  EXPECT_EQ(s.status().code(), StatusCode::kNotSupported);
  EXPECT_TRUE(Contains(s.status().message(), "unknown operator 'FancyOp'")) << s.status().message();
  auto m2 = AddModel();
  m2.mutable_opset_import(0)->set_version(99);
  auto s2 = Load(m2);
  EXPECT_EQ(s2.status().code(), StatusCode::kNotSupported);
  EXPECT_TRUE(Contains(s2.status().message(), "opset 99")) << s2.status().message();
}

TEST(Session, ContradictoryShapesFailAtLoadNamingTheNode) {
  auto m = NewModel();
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "A", onnx::TensorProto::FLOAT, {2, 3});
  SetType(g->add_input(), "B", onnx::TensorProto::FLOAT, {4, 5});
  SetType(g->add_output(), "C", onnx::TensorProto::FLOAT, {2, 3});
  AddNode(g, "Add", {"A", "B"}, {"C"}, "bad_add");
  auto s = Load(m);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(s.status().message(), "bad_add")) << s.status().message();
}

TEST(Session, MissingValueAndMissingOpsetAreInvalidModels) {
  auto m = AddModel();
  m.mutable_graph()->mutable_node(0)->set_input(1, "nowhere");
  auto s = Load(m);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.status().message(), "nowhere")) << s.status().message();
  auto m2 = AddModel();
  m2.clear_opset_import();
  EXPECT_EQ(Load(m2).status().code(), StatusCode::kInvalidModel);
}

TEST(Session, SparseInitializerIsDensified) {
  auto m = AddModel();
  auto* g = m.mutable_graph();
  g->clear_initializer();
  auto* sp = g->add_sparse_initializer();
  sp->add_dims(3);
  auto* vals = sp->mutable_values();
  vals->set_name("B");
  vals->set_data_type(onnx::TensorProto::FLOAT);
  vals->add_dims(1);
  vals->add_float_data(5);
  auto* idx = sp->mutable_indices();
  idx->set_data_type(onnx::TensorProto::INT64);
  idx->add_dims(1);
  idx->add_int64_data(2);
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto out = (*s)->Run({{"X", FloatTensor({1, 3}, {1, 1, 1})}});
  ASSERT_TRUE(out.ok());
  const float* y = (*out)[0].tensor.data<float>();
  EXPECT_EQ(std::vector<float>(y, y + 3), (std::vector<float>{1, 1, 6}));
}

class ExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("hone_ext_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "model");
    std::ofstream(root_ / "model" / "w.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(kWeights), sizeof(kWeights));
    std::ofstream(root_ / "secret.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(kWeights), sizeof(kWeights));
  }
  void TearDown() override { fs::remove_all(root_); }

  onnx::ModelProto WithLocation(const std::string& location, int64_t offset = 0) {
    auto m = AddModel();
    auto* t = m.mutable_graph()->mutable_initializer(0);
    t->clear_float_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value(location);
    if (offset) {
      auto* o = t->add_external_data();
      o->set_key("offset");
      o->set_value(std::to_string(offset));
    }
    return m;
  }
  StatusOr<std::unique_ptr<Session>> LoadFromFile(const onnx::ModelProto& m) {
    std::ofstream(root_ / "model" / "m.onnx", std::ios::binary) << m.SerializeAsString();
    return Session::FromFile((root_ / "model" / "m.onnx").string());
  }
  static constexpr float kWeights[4] = {4, 5, 6, 7};
  fs::path root_;
};

TEST_F(ExternalData, ResolvesRelativeToTheModelFolder) {
  auto s = LoadFromFile(WithLocation("w.bin", 4));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto out = (*s)->Run({{"X", FloatTensor({1, 3}, {0, 0, 0})}});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)[0].tensor.data<float>()[0], 5.0f);
}

TEST_F(ExternalData, RefusesPathsThatEscapeTheFolder) {
  for (const std::string& loc : std::vector<std::string>{
           "../secret.bin", (root_ / "secret.bin").string(), "a/../../secret.bin"}) {
    auto s = LoadFromFile(WithLocation(loc));
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidModel) << loc;
    EXPECT_TRUE(Contains(s.status().message(), "outside") ||
                Contains(s.status().message(), "escapes") ||
                Contains(s.status().message(), "relative"))
        << s.status().message();
  }
  fs::create_symlink(root_ / "secret.bin", root_ / "model" / "link.bin");
  auto s = LoadFromFile(WithLocation("link.bin"));
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(s.status().message(), "outside")) << s.status().message();
}

TEST_F(ExternalData, RefusesOffsetsPastTheEnd) {
  auto s = LoadFromFile(WithLocation("w.bin", 8));  // 8 + 12 bytes > 16
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(s.status().message(), "past the end")) << s.status().message();
  auto s2 = LoadFromFile(WithLocation("missing.bin"));
  EXPECT_EQ(s2.status().code(), StatusCode::kInvalidModel);
}

TEST(Session, ConcurrentRunsOnOneSessionAgree) {
  auto s = Load(AddModel());
  ASSERT_TRUE(s.ok());
  const Session& session = **s;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        float v = static_cast<float>(t * 1000 + i);
        auto out = session.Run({{"X", FloatTensor({1, 3}, {v, v, v})}});
        if (!out.ok() || (*out)[0].tensor.data<float>()[2] != v + 3) wrong++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

// If whose branches read a value of the enclosing graph.
TEST(Session, IfBranchesSeeOuterScope) {
  auto m = NewModel();
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "c", onnx::TensorProto::BOOL, {});
  SetType(g->add_input(), "x", onnx::TensorProto::FLOAT, {2});
  SetType(g->add_output(), "y", onnx::TensorProto::FLOAT, {2});
  auto* n = AddNode(g, "If", {"c"}, {"y"}, "if");
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* a = n->add_attribute();
    a->set_name(branch);
    a->set_type(onnx::AttributeProto::GRAPH);
    auto* sg = a->mutable_g();
    sg->set_name(branch);
    SetType(sg->add_output(), std::string(branch) + "_out", onnx::TensorProto::FLOAT, {2});
    AddNode(sg, std::string(branch) == "then_branch" ? "Neg" : "Abs", {"x"},
            {std::string(branch) + "_out"});
  }
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  for (bool c : {true, false}) {
    Tensor ct = Tensor::Empty(DataType::kBool, {});
    ct.data<bool>()[0] = c;
    auto out = (*s)->Run({{"c", ct}, {"x", FloatTensor({2}, {-1, 2})}});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ((*out)[0].tensor.data<float>()[0], c ? 1.0f : 1.0f);
    EXPECT_EQ((*out)[0].tensor.data<float>()[1], c ? -2.0f : 2.0f);
  }
}

}  // namespace
}  // namespace hone

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT

// seq = SequenceConstruct(a, b); y = SequenceAt(seq, 1); n = SequenceLength(seq).
TEST(Session, SequencesFlowThroughRunValues) {
  auto m = NewModel(17);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "a", onnx::TensorProto::FLOAT, {2});
  SetType(g->add_input(), "b", onnx::TensorProto::FLOAT, {2});
  SetType(g->add_output(), "y", onnx::TensorProto::FLOAT, {2});
  auto* seq_out = g->add_output();
  seq_out->set_name("seq");
  seq_out->mutable_type()
      ->mutable_sequence_type()
      ->mutable_elem_type()
      ->mutable_tensor_type()
      ->set_elem_type(onnx::TensorProto::FLOAT);
  auto* pos = g->add_initializer();
  pos->set_name("one");
  pos->set_data_type(onnx::TensorProto::INT64);
  pos->add_int64_data(1);
  AddNode(g, "SequenceConstruct", {"a", "b"}, {"seq"});
  AddNode(g, "SequenceAt", {"seq", "one"}, {"y"});
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->outputs()[1].kind, ValueInfo::Kind::kSequence);
  auto out = (*s)->RunValues(
      {{"a", Value(FloatTensor({2}, {1, 2}))}, {"b", Value(FloatTensor({2}, {3, 4}))}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].value.tensor().data<float>()[1], 4.0f);
  ASSERT_TRUE((*out)[1].value.is_sequence());
  EXPECT_EQ((*out)[1].value.sequence().size(), 2u);
  // Run() (tensors only) explains that a sequence output needs RunValues.
  auto plain = (*s)->Run({{"a", FloatTensor({2}, {1, 2})}, {"b", FloatTensor({2}, {3, 4})}});
  EXPECT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("RunValues"), std::string::npos);
  // A sequence where a tensor is declared is refused.
  auto bad = (*s)->RunValues(
      {{"a", Value::Sequence({}, DataType::kFloat32)}, {"b", Value(FloatTensor({2}, {3, 4}))}});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hone
