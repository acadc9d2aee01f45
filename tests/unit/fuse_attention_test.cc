// The attention fusion pass: the attention core as PyTorch's nn.MultiheadAttention exports it
// (and the [batch, heads, seq, dim] layout of Hugging Face style exports) becomes one
// com.hone Attention node, near misses do not, and a session computes the same values with it
// (kAll) as without (kBasic) and as the reference kernels, with padded sequences.
#include "passes/fuse_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "ir/onnx_import.h"
#include "kernel_harness.h"
#include "model_builder.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT

constexpr int64_t kSeq = 7, kHeads = 3, kDim = 5, kEmbed = kHeads * kDim;

enum class Scaling {
  kDivQ,       // Div(Q, sqrt(d)), then Mul(scores, 1) as baddbmm's alpha (the PyTorch export)
  kMulQ,       // Mul(1 / sqrt(d), Q)
  kMulScores,  // Mul(scores, 1 / sqrt(d))
  kDivScores,  // Div(scores, sqrt(d))
  kBothSides,  // Mul(Q, d^-1/4) and Mul(K^T, d^-1/4)
};

struct AttOptions {
  Scaling scaling = Scaling::kDivQ;
  bool mask = true;
  bool mask_first = false;        // Add(mask, scores)
  bool existing_k = true;         // the export's Transpose(k, [1, 0, 2]) (read by a Shape) exists
  bool four_d = false;            // [batch, heads, seq, dim] with a [batch, 1, 1, seq] mask
  int64_t softmax_axis = -1;      // -1 or 2 (3 when four_d) is the last axis
  bool scores_is_output = false;  // the scores are also a graph output
  bool probs_is_output = false;   // the probabilities are also a graph output
  bool probs_on_right = false;    // MatMul(V^T, P^T)-like: P is the right operand
  bool kt_is_input = false;       // K^T is a graph input, no Transpose to undo
  bool kt_read_twice = false;     // the transposed K is also a graph output
  bool runtime_scale = false;     // the scores are scaled by a graph input
  bool rank4_factor = false;      // the scores' factor is a [1, 1, 1, 1] constant
  bool q_rank_unknown = false;    // Q' comes from a graph input of unknown shape
};

void AddInt64Init(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(v.size()));
  for (int64_t x : v) t->add_int64_data(x);
}

