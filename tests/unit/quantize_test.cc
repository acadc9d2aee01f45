// quant/: calibration ranges, QDQ insertion and the static quantization driver.
#include "quant/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "model_builder.h"
#include "passes/pipeline.h"
#include "runtime/evaluate.h"

namespace hone::quant {
namespace {
using namespace hone::testing;  // NOLINT

std::vector<float> Values(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

TEST(Histogram, PercentileClipsAnOutlierThatMseKeeps) {
  std::vector<float> x = Values(100000, 1, 0.f, 1.f);
  x.push_back(100.f);  // one outlier stretches the min/max range a hundredfold
  Histogram h;
  h.Add(x.data(), 50000);
  h.Add(x.data() + 50000, static_cast<int64_t>(x.size()) - 50000);  // widens the histogram
  EXPECT_FLOAT_EQ(h.Full().hi, 100.f);
  const Range p = h.Percentile(99.9);
  EXPECT_LT(p.hi, 1.2f);
  EXPECT_GT(p.hi, 0.95f);
  EXPECT_LT(p.lo, 0.05f);
  // One outlier in 100 000 costs less kept (a coarser step for all) than clipped: MSE keeps it.
  EXPECT_GT(h.MinMse().hi, 50.f);
}

TEST(Histogram, MseClipsTheThinTailsOfABellCurve) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(200000);
  for (auto& v : x) v = normal(rng);
  Histogram h;
  h.Add(x.data(), static_cast<int64_t>(x.size()));
  const Range full = h.Full(), m = h.MinMse();
  EXPECT_LT(m.hi, 0.95f * full.hi);
  EXPECT_GT(m.hi, 2.5f);  // about 4 sigma for 8 bits
  EXPECT_LT(m.lo, -2.5f);
}

TEST(ActivationParams, RangeWidenedToHoldZero) {
  QParams p = ActivationParams({-1.f, 3.f});
  EXPECT_FLOAT_EQ(p.scale, 4.f / 255.f);
  EXPECT_EQ(p.zero_point, 64);
  p = ActivationParams({2.f, 5.f});  // [0, 5]
  EXPECT_FLOAT_EQ(p.scale, 5.f / 255.f);
  EXPECT_EQ(p.zero_point, 0);
  p = ActivationParams({-4.f, -1.f});  // [-4, 0]
  EXPECT_EQ(p.zero_point, 255);
  p = ActivationParams({0.f, 0.f});
  EXPECT_FLOAT_EQ(p.scale, 1.f);
}

// X [n,2,6,6] -> Conv(3x3, 4 ch, bias) -> Relu -> Conv(3x3 pad 1, 4 ch) -> Add(with the Relu
// output) -> Flatten -> Gemm(transB, bias) -> Y [n,3].
onnx::ModelProto SmallNet(int64_t opset = 13) {
  auto m = NewModel(opset);
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {0, 2, 6, 6}, {"n"});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {0, 3}, {"n"});
  AddFloatInit(g, "W1", {4, 2, 3, 3}, Values(72, 2, -0.5f, 0.5f));
  AddFloatInit(g, "B1", {4}, Values(4, 3));
  AddFloatInit(g, "W2", {4, 4, 3, 3}, Values(144, 4, -0.3f, 0.3f));
  AddFloatInit(g, "W3", {3, 64}, Values(192, 5, -0.2f, 0.2f));
  AddFloatInit(g, "B3", {3}, Values(3, 6));
  AddNode(g, "Conv", {"X", "W1", "B1"}, {"c1"}, "conv1");
  AddNode(g, "Relu", {"c1"}, {"r1"}, "relu1");
  auto* c2 = AddNode(g, "Conv", {"r1", "W2"}, {"c2"}, "conv2");
  auto* pads = c2->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  AddNode(g, "Add", {"c2", "r1"}, {"s"}, "add");
  AddNode(g, "Flatten", {"s"}, {"f"}, "flatten");
  auto* gemm = AddNode(g, "Gemm", {"f", "W3", "B3"}, {"Y"}, "fc");
  auto* tb = gemm->add_attribute();
  tb->set_name("transB");
  tb->set_type(onnx::AttributeProto::INT);
  tb->set_i(1);
  return m;
}

std::vector<std::vector<NamedTensor>> Batches(int count, int64_t rows) {
  std::vector<std::vector<NamedTensor>> out;
  for (int b = 0; b < count; ++b)
    out.push_back({{"X", FloatTensor({rows, 2, 6, 6}, Values(static_cast<size_t>(rows * 72),
                                                             100 + static_cast<uint32_t>(b)))}});
  return out;
}

int Count(const Graph& g, const char* op) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op_type == op;
  return n;
}

Tensor RunModel(const Model& m, const Tensor& x, GraphOptimization level) {
  auto bytes = ExportOnnxModel(m);
  EXPECT_TRUE(bytes.ok());
  SessionOptions so;
  so.optimization = level;
  auto s = Session::FromBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()), so);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  auto out = (*s)->Run({{"X", x}});
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return (*out)[0].tensor;
}

