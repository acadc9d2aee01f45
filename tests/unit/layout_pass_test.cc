// The blocked-layout pass (passes/layout_nchwc.cc) and the passes before it: structure after the
// rewrite, and the same numbers as the reference kernels on the original graph.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "ir/onnx_import.h"
#include "model_builder.h"
#include "passes/fold_batch_norm.h"
#include "passes/fold_conv_affine.h"
#include "passes/fuse_hard_swish.h"
#include "passes/graph_util.h"
#include "passes/layout_nchwc.h"
#include "passes/pipeline.h"
#include "passes/remove_identity.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT

std::vector<float> RandomValues(size_t n, uint32_t seed, float scale = 0.5f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

void AddConv(onnx::GraphProto* g, const std::string& x, const std::string& y, int64_t c, int64_t m,
             int64_t k, int64_t group, uint32_t seed, int64_t stride = 1) {
  const std::string w = y + "_W", b = y + "_B";
  AddFloatInit(g, w, {m, c / group, k, k},
               RandomValues(static_cast<size_t>(m * (c / group) * k * k), seed));
  AddFloatInit(g, b, {m}, RandomValues(static_cast<size_t>(m), seed + 1));
  auto* n = AddNode(g, "Conv", {x, w, b}, {y}, y + "_conv");
  auto* a = n->add_attribute();
  a->set_name("pads");
  a->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) a->add_ints(k / 2);
  auto* s = n->add_attribute();
  s->set_name("strides");
  s->set_type(onnx::AttributeProto::INTS);
  s->add_ints(stride);
  s->add_ints(stride);
  if (group > 1) {
    auto* gr = n->add_attribute();
    gr->set_name("group");
    gr->set_type(onnx::AttributeProto::INT);
    gr->set_i(group);
  }
}

void AddFloatAttr(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

// A small residual CNN: conv(3->24) relu, [depthwise 3x3 (optional)], conv 1x1 -> 24, Add with
// the first activation, Relu, HardSigmoid-gated channel scaling (squeeze-excite style) with
// GlobalAveragePool, a per-channel constant Mul, MaxPool, Concat with itself, output NCHW.
onnx::ModelProto ResidualCnn(bool depthwise, int64_t c = 24) {
  auto m = NewModel(13);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {1, 3, 12, 10});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {1, 2 * c, 6, 5});
  AddConv(g, "X", "c1", 3, c, 3, 1, 1);
  AddNode(g, "Relu", {"c1"}, {"r1"});
  std::string mid = "r1";
  if (depthwise) {
    AddConv(g, "r1", "dw", c, c, 3, c, 3);
    AddNode(g, "Clip", {"dw", "lo", "hi"}, {"dwc"});
    AddFloatInit(g, "lo", {}, {0.f});
    AddFloatInit(g, "hi", {}, {6.f});
    mid = "dwc";
  }
  AddConv(g, mid, "c2", c, c, 3, 1, 5);
  AddNode(g, "Add", {"c2", "r1"}, {"sum"});
  AddNode(g, "Relu", {"sum"}, {"r2"});
  AddNode(g, "GlobalAveragePool", {"r2"}, {"gap"});
  AddConv(g, "gap", "se", c, c, 1, 1, 7);
  auto* hs = AddNode(g, "HardSigmoid", {"se"}, {"gate"});
  AddFloatAttr(hs, "alpha", 0.2f);
  AddFloatAttr(hs, "beta", 0.5f);
  AddNode(g, "Mul", {"r2", "gate"}, {"scaled"});
  AddFloatInit(g, "chs", {1, c, 1, 1}, RandomValues(static_cast<size_t>(c), 9, 2.f));
  AddNode(g, "Mul", {"scaled", "chs"}, {"scaled2"});
  auto* mp = AddNode(g, "MaxPool", {"scaled2"}, {"pooled"});
  auto* ks = mp->add_attribute();
  ks->set_name("kernel_shape");
  ks->set_type(onnx::AttributeProto::INTS);
  ks->add_ints(2);
  ks->add_ints(2);
  auto* st = mp->add_attribute();
  st->set_name("strides");
  st->set_type(onnx::AttributeProto::INTS);
  st->add_ints(2);
  st->add_ints(2);
  auto* cat = AddNode(g, "Concat", {"pooled", "pooled"}, {"Y"});
  auto* ax = cat->add_attribute();
  ax->set_name("axis");
  ax->set_type(onnx::AttributeProto::INT);
  ax->set_i(1);
  return m;
}

Model Import(const onnx::ModelProto& m) {
  std::string bytes = Bytes(m);
  auto model = ImportOnnxModel(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model).value();
}