// q, k, v [seq, batch, embed] and attention_mask int64 [batch, seq] (1 = token, 0 = padding)
// -> Y [seq, batch, embed]: one attention core between the export's reshapes and transposes.
onnx::ModelProto AttentionModel(const AttOptions& o) {
  auto m = NewModel(13);
  auto* g = m.mutable_graph();
  const auto f = onnx::TensorProto::FLOAT;
  for (const char* in : {"q_in", "k_in", "v_in"})
    SetType(g->add_input(), in, f, {kSeq, 0, kEmbed}, {"", "batch", ""});
  SetType(g->add_input(), "attention_mask", onnx::TensorProto::INT64, {0, kSeq}, {"batch", ""});
  SetType(g->add_output(), "Y", f, {kSeq, 0, kEmbed}, {"", "batch", ""});
  const float root_d = std::sqrt(static_cast<float>(kDim));
  AddFloatInit(g, "root_d", {}, {root_d});
  AddFloatInit(g, "inv_root_d", {}, {1.0f / root_d});
  AddFloatInit(g, "quarter_root", {}, {1.0f / std::sqrt(root_d)});
  AddFloatInit(g, "inv_root_d_4d", {1, 1, 1, 1}, {1.0f / root_d});
  AddFloatInit(g, "one", {}, {1.0f});
  AddFloatInit(g, "zero", {}, {0.0f});
  AddFloatInit(g, "neg_inf", {}, {-std::numeric_limits<float>::infinity()});
  AddInt64Init(g, "zero_i", {0});
  if (o.runtime_scale) SetType(g->add_input(), "s", f, {});
  // Split heads: [seq, batch, embed] -> [batch * heads, seq, dim], or [batch, heads, seq, dim].
  if (o.four_d) {
    AddInt64Init(g, "heads_shape", {0, 0, kHeads, kDim});
    for (const char* x : {"q", "k", "v"})
      AddNode(g, "Reshape", {std::string(x) + "_in", "heads_shape"}, {std::string(x) + "_r"});
    // [seq, batch, heads, dim] -> [batch, heads, seq, dim] (K^T: [batch, heads, dim, seq]).
    auto* tq = AddNode(g, "Transpose", {"q_r"}, {"Q"});
    auto* tv = AddNode(g, "Transpose", {"v_r"}, {"V"});
    auto* tk = AddNode(g, "Transpose", {"k_r"}, {"Kt"});
    for (auto* t : {tq, tv}) {
      auto* a = t->add_attribute();
      a->set_name("perm");
      a->set_type(onnx::AttributeProto::INTS);
      for (int64_t p : {1, 2, 0, 3}) a->add_ints(p);
    }
    auto* a = tk->add_attribute();
    a->set_name("perm");
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t p : {1, 2, 3, 0}) a->add_ints(p);
  } else {
    AddInt64Init(g, "heads_shape", {0, -1, kDim});
    for (const char* x : {"q", "k", "v"})
      AddNode(g, "Reshape", {std::string(x) + "_in", "heads_shape"}, {std::string(x) + "_r"});
    auto transpose = [&](const std::string& in, const std::string& out, std::vector<int64_t> perm) {
      auto* t = AddNode(g, "Transpose", {in}, {out});
      auto* a = t->add_attribute();
      a->set_name("perm");
      a->set_type(onnx::AttributeProto::INTS);
      for (int64_t p : perm) a->add_ints(p);
    };
    transpose("q_r", "Q", {1, 0, 2});
    transpose("v_r", "V", {1, 0, 2});
    if (!o.kt_is_input) transpose("k_r", "Kt", {1, 2, 0});
    if (o.existing_k) {
      transpose("k_r", "K", {1, 0, 2});
      AddNode(g, "Shape", {"K"}, {"k_shape"});
      SetType(g->add_output(), "k_shape", onnx::TensorProto::INT64, {3});
    }
  }
  if (o.kt_is_input) SetType(g->add_input(), "Kt", f, {0, kDim, kSeq}, {"bh", "", ""});
  if (o.kt_read_twice) SetType(g->add_output(), "Kt", f, {0, kDim, kSeq}, {"bh", "", ""});
  // Scores.
  std::string q = "Q", kt = "Kt";
  if (o.q_rank_unknown) {
    auto* in = g->add_input();
    in->set_name("q_scale");
    in->mutable_type()->mutable_tensor_type()->set_elem_type(f);  // no shape: rank unknown
    AddNode(g, "Mul", {"Q", "q_scale"}, {"Qu"});
    q = "Qu";
  }
  switch (o.scaling) {
    case Scaling::kDivQ:
      AddNode(g, "Div", {q, "root_d"}, {"Qs"});
      q = "Qs";
      break;
    case Scaling::kMulQ:
      AddNode(g, "Mul", {"inv_root_d", q}, {"Qs"});
      q = "Qs";
      break;
    case Scaling::kBothSides:
      AddNode(g, "Mul", {q, "quarter_root"}, {"Qs"});
      AddNode(g, "Mul", {kt, "quarter_root"}, {"Kts"});
      q = "Qs";
      kt = "Kts";
      break;
    default:
      break;
  }
  AddNode(g, "MatMul", {q, kt}, {"scores"});
  std::string scores = "scores";
  if (o.scores_is_output) SetType(g->add_output(), "scores", f, {0, kSeq, kSeq}, {"bh", "", ""});
  auto scale_scores = [&](const char* op, const std::string& c) {
    AddNode(g, op, {scores, c}, {scores + "_s"});
    scores += "_s";
  };
  if (o.scaling == Scaling::kDivQ) scale_scores("Mul", "one");
  if (o.scaling == Scaling::kMulScores) scale_scores("Mul", "inv_root_d");
  if (o.scaling == Scaling::kDivScores) scale_scores("Div", "root_d");
  if (o.runtime_scale) scale_scores("Mul", "s");
  if (o.rank4_factor) scale_scores("Mul", "inv_root_d_4d");
  // The additive mask: -inf at padded keys (PyTorch), or (1 - mask) * -10000 (Hugging Face).
  if (o.mask) {
    if (o.four_d) {
      AddInt64Init(g, "mask_shape", {0, 1, 1, kSeq});
      AddFloatInit(g, "big_neg", {}, {-10000.0f});
      auto* c = AddNode(g, "Cast", {"attention_mask"}, {"mask_f"});
      auto* a = c->add_attribute();
      a->set_name("to");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(onnx::TensorProto::FLOAT);
      AddNode(g, "Sub", {"one", "mask_f"}, {"inv_mask"});
      AddNode(g, "Mul", {"inv_mask", "big_neg"}, {"mask_flat"});
      AddNode(g, "Reshape", {"mask_flat", "mask_shape"}, {"mask"});
    } else {
      // [batch, seq] -> [batch, heads, 1, seq] -> [batch * heads, 1, seq].
      AddNode(g, "Equal", {"attention_mask", "zero_i"}, {"pad"});
      AddInt64Init(g, "pad4_shape", {0, 1, 1, kSeq});
      AddInt64Init(g, "expand_shape", {1, kHeads, 1, 1});
      AddInt64Init(g, "pad3_shape", {-1, 1, kSeq});
      AddNode(g, "Reshape", {"pad", "pad4_shape"}, {"pad4"});
      AddNode(g, "Expand", {"pad4", "expand_shape"}, {"pad4e"});
      AddNode(g, "Reshape", {"pad4e", "pad3_shape"}, {"pad3"});
      AddNode(g, "Where", {"pad3", "neg_inf", "zero"}, {"mask_raw"});
      AddNode(g, "Mul", {"mask_raw", "one"}, {"mask"});
    }
    if (o.mask_first)
      AddNode(g, "Add", {"mask", scores}, {"masked"});
    else
      AddNode(g, "Add", {scores, "mask"}, {"masked"});
    scores = "masked";
  }
  auto* sm = AddNode(g, "Softmax", {scores}, {"P"});
  auto* axis = sm->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(o.softmax_axis);
  if (o.probs_is_output) SetType(g->add_output(), "P", f, {0, kSeq, kSeq}, {"bh", "", ""});
  // Merge heads back.
  if (o.probs_on_right) {
    // [bh, dim, seq] x [bh, seq, seq]: the result has the output's element count.
    auto* tv = AddNode(g, "Transpose", {"V"}, {"Vt"});
    auto* a = tv->add_attribute();
    a->set_name("perm");
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t p : {0, 2, 1}) a->add_ints(p);
    AddNode(g, "MatMul", {"Vt", "P"}, {"O"});
  } else {
    AddNode(g, "MatMul", {"P", "V"}, {"O"});
  }
  auto* to = AddNode(g, "Transpose", {"O"}, {"O_t"});
  auto* pa = to->add_attribute();
  pa->set_name("perm");
  pa->set_type(onnx::AttributeProto::INTS);
  const std::vector<int64_t> back =
      o.four_d ? std::vector<int64_t>{2, 0, 1, 3} : std::vector<int64_t>{1, 0, 2};
  for (int64_t p : back) pa->add_ints(p);
  AddInt64Init(g, "out_shape", {kSeq, -1, kEmbed});
  AddNode(g, "Reshape", {"O_t", "out_shape"}, {"Y"});
  return m;
}