TEST(QuantizeStatic, RewritesIntoQdqThatStaysCloseToFloat) {
  Model m = ImportProto(SmallNet());
  const Model float_model = m;
  StaticOptions opts;
  auto report = QuantizeStatic(m, Batches(4, 8), opts);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->per_channel);
  EXPECT_EQ(report->calibration_batches, 4);
  ASSERT_EQ(report->layers.size(), 4u);  // conv1, conv2, add, fc
  for (const LayerReport& l : report->layers) {
    EXPECT_EQ(l.precision, "int8") << l.node;
    EXPECT_GT(l.sqnr_db, 25.0) << l.node;
  }
  EXPECT_EQ(report->layers[0].output, "r1");  // the Relu moved the quantization after it
  // Values quantized: X, r1, c2, s, f (Flatten's output feeds the Gemm), Y: one QuantizeLinear
  // each; weights and biases are dequantized from int8 / int32 initializers (3 + 2).
  const Graph& g = m.graph;
  EXPECT_EQ(Count(g, "QuantizeLinear"), 6);
  EXPECT_EQ(Count(g, "DequantizeLinear"), 6 + 5);
  EXPECT_EQ(g.initializers.count("W1"), 0u);  // the float weights are gone
  EXPECT_EQ(g.initializers.at("W1_quantized").dtype(), DataType::kInt8);
  EXPECT_EQ(g.initializers.at("B1_quantized").dtype(), DataType::kInt32);
  EXPECT_EQ(g.initializers.at("W1_scale").shape(), (Shape{4}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0].name, "Y");  // the graph output is the dequantized copy
  for (const Node& n : g.nodes)
    if (n.op_type == "Gemm") {
      EXPECT_NE(n.outputs[0], "Y");
    }

  const Tensor x = FloatTensor({5, 2, 6, 6}, Values(360, 999));
  const Tensor want = RunModel(float_model, x, GraphOptimization::kBasic);
  const Tensor got = RunModel(m, x, GraphOptimization::kBasic);
  ASSERT_EQ(got.shape(), want.shape());
  double worst = 0, span = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    worst = std::max(worst, std::fabs(double(got.data<float>()[i]) - want.data<float>()[i]));
    span = std::max(span, std::fabs(double(want.data<float>()[i])));
  }
  EXPECT_LT(worst, 0.05 * span);
}

TEST(QuantizeStatic, ExcludedNodesStayFloatAndSayWhy) {
  Model m = ImportProto(SmallNet());
  StaticOptions opts;
  opts.qdq.exclude = {"conv2"};
  auto report = QuantizeStatic(m, Batches(2, 4), opts);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  bool seen = false;
  for (const LayerReport& l : report->layers)
    if (l.node == "conv2") {
      seen = true;
      EXPECT_EQ(l.precision, "fp32");
      EXPECT_NE(l.reason.find("--exclude"), std::string::npos);
    }
  EXPECT_TRUE(seen);
  EXPECT_EQ(m.graph.initializers.at("W2").dtype(), DataType::kFloat32);
}

TEST(QuantizeStatic, OldOpsetsGetPerTensorWeightsOrAClearError) {
  Model m11 = ImportProto(SmallNet(11));
  auto r11 = QuantizeStatic(m11, Batches(2, 4), {});
  ASSERT_TRUE(r11.ok()) << r11.status().ToString();
  EXPECT_FALSE(r11->per_channel);
  EXPECT_EQ(m11.graph.initializers.at("W1_scale").shape(), Shape{});

  Model m9 = ImportProto(SmallNet(9));
  auto r9 = QuantizeStatic(m9, Batches(2, 4), {});
  ASSERT_FALSE(r9.ok());
  EXPECT_NE(r9.status().ToString().find("opset is 9"), std::string::npos) << r9.status().ToString();
}

TEST(QuantizeStatic, BadCalibrationDataIsAnError) {
  Model m = ImportProto(SmallNet());
  std::vector<std::vector<NamedTensor>> wrong = {
      {{"X", FloatTensor({1, 3, 6, 6}, Values(108, 1))}}};  // 3 channels, the model takes 2
  auto r = QuantizeStatic(m, wrong, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("calibration batch 0"), std::string::npos)
      << r.status().ToString();
  Model m2 = ImportProto(SmallNet());
  EXPECT_FALSE(QuantizeStatic(m2, {}, {}).ok());
}

