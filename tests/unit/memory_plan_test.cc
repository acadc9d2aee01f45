// Activation planning (runtime/arena.h): the layout, the arena's replay checks, and sessions that
// run many shapes, data-dependent shapes and concurrent runs through it.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "core/buffer_stats.h"
#include "model_builder.h"
#include "runtime/arena.h"

namespace hone {
namespace {

using testing::AddFloatInit;
using testing::AddNode;
using testing::FloatTensor;
using testing::Load;
using testing::NewModel;
using testing::SetType;

size_t Span(size_t bytes) { return (bytes + 127) / 64 * 64; }

TEST(LayOut, BuffersAliveTogetherNeverShareBytes) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<Lifetime> lt;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      const uint64_t born = rng() % 100;
      lt.push_back(
          {static_cast<size_t>(1 + rng() % 5000), born, born + rng() % 30, rng() % 7 == 0});
    }
    const AllocationPlan plan = LayOut(lt);
    ASSERT_EQ(plan.slots.size(), lt.size());
    size_t sum = 0;
    for (int a = 0; a < n; ++a) {
      const auto& sa = plan.slots[static_cast<size_t>(a)];
      EXPECT_EQ(sa.heap, lt[static_cast<size_t>(a)].heap);
      if (sa.heap) continue;
      sum += Span(sa.bytes);
      EXPECT_EQ(sa.offset % 64, 0u);
      EXPECT_LE(sa.offset + Span(sa.bytes), plan.block_bytes);
      for (int b = a + 1; b < n; ++b) {
        const auto& sb = plan.slots[static_cast<size_t>(b)];
        if (sb.heap) continue;
        const bool together = lt[static_cast<size_t>(a)].born <= lt[static_cast<size_t>(b)].died &&
                              lt[static_cast<size_t>(b)].born <= lt[static_cast<size_t>(a)].died;
        const bool share =
            sa.offset < sb.offset + Span(sb.bytes) && sb.offset < sa.offset + Span(sa.bytes);
        EXPECT_FALSE(together && share) << "trial " << trial << ": slots " << a << " and " << b;
      }
    }
    EXPECT_LE(plan.block_bytes, sum);
  }
}

TEST(LayOut, ASequenceOfShortLivedBuffersReusesOnePlace) {
  // a chain: each buffer dies right after the next one is made
  std::vector<Lifetime> lt;
  for (uint64_t i = 0; i < 10; ++i) lt.push_back({1000, 2 * i, 2 * i + 2, false});
  const AllocationPlan plan = LayOut(lt);
  EXPECT_EQ(plan.block_bytes, 2 * Span(1000));  // two alive at a time
  EXPECT_EQ(plan.total_bytes, 10000u);
  // slot 2 reuses slot 0's bytes, so it may be handed out only after slot 0 is free
  ASSERT_EQ(plan.slots[2].offset, plan.slots[0].offset);
  EXPECT_NE(std::find(plan.slots[2].before.begin(), plan.slots[2].before.end(), 0u),
            plan.slots[2].before.end());
}

TEST(Arena, ReplaysTheRecordedRequestsAndFallsBackWhenTheyDiffer) {
  AllocationRecorder rec;
  {
    auto a = rec.Allocate(100, true);
    rec.AfterNode();
    auto b = rec.Allocate(200, false);
    a.reset();
    rec.AfterNode();
    auto c = rec.Allocate(100, true);  // a is dead: may take its place
    rec.AfterNode();
  }
  auto plan = std::make_shared<const AllocationPlan>(rec.Finish());
  ASSERT_EQ(plan->slots.size(), 3u);
  Arena arena(plan);
  ASSERT_TRUE(arena.Begin());
  void* first_a = nullptr;
  {
    auto a = arena.Allocate(100, true);
    first_a = a->data();
    for (int i = 0; i < 100; ++i) EXPECT_EQ(static_cast<char*>(a->data())[i], 0);
    static_cast<char*>(a->data())[0] = 5;
    auto b = arena.Allocate(200, false);
    a.reset();
    auto c = arena.Allocate(100, true);
    EXPECT_EQ(static_cast<char*>(c->data())[0], 0) << "zeroed on request";
    EXPECT_EQ(arena.HeldReferences(*c), 1);
    EXPECT_FALSE(arena.diverged());
  }
  // Second run: same pointers. A request of another size turns the rest of the run to the heap.
  ASSERT_TRUE(arena.Begin());
  {
    auto a = arena.Allocate(100, false);
    EXPECT_EQ(a->data(), first_a);
    auto b = arena.Allocate(300, false);
    EXPECT_TRUE(arena.diverged());
    EXPECT_EQ(arena.HeldReferences(*b), 0);
    auto c = arena.Allocate(100, false);
    EXPECT_EQ(arena.HeldReferences(*c), 0);
  }
  // Third run: a buffer that should be dead is still held -> no overlap, heap instead.
  ASSERT_TRUE(arena.Begin());
  std::shared_ptr<Buffer> kept;
  {
    kept = arena.Allocate(100, false);
    auto b = arena.Allocate(200, false);
    auto c = arena.Allocate(100, false);
    if (plan->slots[2].offset == plan->slots[0].offset) {
      EXPECT_TRUE(arena.diverged());
      EXPECT_NE(c->data(), kept->data());
    }
  }
  EXPECT_FALSE(arena.Begin()) << "a buffer of the last run is still referenced";
  kept.reset();
  EXPECT_TRUE(arena.Begin());
}

