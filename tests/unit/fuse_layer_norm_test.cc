// The layer-norm fusion pass: which decomposed patterns become one LayerNormalization node, which
// do not, and that a session computes the same values with it (kAll) as without (kBasic) and as
// the reference kernels.
#include "passes/fuse_layer_norm.h"

#include <gtest/gtest.h>

#include <random>

#include "ir/onnx_import.h"
#include "kernel_harness.h"
#include "model_builder.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT

constexpr int64_t kHidden = 8;

struct LnOptions {
  int64_t opset = 13;
  bool twin_subs = false;      // x - mean computed twice (variance, numerator)
  bool mul_square = false;     // Mul(d, d) instead of Pow(d, 2)
  bool swap_operands = false;  // constants first in the commutative Add/Mul
  bool beta = true;
  int64_t axis = -1;
  int64_t gamma_len = kHidden;
  bool centred_is_output = false;  // d is also a graph output
  bool eps_overridable = false;    // eps is a graph input with an initializer
};

void AddInt64Init(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(v.size()));
  for (int64_t x : v) t->add_int64_data(x);
}

// The decomposed layer norm as PyTorch exports it: X [batch, 5, 8] -> Y.
onnx::ModelProto LayerNormModel(const LnOptions& o) {
  auto m = NewModel(o.opset);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {0, 5, kHidden}, {"batch", "", ""});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {0, 5, kHidden}, {"batch", "", ""});
  AddFloatInit(g, "two", {}, {2.0f});
  AddFloatInit(g, "eps", {}, {1e-5f});
  if (o.eps_overridable) SetType(g->add_input(), "eps", onnx::TensorProto::FLOAT, {});
  std::vector<float> gamma, beta;
  for (int64_t i = 0; i < o.gamma_len; ++i) {
    gamma.push_back(0.5f + 0.1f * static_cast<float>(i));
    beta.push_back(0.2f * static_cast<float>(i) - 0.3f);
  }
  AddFloatInit(g, "gamma", {o.gamma_len}, gamma);
  AddFloatInit(g, "beta", {o.gamma_len}, beta);
  auto mean = [&](const std::string& in, const std::string& out) {
    if (o.opset >= 18) {
      AddInt64Init(g, out + "_axes", {o.axis});
      AddNode(g, "ReduceMean", {in, out + "_axes"}, {out});
    } else {
      auto* n = AddNode(g, "ReduceMean", {in}, {out});
      auto* a = n->add_attribute();
      a->set_name("axes");
      a->set_type(onnx::AttributeProto::INTS);
      a->add_ints(o.axis);
    }
  };
  auto commutative = [&](const char* op, const std::string& v, const std::string& c,
                         const std::string& out) {
    if (o.swap_operands)
      AddNode(g, op, {c, v}, {out});
    else
      AddNode(g, op, {v, c}, {out});
  };
  mean("X", "mean");
  AddNode(g, "Sub", {"X", "mean"}, {"d"});
  if (o.twin_subs) AddNode(g, "Sub", {"X", "mean"}, {"d2"});
  if (o.mul_square)
    AddNode(g, "Mul", {"d", "d"}, {"sq"});
  else
    AddNode(g, "Pow", {"d", "two"}, {"sq"});
  mean("sq", "var");
  commutative("Add", "var", "eps", "var_eps");
  AddNode(g, "Sqrt", {"var_eps"}, {"std"});
  AddNode(g, "Div", {o.twin_subs ? "d2" : "d", "std"}, {"normed"});
  commutative("Mul", "normed", "gamma", o.beta ? "scaled" : "Y");
  if (o.beta) commutative("Add", "scaled", "beta", "Y");
  if (o.centred_is_output)
    SetType(g->add_output(), "d", onnx::TensorProto::FLOAT, {0, 5, kHidden}, {"batch", "", ""});
  return m;
}

