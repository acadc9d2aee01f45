// The GELU fusion pass: the exported orderings of x * 0.5 * (1 + erf(x / sqrt(2))) become one
// Gelu node, near misses do not, and a session computes the same values with it (kAll) as
// without (kBasic) and as the reference kernels.
#include "passes/fuse_gelu.h"

#include <gtest/gtest.h>

#include <random>

#include "ir/onnx_import.h"
#include "kernel_harness.h"
#include "model_builder.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT

enum class Order {
  kXTimesAThenHalf,  // (x * a) * 0.5, PyTorch's nn.GELU export
  kHalfXThenA,       // (x * 0.5) * a, the BERT-style x * 0.5 * (1 + erf(...))
  kXTimesHalfA,      // x * (a * 0.5)
};

struct GeluOptions {
  int64_t opset = 13;
  Order order = Order::kXTimesAThenHalf;
  bool mul_by_inverse = false;  // x * (1 / sqrt(2)) instead of x / sqrt(2)
  bool swap_operands = false;   // constants first in the commutative Add/Mul
  float half = 0.5f;
  bool erf_is_output = false;
};

// X [3, 7] -> Y = GELU(X), decomposed.
onnx::ModelProto GeluModel(const GeluOptions& o) {
  auto m = NewModel(o.opset);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {3, 7});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {3, 7});
  AddFloatInit(g, "sqrt2", {}, {1.4142135381698608f});
  AddFloatInit(g, "inv_sqrt2", {}, {0.7071067690849304f});
  AddFloatInit(g, "one", {}, {1.0f});
  AddFloatInit(g, "half", {}, {o.half});
  auto commutative = [&](const char* op, const std::string& v, const std::string& c,
                         const std::string& out) {
    if (o.swap_operands)
      AddNode(g, op, {c, v}, {out});
    else
      AddNode(g, op, {v, c}, {out});
  };
  if (o.mul_by_inverse)
    commutative("Mul", "X", "inv_sqrt2", "u");
  else
    AddNode(g, "Div", {"X", "sqrt2"}, {"u"});
  AddNode(g, "Erf", {"u"}, {"e"});
  commutative("Add", "e", "one", "a");
  switch (o.order) {
    case Order::kXTimesAThenHalf:
      AddNode(g, "Mul", {"X", "a"}, {"xa"});
      commutative("Mul", "xa", "half", "Y");
      break;
    case Order::kHalfXThenA:
      commutative("Mul", "X", "half", "hx");
      AddNode(g, "Mul", {"hx", "a"}, {"Y"});
      break;
    case Order::kXTimesHalfA:
      commutative("Mul", "a", "half", "ha");
      AddNode(g, "Mul", {"X", "ha"}, {"Y"});
      break;
  }
  if (o.erf_is_output) SetType(g->add_output(), "e", onnx::TensorProto::FLOAT, {3, 7});
  return m;
}

// Imports `o`'s model and runs the pass; returns the rewrite count (the graph in `model`).
int Fuse(const GeluOptions& o, Model& model) {
  const std::string bytes = Bytes(GeluModel(o));
  auto imported = ImportOnnxModel(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
  EXPECT_TRUE(imported.ok()) << imported.status().ToString();
  if (!imported.ok()) return -1;
  model = std::move(*imported);
  auto fused = FuseGelu(model.graph, o.opset);
  EXPECT_TRUE(fused.ok()) << fused.status().ToString();
  return fused.ok() ? *fused : -1;
}

std::vector<GeluOptions> Variants() {
  std::vector<GeluOptions> v;
  for (Order order : {Order::kXTimesAThenHalf, Order::kHalfXThenA, Order::kXTimesHalfA})
    for (bool inverse : {false, true})
      for (bool swap : {false, true}) {
        GeluOptions o;
        o.order = order;
        o.mul_by_inverse = inverse;
        o.swap_operands = swap;
        v.push_back(o);
      }
  return v;
}

TEST(FuseGelu, FusesEveryExportedOrdering) {
  for (const GeluOptions& o : Variants()) {
    SCOPED_TRACE(::testing::Message() << "order " << static_cast<int>(o.order) << " inverse "
                                      << o.mul_by_inverse << " swap " << o.swap_operands);
    Model model;
    EXPECT_EQ(Fuse(o, model), 1);
    ASSERT_EQ(model.graph.nodes.size(), 1u);
    const Node& n = model.graph.nodes[0];
    EXPECT_EQ(n.op_type, "Gelu");
    EXPECT_EQ(n.domain, "com.hone");
    EXPECT_EQ(n.inputs, std::vector<std::string>{"X"});
    EXPECT_EQ(n.outputs, std::vector<std::string>{"Y"});
  }
}

TEST(FuseGelu, UsesTheOnnxOpFromOpset20) {
  GeluOptions o;
  o.opset = 20;
  Model model;
  EXPECT_EQ(Fuse(o, model), 1);
  ASSERT_EQ(model.graph.nodes.size(), 1u);
  EXPECT_EQ(model.graph.nodes[0].op_type, "Gelu");
  EXPECT_EQ(model.graph.nodes[0].domain, "");
}

TEST(FuseGelu, LeavesNearMisses) {
  GeluOptions wrong_half;
  wrong_half.half = 0.6f;
  GeluOptions erf_read_outside;
  erf_read_outside.erf_is_output = true;
  for (const GeluOptions& o : {wrong_half, erf_read_outside}) {
    Model model;
    EXPECT_EQ(Fuse(o, model), 0);
    EXPECT_EQ(model.graph.nodes.size(), 5u);
  }
}

TEST(FuseGelu, SessionComputesTheSameValues) {
  std::mt19937 rng(5);
  std::vector<GeluOptions> variants = Variants();
  variants.push_back({});
  variants.back().opset = 20;
  for (const GeluOptions& o : variants) {
    const auto model = GeluModel(o);
    SessionOptions all, basic, reference;
    all.profile = true;
    basic.optimization = GraphOptimization::kBasic;
    reference.use_fast_kernels = false;
    auto fused = Load(model, "", all);
    auto unfused = Load(model, "", basic);
    auto ref = Load(model, "", reference);
    ASSERT_TRUE(fused.ok() && unfused.ok() && ref.ok()) << fused.status().ToString();
    Tensor x = RandomTensor({3, 7}, -5, 5, rng);
    x.data<float>()[0] = 0.0f;
    auto a = (*fused)->Run({{"X", x}});
    auto b = (*unfused)->Run({{"X", x}});
    auto c = (*ref)->Run({{"X", x}});
    ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().ToString();
    EXPECT_EQ(Compare((*a)[0].tensor, (*b)[0].tensor, 1e-5, 5e-6), "");
    EXPECT_EQ(Compare((*a)[0].tensor, (*c)[0].tensor, 1e-5, 5e-6), "");
    const auto profile = (*fused)->profile();
    ASSERT_EQ(profile.size(), 1u);
    EXPECT_EQ(profile[0].op, "Gelu");
  }
}

}  // namespace
}  // namespace hone