void AddInt64Init(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                  const std::vector<int64_t>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (auto d : dims) t->add_dims(d);
  for (auto v : values) t->add_int64_data(v);
}

// Y = Reshape(Sigmoid(Relu(X) + B) * X, [X.shape[0], -1]) with X [n, 2, 4]: a chain of activations
// and a Shape -> Gather -> Unsqueeze -> Concat target, as torch.onnx exports it.
onnx::ModelProto ShapeChainModel() {
  auto m = NewModel();
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {0, 2, 4}, {"n", "", ""});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {0, 8}, {"n", ""});
  AddFloatInit(g, "B", {4}, {0.5f, -1, 2, 0});
  AddInt64Init(g, "zero", {}, {0});
  AddInt64Init(g, "axes", {1}, {0});
  AddInt64Init(g, "minus1", {1}, {-1});
  AddNode(g, "Relu", {"X"}, {"r"});
  AddNode(g, "Add", {"r", "B"}, {"a"});
  AddNode(g, "Sigmoid", {"a"}, {"s"});
  AddNode(g, "Mul", {"s", "X"}, {"p"});
  AddNode(g, "Shape", {"X"}, {"shape"});
  AddNode(g, "Gather", {"shape", "zero"}, {"n"});
  AddNode(g, "Unsqueeze", {"n", "axes"}, {"n1"});
  AddNode(g, "Concat", {"n1", "minus1"}, {"target"})->add_attribute()->set_name("axis");
  g->mutable_node(g->node_size() - 1)->mutable_attribute(0)->set_i(0);
  g->mutable_node(g->node_size() - 1)->mutable_attribute(0)->set_type(onnx::AttributeProto::INT);
  AddNode(g, "Reshape", {"p", "target"}, {"Y"});
  return m;
}