std::map<std::string, int> OpCounts(const Graph& g) {
  std::map<std::string, int> c;
  for (const auto& n : g.nodes) c[(n.domain.empty() ? "" : n.domain + "::") + n.op_type]++;
  return c;
}

TEST(BlockedLayout, RewritesConvRegionsAndFusesPostOps) {
  Model model = Import(ResidualCnn(/*depthwise=*/true));
  auto r = ConvertToBlockedLayout(model.graph, 16);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto ops = OpCounts(model.graph);
  EXPECT_EQ(ops["com.hone::Conv"], 4);
  EXPECT_EQ(ops["Conv"], 0);
  EXPECT_EQ(ops["Relu"], 0) << "both Relus fold into convolutions";
  EXPECT_EQ(ops["Clip"], 0);
  EXPECT_EQ(ops["Add"], 0) << "the residual Add becomes the Conv's Sum input";
  EXPECT_EQ(ops["HardSigmoid"], 0);
  EXPECT_EQ(ops["com.hone::GlobalAveragePool"], 1);
  EXPECT_EQ(ops["com.hone::MaxPool"], 1);
  EXPECT_EQ(ops["Mul"], 2) << "elementwise ops run on blocked tensors";
  EXPECT_EQ(ops["Concat"], 1) << "24 channels are not whole 16-channel blocks: Concat stays NCHW";
  EXPECT_EQ(ops["com.hone::ReorderInput"], 0) << "the first conv reads the 3-channel input";
  EXPECT_EQ(ops["com.hone::ReorderOutput"], 1) << "one conversion back, before the Concat";
  int fused_sum = 0;
  for (const auto& n : model.graph.nodes)
    if (n.op_type == "Conv" && n.inputs.size() == 4) {
      ++fused_sum;
      ASSERT_NE(n.attr("activation"), nullptr);
      EXPECT_EQ(n.attr("activation")->s, "Relu");
    }
  EXPECT_EQ(fused_sum, 1);
}

TEST(BlockedLayout, NhwcConcatStaysInLayout) {
  EXPECT_EQ(PreferredBlock(Import(ResidualCnn(false)).graph, 16), 16) << "narrow: blocks";
  EXPECT_EQ(PreferredBlock(Import(ResidualCnn(true, 64)).graph, 16), 16) << "depthwise: blocks";
  Model model = Import(ResidualCnn(/*depthwise=*/false, 64));
  EXPECT_EQ(PreferredBlock(model.graph, 16), 0) << "wide, no depthwise conv: NHWC";
  auto r = ConvertToBlockedLayout(model.graph, 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto ops = OpCounts(model.graph);
  EXPECT_EQ(ops["Concat"], 1);
  EXPECT_EQ(ops["com.hone::ReorderInput"], 1) << "NHWC convs read blocked input only";
  EXPECT_EQ(ops["com.hone::ReorderOutput"], 1) << "only the graph output converts back";
  for (const auto& n : model.graph.nodes)
    if (n.op_type == "Concat") {
      EXPECT_EQ(n.attr("axis")->i, 4);
    }
}

TEST(BlockedLayout, RejectsOtherBlockSizes) {
  Model model = Import(ResidualCnn(true));
  auto r = ConvertToBlockedLayout(model.graph, 4);
  EXPECT_FALSE(r.ok());
}

void ExpectSameAsReference(const onnx::ModelProto& m, std::vector<int64_t> x_shape = {1, 3, 12, 10},
                           std::vector<NamedTensor> extra = {}) {
  SessionOptions ref_opts;
  ref_opts.use_fast_kernels = false;
  ref_opts.optimization = GraphOptimization::kNone;
  auto ref = Load(m, "", ref_opts);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  for (int threads : {1, 2}) {
    SessionOptions fast;
    fast.threads = threads;
    auto s = Load(m, "", fast);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Tensor x = FloatTensor(x_shape, RandomValues(static_cast<size_t>(ShapeSize(x_shape)), 42, 2.f));
    std::vector<NamedTensor> feed = extra;
    feed.push_back({"X", x});
    auto a = (*ref)->Run(feed);
    auto b = (*s)->Run(feed);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    const Tensor &ta = (*a)[0].tensor, &tb = (*b)[0].tensor;
    ASSERT_EQ(ta.shape(), tb.shape());
    double worst = 0;
    for (int64_t i = 0; i < ta.numel(); ++i)
      worst = std::max(worst, std::abs(double(ta.data<float>()[i]) - tb.data<float>()[i]) /
                                  (1e-4 + 1e-3 * std::abs(double(ta.data<float>()[i]))));
    EXPECT_LE(worst, 1.0) << "beyond atol 1e-4 + rtol 1e-3";
  }
}

TEST(BlockedLayout, SameNumbersAsReferenceBlocked) { ExpectSameAsReference(ResidualCnn(true)); }
TEST(BlockedLayout, SameNumbersAsReferenceNarrow) { ExpectSameAsReference(ResidualCnn(false)); }
TEST(BlockedLayout, SameNumbersAsReferenceNhwc) { ExpectSameAsReference(ResidualCnn(false, 64)); }

// Conv -> BatchNormalization -> Identity -> Dropout -> output.
onnx::ModelProto ConvBnModel() {
  auto m = NewModel(13);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {1, 3, 12, 10});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {1, 8, 12, 10});
  AddConv(g, "X", "c", 3, 8, 3, 1, 11);
  AddFloatInit(g, "gamma", {8}, RandomValues(8, 12, 2.f));
  AddFloatInit(g, "beta", {8}, RandomValues(8, 13));
  AddFloatInit(g, "mean", {8}, RandomValues(8, 14));
  std::vector<float> var = RandomValues(8, 15);
  for (auto& v : var) v = std::abs(v) + 0.1f;
  AddFloatInit(g, "var", {8}, var);
  AddNode(g, "BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"bn"});
  AddNode(g, "Identity", {"bn"}, {"id"});
  AddNode(g, "Dropout", {"id"}, {"Y"});
  return m;
}