StatusOr<Model> Import(const onnx::ModelProto& m) {
  const std::string bytes = Bytes(m);
  return ImportOnnxModel(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
}

// Imports `o`'s model and runs the pass; returns the rewrite count (the graph in `model`).
int Fuse(const AttOptions& o, Model& model) {
  auto imported = Import(AttentionModel(o));
  EXPECT_TRUE(imported.ok()) << imported.status().ToString();
  if (!imported.ok()) return -1;
  model = std::move(*imported);
  auto fused = FuseAttention(model.graph, 13);
  EXPECT_TRUE(fused.ok()) << fused.status().ToString();
  return fused.ok() ? *fused : -1;
}

int Count(const Graph& g, const std::string& op) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op_type == op;
  return n;
}

const Node* FindNode(const Graph& g, const std::string& op) {
  for (const Node& n : g.nodes)
    if (n.op_type == op) return &n;
  return nullptr;
}

const Node* Producer(const Graph& g, const std::string& value) {
  for (const Node& n : g.nodes)
    for (const auto& o : n.outputs)
      if (o == value) return &n;
  return nullptr;
}

// The fused node reads Q, K, V (and the mask) and writes O; nothing of the core is left.
void ExpectFused(const Model& model, const AttOptions& o, float scale) {
  const Graph& g = model.graph;
  EXPECT_EQ(Count(g, "Softmax"), 0);
  EXPECT_EQ(Count(g, "MatMul"), 0);
  EXPECT_EQ(Count(g, "Add"), 0);
  EXPECT_EQ(Count(g, "Div"), 0);
  ASSERT_EQ(Count(g, "Attention"), 1);
  const Node& n = *FindNode(g, "Attention");
  EXPECT_EQ(n.domain, "com.hone");
  ASSERT_EQ(n.inputs.size(), o.mask ? 4u : 3u);
  EXPECT_EQ(n.inputs[0], "Q");
  EXPECT_EQ(n.inputs[2], "V");
  if (o.mask) {
    EXPECT_EQ(n.inputs[3], "mask");
  }
  EXPECT_EQ(n.outputs, std::vector<std::string>{"O"});
  ASSERT_NE(n.attr("scale"), nullptr);
  EXPECT_NEAR(n.attr("scale")->f, scale, 1e-6f * scale);
  // K is the untransposed [.., seq, dim] key: the existing transpose, or the K^T one rewritten.
  const Node* k = Producer(g, n.inputs[1]);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->op_type, "Transpose");
  EXPECT_EQ(k->inputs, std::vector<std::string>{"k_r"});
  ASSERT_NE(k->attr("perm"), nullptr);
  EXPECT_EQ(k->attr("perm")->ints,
            (o.four_d ? std::vector<int64_t>{1, 2, 0, 3} : std::vector<int64_t>{1, 0, 2}));
  if (o.existing_k && !o.four_d) {
    EXPECT_EQ(n.inputs[1], "K");
  }
  // Only the transposes of Q, V, the output and K remain.
  EXPECT_EQ(Count(g, "Transpose"), 4);
}