std::vector<float> ShapeChainExpected(const Tensor& x) {
  const float b[4] = {0.5f, -1, 2, 0};
  std::vector<float> y(static_cast<size_t>(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>()[i];
    const float a = std::max(v, 0.0f) + b[i % 4];
    y[static_cast<size_t>(i)] = v / (1 + std::exp(-a));
  }
  return y;
}

Tensor Ramp(int64_t n, float seed) {
  std::vector<float> v(static_cast<size_t>(n * 8));
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(seed + 0.37f * static_cast<float>(i)) * 3;
  return FloatTensor({n, 2, 4}, v);
}

void ExpectShapeChain(const Session& s, int64_t n, float seed) {
  Tensor x = Ramp(n, seed);
  auto out = s.Run({{"X", x}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const Tensor& y = (*out)[0].tensor;
  ASSERT_EQ(y.shape(), (std::vector<int64_t>{n, 8}));
  const std::vector<float> e = ShapeChainExpected(x);
  for (int64_t i = 0; i < y.numel(); ++i)
    ASSERT_NEAR(y.data<float>()[i], e[static_cast<size_t>(i)], 1e-5) << "n " << n << " at " << i;
}

TEST(MemoryPlan, ShapesComeAndGoAndEveryRunIsRight) {
  auto s = Load(ShapeChainModel());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  // More distinct shapes than the session keeps (8), revisited: records, replays and evictions.
  for (int round = 0; round < 3; ++round)
    for (int64_t n : {1, 3, 1, 7, 2, 3, 5, 11, 13, 17, 19, 1, 23})
      ExpectShapeChain(**s, n, static_cast<float>(round * 100 + n));
}

TEST(MemoryPlan, SteadyRunsAllocateOnlyTheirOutputs) {
  auto s = Load(ShapeChainModel());
  ASSERT_TRUE(s.ok());
  ExpectShapeChain(**s, 4, 0);  // records
  ExpectShapeChain(**s, 4, 1);  // replays
  const uint64_t before = HeapBufferAllocations();
  ExpectShapeChain(**s, 4, 2);
  // The graph output belongs to the caller, so it is the one buffer a planned run allocates (the
  // input is made by the test: one more).
  EXPECT_EQ(HeapBufferAllocations() - before, 2u);

  SessionOptions heap;
  heap.memory_plan = false;
  auto h = Load(ShapeChainModel(), "", heap);
  ASSERT_TRUE(h.ok());
  ExpectShapeChain(**h, 4, 0);
  const uint64_t before_heap = HeapBufferAllocations();
  ExpectShapeChain(**h, 4, 2);
  EXPECT_GT(HeapBufferAllocations() - before_heap, 4u) << "without a plan, every value allocates";
}

// Y = NonZero(X > 0) + 1: the output's size depends on the data, not only on the input shape.
TEST(MemoryPlan, DataDependentShapesStayCorrect) {
  auto m = NewModel();
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {6});
  SetType(g->add_output(), "Y", onnx::TensorProto::INT64, {1, 0}, {"", "k"});
  AddFloatInit(g, "zero", {}, {0});
  AddInt64Init(g, "one", {}, {1});
  AddNode(g, "Greater", {"X", "zero"}, {"pos"});
  AddNode(g, "NonZero", {"pos"}, {"idx"});
  AddNode(g, "Add", {"idx", "one"}, {"Y"});
  // Z = Shape(idx) + 0: shape arithmetic on a data-dependent shape must not be reused.
  SetType(g->add_output(), "Z", onnx::TensorProto::INT64, {2});
  AddInt64Init(g, "zero64", {}, {0});
  AddNode(g, "Shape", {"idx"}, {"idx_shape"});
  AddNode(g, "Add", {"idx_shape", "zero64"}, {"Z"});
  auto s = Load(m);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::mt19937 rng(3);
  for (int run = 0; run < 40; ++run) {
    std::vector<float> v(6);
    std::vector<int64_t> want;
    for (int i = 0; i < 6; ++i) {
      v[static_cast<size_t>(i)] = static_cast<float>(static_cast<int>(rng() % 5) - 2);
      if (v[static_cast<size_t>(i)] > 0) want.push_back(i + 1);
    }
    auto out = (*s)->Run({{"X", FloatTensor({6}, v)}});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    const Tensor& y = (*out)[0].tensor;
    ASSERT_EQ(y.shape(), (std::vector<int64_t>{1, static_cast<int64_t>(want.size())})) << run;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(y.data<int64_t>()[i], want[i]) << run;
    const Tensor& z = (*out)[1].tensor;
    ASSERT_EQ(z.numel(), 2);
    EXPECT_EQ(z.data<int64_t>()[1], static_cast<int64_t>(want.size())) << run;
  }
}

TEST(MemoryPlan, ConcurrentRunsOfSeveralShapes) {
  auto s = Load(ShapeChainModel());
  ASSERT_TRUE(s.ok());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const int64_t n = 1 + (t + i) % 3;
        Tensor x = Ramp(n, static_cast<float>(t * 1000 + i));
        auto out = (*s)->Run({{"X", x}});
        if (!out.ok()) {
          wrong++;
          continue;
        }
        const std::vector<float> e = ShapeChainExpected(x);
        const Tensor& y = (*out)[0].tensor;
        for (int64_t k = 0; k < y.numel(); ++k)
          if (std::fabs(y.data<float>()[k] - e[static_cast<size_t>(k)]) > 1e-5f) {
            wrong++;
            break;
          }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(MemoryPlan, OutputsOutliveLaterRuns) {
  auto s = Load(ShapeChainModel());
  ASSERT_TRUE(s.ok());
  std::vector<Tensor> kept;
  std::vector<std::vector<float>> want;
  for (int i = 0; i < 5; ++i) {
    Tensor x = Ramp(2, static_cast<float>(i));
    auto out = (*s)->Run({{"X", x}});
    ASSERT_TRUE(out.ok());
    kept.push_back((*out)[0].tensor);
    want.push_back(ShapeChainExpected(x));
  }
  for (size_t i = 0; i < kept.size(); ++i)
    for (int64_t k = 0; k < kept[i].numel(); ++k)
      ASSERT_FLOAT_EQ(kept[i].data<float>()[k], want[i][static_cast<size_t>(k)]) << i;
}

}  // namespace
}  // namespace hone