TEST(FoldBatchNorm, FoldsIntoConvAndKeepsNumbers) {
  Model model = Import(ConvBnModel());
  auto r = FoldBatchNormIntoConv(model.graph);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1);
  auto ops = OpCounts(model.graph);
  EXPECT_EQ(ops["BatchNormalization"], 0);
  EXPECT_EQ(ops["Conv"], 1);
  ExpectSameAsReference(ConvBnModel());
}

TEST(RemoveIdentity, KeepsNodesThatProduceGraphOutputs) {
  Model model = Import(ConvBnModel());
  auto r = RemoveIdentityAndDropout(model.graph);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1) << "Identity goes; the Dropout producing the graph output stays";
  auto ops = OpCounts(model.graph);
  EXPECT_EQ(ops["Identity"], 0);
  EXPECT_EQ(ops["Dropout"], 1);
  EXPECT_EQ(model.graph.nodes.back().inputs[0], "bn");
}

// SqueezeNet's fire module: squeeze 1x1, then expand 1x1 and 3x3 side by side, concatenated
// (32 + 32 channels: whole 16-channel blocks), then a conv reading the concatenation.
onnx::ModelProto FireModule() {
  auto m = NewModel(13);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {1, 3, 12, 10});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {1, 8, 12, 10});
  AddConv(g, "X", "sq", 3, 16, 1, 1, 31);
  AddNode(g, "Relu", {"sq"}, {"sqr"});
  AddConv(g, "sqr", "e1", 16, 32, 1, 1, 33);
  AddConv(g, "sqr", "e3", 16, 32, 3, 1, 35);
  AddNode(g, "Relu", {"e1"}, {"e1r"});
  AddNode(g, "Relu", {"e3"}, {"e3r"});
  auto* cat = AddNode(g, "Concat", {"e1r", "e3r"}, {"cat"});
  auto* ax = cat->add_attribute();
  ax->set_name("axis");
  ax->set_type(onnx::AttributeProto::INT);
  ax->set_i(1);
  AddConv(g, "cat", "Y", 64, 8, 3, 1, 37);
  return m;
}

TEST(BlockedLayout, ConvsWriteStraightIntoTheirConcat) {
  Model model = Import(FireModule());
  auto r = ConvertToBlockedLayout(model.graph, 16);
  ASSERT_TRUE(r.ok());
  std::vector<int64_t> offsets;
  std::string target;
  for (const auto& n : model.graph.nodes) {
    if (const Attribute* a = n.attr("concat_output")) {
      target = a->s;
      offsets.push_back(n.attr("concat_block_offset")->i);
      EXPECT_EQ(n.attr("concat_blocks")->i, 4);
    }
  }
  EXPECT_EQ(offsets, (std::vector<int64_t>{0, 2}));
  bool concat_found = false;
  for (const auto& n : model.graph.nodes)
    if (n.op_type == "Concat") {
      concat_found = true;
      EXPECT_EQ(n.outputs[0], target);
    }
  EXPECT_TRUE(concat_found);
  ExpectSameAsReference(FireModule());
}