TEST(FuseAttention, FusesThePyTorchExport) {
  Model model;
  AttOptions o;
  EXPECT_EQ(Fuse(o, model), 1);
  ExpectFused(model, o, 1.0f / std::sqrt(static_cast<float>(kDim)));
  // The mask chain and the shape read of K are untouched.
  EXPECT_EQ(Count(model.graph, "Where"), 1);
  EXPECT_EQ(Count(model.graph, "Shape"), 1);
}

TEST(FuseAttention, RewritesTheTransposeOfKWhenNoneExists) {
  Model model;
  AttOptions o;
  o.existing_k = false;
  EXPECT_EQ(Fuse(o, model), 1);
  ExpectFused(model, o, 1.0f / std::sqrt(static_cast<float>(kDim)));
  EXPECT_EQ(Producer(model.graph, "Kt"), nullptr);
}

TEST(FuseAttention, FusesEachPlaceOfTheScale) {
  for (Scaling s :
       {Scaling::kMulQ, Scaling::kMulScores, Scaling::kDivScores, Scaling::kBothSides}) {
    SCOPED_TRACE(static_cast<int>(s));
    Model model;
    AttOptions o;
    o.scaling = s;
    EXPECT_EQ(Fuse(o, model), 1);
    ExpectFused(model, o, 1.0f / std::sqrt(static_cast<float>(kDim)));
    EXPECT_EQ(Count(model.graph, "Mul"), 1);  // the mask's * 1 only
  }
}

TEST(FuseAttention, FusesWithoutAMaskAndWithTheMaskFirst) {
  Model model;
  AttOptions o;
  o.mask = false;
  EXPECT_EQ(Fuse(o, model), 1);
  ExpectFused(model, o, 1.0f / std::sqrt(static_cast<float>(kDim)));
  o = {};
  o.mask_first = true;
  EXPECT_EQ(Fuse(o, model), 1);
  ExpectFused(model, o, 1.0f / std::sqrt(static_cast<float>(kDim)));
}

TEST(FuseAttention, FusesFourDimensionalHeadsWithAPositiveLastAxis) {
  Model model;
  AttOptions o;
  o.four_d = true;
  o.softmax_axis = 3;
  o.existing_k = false;
  EXPECT_EQ(Fuse(o, model), 1);
  ExpectFused(model, o, 1.0f / std::sqrt(static_cast<float>(kDim)));
}