StatusOr<Model> Import(const onnx::ModelProto& m) {
  const std::string bytes = Bytes(m);
  return ImportOnnxModel(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
}

// Imports `o`'s model and runs the pass; returns the rewrite count (the graph in `model`).
int Fuse(const LnOptions& o, Model& model) {
  auto imported = Import(LayerNormModel(o));
  EXPECT_TRUE(imported.ok()) << imported.status().ToString();
  if (!imported.ok()) return -1;
  model = std::move(*imported);
  auto fused = FuseLayerNorm(model.graph, o.opset);
  EXPECT_TRUE(fused.ok()) << fused.status().ToString();
  return fused.ok() ? *fused : -1;
}

void ExpectFused(const Model& model, const char* domain, bool beta) {
  ASSERT_EQ(model.graph.nodes.size(), 1u);
  const Node& n = model.graph.nodes[0];
  EXPECT_EQ(n.op_type, "LayerNormalization");
  EXPECT_EQ(n.domain, domain);
  std::vector<std::string> want{"X", "gamma"};
  if (beta) want.push_back("beta");
  EXPECT_EQ(n.inputs, want);
  EXPECT_EQ(n.outputs, std::vector<std::string>{"Y"});
  ASSERT_NE(n.attr("axis"), nullptr);
  EXPECT_EQ(n.attr("axis")->i, -1);
  ASSERT_NE(n.attr("epsilon"), nullptr);
  EXPECT_FLOAT_EQ(n.attr("epsilon")->f, 1e-5f);
}

TEST(FuseLayerNorm, FusesThePyTorchExport) {
  Model model;
  EXPECT_EQ(Fuse({}, model), 1);
  ExpectFused(model, "com.hone", true);
}

TEST(FuseLayerNorm, FusesTwinSubsSquareByMulAndSwappedOperands) {
  Model model;
  LnOptions o;
  o.twin_subs = true;
  o.mul_square = true;
  o.swap_operands = true;
  EXPECT_EQ(Fuse(o, model), 1);
  ExpectFused(model, "com.hone", true);
}

TEST(FuseLayerNorm, FusesWithoutBeta) {
  Model model;
  LnOptions o;
  o.beta = false;
  EXPECT_EQ(Fuse(o, model), 1);
  ExpectFused(model, "com.hone", false);
}

TEST(FuseLayerNorm, UsesTheOnnxOpFromOpset17) {
  Model model;
  LnOptions o;
  o.opset = 18;  // ReduceMean axes are an input
  EXPECT_EQ(Fuse(o, model), 1);
  ExpectFused(model, "", true);
  o.opset = 17;
  EXPECT_EQ(Fuse(o, model), 1);
  ExpectFused(model, "", true);
}

TEST(FuseLayerNorm, FusesALastAxisGivenAsPositive) {
  Model model;
  LnOptions o;
  o.axis = 2;
  EXPECT_EQ(Fuse(o, model), 1);
  ExpectFused(model, "com.hone", true);
}

TEST(FuseLayerNorm, LeavesWhatIsNotALayerNorm) {
  const size_t nodes = 9;  // the unfused pattern with beta
  std::vector<std::pair<const char*, LnOptions>> cases;
  LnOptions o;
  o.axis = 1;
  cases.push_back({"mean over another axis", o});
  o = {};
  o.gamma_len = 1;
  cases.push_back({"gamma that broadcasts", o});
  o = {};
  o.centred_is_output = true;
  cases.push_back({"an intermediate is a graph output", o});
  o = {};
  o.eps_overridable = true;
  cases.push_back({"eps can be fed at run time", o});
  for (const auto& [what, opts] : cases) {
    SCOPED_TRACE(what);
    Model model;
    EXPECT_EQ(Fuse(opts, model), 0);
    EXPECT_EQ(model.graph.nodes.size(), nodes);
  }
}

TEST(FuseLayerNorm, SessionComputesTheSameValues) {
  std::mt19937 rng(3);
  std::vector<LnOptions> variants(5);
  variants[1].twin_subs = variants[1].mul_square = variants[1].swap_operands = true;
  variants[2].beta = false;
  variants[3].opset = 18;
  variants[4].opset = 17;
  for (const LnOptions& o : variants) {
    SCOPED_TRACE("opset " + std::to_string(o.opset));
    const auto model = LayerNormModel(o);
    SessionOptions all, basic, reference;
    all.profile = true;
    basic.optimization = GraphOptimization::kBasic;
    reference.use_fast_kernels = false;
    auto fused = Load(model, "", all);
    auto unfused = Load(model, "", basic);
    auto ref = Load(model, "", reference);
    ASSERT_TRUE(fused.ok() && unfused.ok() && ref.ok()) << fused.status().ToString();
    // Rows with a large offset: the fused kernel's two-pass variance must not cancel.
    Tensor x = RandomTensor({3, 5, kHidden}, -2, 2, rng);
    for (int64_t i = 0; i < kHidden; ++i) x.data<float>()[i] += 1000.0f;
    auto a = (*fused)->Run({{"X", x}});
    auto b = (*unfused)->Run({{"X", x}});
    auto c = (*ref)->Run({{"X", x}});
    ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().ToString();
    EXPECT_EQ(Compare((*a)[0].tensor, (*b)[0].tensor, 1e-4, 1e-4), "");
    EXPECT_EQ(Compare((*a)[0].tensor, (*c)[0].tensor, 1e-4, 1e-4), "");
    int layer_norms = 0;
    for (const NodeProfile& p : (*fused)->profile()) layer_norms += p.op == "LayerNormalization";
    EXPECT_EQ(layer_norms, 1);
  }
}

}  // namespace
}  // namespace hone