// X -> Conv -> Relu -> MaxPool(2x2) -> Conv -> Add(with the pooled value) -> Flatten -> Gemm,
// quantized: what hone's int8 kernels (passes/fuse_qdq.cc, kernels/cpu/dnnl_int8.cc) run.
onnx::ModelProto PoolNet() {
  auto m = SmallNet();
  auto* g = m.mutable_graph();
  // conv1 -> relu1 -> pool -> conv2(pool) ... add(c2, pool); Gemm now takes 4 x 2 x 2 = 16.
  auto* pool = AddNode(g, "MaxPool", {"r1"}, {"p"}, "pool");
  auto* ks = pool->add_attribute();
  ks->set_name("kernel_shape");
  ks->set_type(onnx::AttributeProto::INTS);
  ks->add_ints(2);
  ks->add_ints(2);
  auto* st = pool->add_attribute();
  st->set_name("strides");
  st->set_type(onnx::AttributeProto::INTS);
  st->add_ints(2);
  st->add_ints(2);
  for (auto& n : *g->mutable_node()) {
    if (n.name() == "conv2") n.set_input(0, "p");
    if (n.name() == "add") n.set_input(1, "p");
  }
  for (auto& t : *g->mutable_initializer())
    if (t.name() == "W3") {
      t.clear_dims();
      t.add_dims(3);
      t.add_dims(16);
      t.clear_float_data();
      for (float v : Values(48, 5, -0.4f, 0.4f)) t.add_float_data(v);
    }
  // Keep the node list topologically sorted: move the pool right after relu1.
  auto* nodes = g->mutable_node();
  for (int i = nodes->size() - 1; i > 2; --i) nodes->SwapElements(i, i - 1);
  return m;
}

TEST(FuseQdq, Int8KernelsMatchTheReferenceQdqGraph) {
  Model m = ImportProto(PoolNet());
  auto report = QuantizeStatic(m, Batches(4, 8), {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  // The fused graph: hone's int8 ops, the float Conv/Gemm/Add gone.
  Model fused = m;
  const NodeEvaluator evaluate = ReferenceEvaluator();
  ASSERT_TRUE(OptimizeModel(fused, OptLevel::kAll, &evaluate).ok());
  std::map<std::string, int> ops;
  for (const Node& n : fused.graph.nodes) ops[n.domain + ":" + n.op_type]++;
  EXPECT_EQ(ops["com.hone:QConv"], 2);
  EXPECT_EQ(ops["com.hone:QAdd"], 1);
  EXPECT_EQ(ops["com.hone:QMatMul"], 1);
  EXPECT_EQ(ops["com.hone:MaxPool"], 1);
  EXPECT_EQ(ops["com.hone:QuantizeLinear"], 1);
  EXPECT_EQ(ops[":Conv"] + ops[":Gemm"] + ops[":Add"], 0);
  // Same results as the QDQ graph on reference kernels, within two steps of the output scale.
  float y_scale = 0;
  for (const Node& n : m.graph.nodes)
    if (n.op_type == "DequantizeLinear" && n.outputs[0] == "Y")
      y_scale = m.graph.initializers.at(n.inputs[1]).data<float>()[0];
  ASSERT_GT(y_scale, 0.f);
  for (int64_t rows : {1, 7}) {
    const Tensor x = FloatTensor({rows, 2, 6, 6}, Values(static_cast<size_t>(rows * 72), 31));
    const Tensor want = RunModel(m, x, GraphOptimization::kBasic);
    const Tensor got = RunModel(m, x, GraphOptimization::kAll);
    ASSERT_EQ(got.shape(), want.shape());
    for (int64_t i = 0; i < want.numel(); ++i)
      EXPECT_LE(std::fabs(got.data<float>()[i] - want.data<float>()[i]), 2.01f * y_scale) << i;
  }
}

TEST(FuseQdq, AGraphOutputInsideTheInt8RegionComesOutAsNchwFloat) {
  // The quantized Add's output is also a graph output: the DequantizeLinear that makes it turns
  // the channels-last uint8 back into float NCHW, and the Add still runs in int8.
  auto proto = SmallNet();
  SetType(proto.mutable_graph()->add_output(), "s", onnx::TensorProto::FLOAT, {0, 4, 4, 4}, {"n"});
  Model m = ImportProto(proto);
  ASSERT_TRUE(QuantizeStatic(m, Batches(2, 4), {}).ok());
  Model fused = m;
  const NodeEvaluator evaluate = ReferenceEvaluator();
  ASSERT_TRUE(OptimizeModel(fused, OptLevel::kAll, &evaluate).ok());
  int qadd = 0;
  for (const Node& n : fused.graph.nodes) qadd += n.op_type == "QAdd";
  EXPECT_EQ(qadd, 1);
  const Tensor x = FloatTensor({2, 2, 6, 6}, Values(144, 77));
  for (const char* name : {"Y", "s"}) {
    auto run = [&](GraphOptimization level) {
      auto bytes = ExportOnnxModel(m);
      SessionOptions so;
      so.optimization = level;
      auto session = Session::FromBytes(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()),
          so);
      EXPECT_TRUE(session.ok());
      auto out = (*session)->Run({{"X", x}}, {name});
      EXPECT_TRUE(out.ok()) << out.status().ToString();
      return (*out)[0].tensor;
    };
    const Tensor want = run(GraphOptimization::kBasic), got = run(GraphOptimization::kAll);
    ASSERT_EQ(got.shape(), want.shape()) << name;
    if (std::string(name) == "s") {
      EXPECT_EQ(got.shape(), (Shape{2, 4, 4, 4}));
    }
    for (int64_t i = 0; i < want.numel(); ++i)
      EXPECT_NEAR(got.data<float>()[i], want.data<float>()[i], 0.05f) << name << " " << i;
  }
}

}  // namespace
}  // namespace hone::quant