TEST(FuseAttention, LeavesWhatIsNotAnAttentionCore) {
  std::vector<std::pair<const char*, AttOptions>> cases;
  AttOptions o;
  o.softmax_axis = 1;
  cases.push_back({"softmax over another axis", o});
  o = {};
  o.scores_is_output = true;
  cases.push_back({"the scores are a graph output", o});
  o = {};
  o.probs_is_output = true;
  cases.push_back({"the probabilities are a graph output", o});
  o = {};
  o.probs_on_right = true;
  cases.push_back({"the probabilities are the right operand", o});
  o = {};
  o.kt_is_input = true;
  o.existing_k = false;
  cases.push_back({"K^T is no transpose", o});
  o = {};
  o.kt_read_twice = true;
  o.existing_k = false;
  cases.push_back({"undoing the transpose would add one", o});
  o = {};
  o.runtime_scale = true;
  cases.push_back({"the scores are scaled by a run-time value", o});
  o = {};
  o.rank4_factor = true;
  cases.push_back({"the scores' factor could raise their rank", o});
  o = {};
  o.q_rank_unknown = true;
  cases.push_back({"the rank of Q is unknown", o});
  for (const auto& [what, opts] : cases) {
    SCOPED_TRACE(what);
    auto imported = Import(AttentionModel(opts));
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
    const size_t nodes = imported->graph.nodes.size();
    Model model;
    EXPECT_EQ(Fuse(opts, model), 0);
    EXPECT_EQ(model.graph.nodes.size(), nodes);
    EXPECT_EQ(Count(model.graph, "Attention"), 0);
    EXPECT_EQ(Count(model.graph, "Softmax"), 1);
  }
}

// Random q, k, v and a mask whose second sequence is padded (its last 3 keys): the fused
// session (the fast Attention kernel) against the unfused one and the reference kernels.
TEST(FuseAttention, SessionComputesTheSameValues) {
  std::mt19937 rng(11);
  std::vector<AttOptions> variants(6);
  variants[1].scaling = Scaling::kBothSides;
  variants[1].existing_k = false;
  variants[2].mask = false;
  variants[3].four_d = true;
  variants[3].existing_k = false;
  variants[4].scaling = Scaling::kMulScores;
  variants[4].mask_first = true;
  variants[5].four_d = true;
  variants[5].existing_k = false;
  variants[5].softmax_axis = 3;
  for (size_t vi = 0; vi < variants.size(); ++vi) {
    SCOPED_TRACE("variant " + std::to_string(vi));
    const auto model = AttentionModel(variants[vi]);
    SessionOptions all, basic, reference;
    all.profile = true;
    basic.optimization = GraphOptimization::kBasic;
    reference.use_fast_kernels = false;
    auto fused = Load(model, "", all);
    auto unfused = Load(model, "", basic);
    auto ref = Load(model, "", reference);
    ASSERT_TRUE(fused.ok() && unfused.ok() && ref.ok()) << fused.status().ToString();
    for (int64_t batch : {1, 2, 3}) {
      SCOPED_TRACE("batch " + std::to_string(batch));
      std::vector<NamedTensor> in;
      for (const char* name : {"q_in", "k_in", "v_in"})
        in.push_back({name, RandomTensor({kSeq, batch, kEmbed}, -2, 2, rng)});
      Tensor mask = Tensor::Empty(DataType::kInt64, {batch, kSeq});
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t s = 0; s < kSeq; ++s)
          mask.data<int64_t>()[b * kSeq + s] = b == 1 && s >= 4 ? 0 : 1;
      in.push_back({"attention_mask", mask});
      auto a = (*fused)->Run(in, {"Y"});
      auto b = (*unfused)->Run(in, {"Y"});
      auto c = (*ref)->Run(in, {"Y"});
      ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().ToString() << b.status().ToString();
      EXPECT_EQ(Compare((*a)[0].tensor, (*b)[0].tensor, 1e-4, 1e-5), "");
      EXPECT_EQ(Compare((*a)[0].tensor, (*c)[0].tensor, 1e-4, 1e-5), "");
    }
    int attention = 0;
    for (const NodeProfile& p : (*fused)->profile())
      attention += p.op == "Attention" && p.kernel == "CreateCpuAttention";
    EXPECT_EQ(attention, 1);
  }
}

}  // namespace
}  // namespace hone