// Floor-mode pooling whose last window stops short of an odd edge (7x9 -> 3x4), on blocks.
TEST(BlockedLayout, PoolingOnOddSizes) {
  auto m = NewModel(13);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {1, 3, 7, 9});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {1, 24, 3, 4});
  AddConv(g, "X", "c", 3, 24, 3, 1, 41);
  for (const char* op : {"MaxPool", "AveragePool"}) {
    auto* p = AddNode(g, op, {"c"}, {std::string(op) == "MaxPool" ? "mp" : "ap"});
    auto* ks = p->add_attribute();
    ks->set_name("kernel_shape");
    ks->set_type(onnx::AttributeProto::INTS);
    ks->add_ints(2);
    ks->add_ints(2);
    auto* st = p->add_attribute();
    st->set_name("strides");
    st->set_type(onnx::AttributeProto::INTS);
    st->add_ints(2);
    st->add_ints(2);
  }
  AddNode(g, "Add", {"mp", "ap"}, {"Y"});
  ExpectSameAsReference(m, {1, 3, 7, 9});
}

// PP-LCNetV3's block as paddle2onnx writes it (opset 11): conv, learnable scale and shift, the
// spelled-out HardSwish, another scale and shift, then a depthwise conv.
onnx::ModelProto LcnetBlock() {
  auto m = NewModel(11);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {1, 3, 12, 10});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {1, 24, 12, 10});
  AddConv(g, "X", "c1", 3, 24, 3, 1, 21);
  AddFloatInit(g, "s1", {}, {1.4f});
  AddFloatInit(g, "b1", {1}, {0.6f});
  AddFloatInit(g, "three", {}, {3.f});
  AddFloatInit(g, "zero", {}, {0.f});
  AddFloatInit(g, "six", {}, {6.f});
  AddFloatInit(g, "s2", {}, {0.3f});
  AddFloatInit(g, "b2", {}, {-0.2f});
  AddNode(g, "Mul", {"s1", "c1"}, {"m1"});
  AddNode(g, "Add", {"m1", "b1"}, {"a1"});
  AddNode(g, "Add", {"a1", "three"}, {"a3"});
  AddNode(g, "Clip", {"a3", "zero", "six"}, {"r6"});
  AddNode(g, "Mul", {"a1", "r6"}, {"xr6"});
  AddNode(g, "Div", {"xr6", "six"}, {"hs"});
  AddNode(g, "Mul", {"s2", "hs"}, {"m2"});
  AddNode(g, "Add", {"m2", "b2"}, {"a2"});
  AddConv(g, "a2", "Y", 24, 24, 3, 24, 23);
  return m;
}

TEST(ConvFusion, AffineFoldsIntoWeightsAndHardSwishIsRecognised) {
  Model model = Import(LcnetBlock());
  auto folded = FoldAffineIntoConv(model.graph);
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(*folded, 2) << "Mul(s1) and Add(b1) after the first conv";
  auto hs = FuseHardSwish(model.graph, 11);
  ASSERT_TRUE(hs.ok());
  EXPECT_EQ(*hs, 1);
  auto ops = OpCounts(model.graph);
  EXPECT_EQ(ops["com.hone::HardSwish"], 1) << "opset 11 has no HardSwish: hone's domain";
  EXPECT_EQ(ops["Clip"], 0);
  EXPECT_EQ(ops["Div"], 0);
  EXPECT_EQ(ops["Mul"], 1) << "only the scale after the HardSwish is left";
  auto r = ConvertToBlockedLayout(model.graph, 16);
  ASSERT_TRUE(r.ok());
  ops = OpCounts(model.graph);
  EXPECT_EQ(ops["com.hone::HardSwish"], 0) << "fused into the conv";
  EXPECT_EQ(ops["Mul"], 0);
  EXPECT_EQ(ops["Add"], 0);
  bool found = false;
  for (const auto& n : model.graph.nodes) {
    if (n.op_type != "Conv" || !n.attr("activation")) continue;
    found = true;
    EXPECT_EQ(n.attr("activation")->s, "HardSwish");
    ASSERT_NE(n.attr("post_linear"), nullptr);
    EXPECT_FLOAT_EQ(n.attr("post_linear")->floats[0], 0.3f);
    EXPECT_FLOAT_EQ(n.attr("post_linear")->floats[1], -0.2f);
  }
  EXPECT_TRUE(found);
}

TEST(ConvFusion, SameNumbersAsReference) {
  ExpectSameAsReference(LcnetBlock());
  // Basic level only (standard ops): the affine folds, nothing else.
  SessionOptions basic;
  basic.optimization = GraphOptimization::kBasic;
  auto s = Load(LcnetBlock(), "", basic);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
}

}  // namespace
}  // namespace hone
