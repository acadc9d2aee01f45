// The own fast CPU kernels (kernels/cpu/*.cc outside oneDNN) against the reference kernels:
// random inputs over sizes around the vector width (1, 15, 16, 17, 33, ...) and large enough to
// be split over threads, broadcasting shapes, each compiled ISA path (simd.h) and 1 or 3 threads.
#include <gtest/gtest.h>

#include <limits>
#include <set>

#include "kernel_harness.h"
#include "kernels/cpu/simd.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT
using cpu::ActiveIsa;
using cpu::CpuIsa;
using cpu::CpuIsaName;
using cpu::DetectedIsa;
using cpu::SetMaxCpuIsa;

struct InputSpec {
  InputSpec(std::vector<int64_t> s, float l = -3.0f, float h = 3.0f, bool c = false)
      : shape(std::move(s)), lo(l), hi(h), constant(c) {}
  // A given constant (an initializer) instead of random values.
  static InputSpec Fixed(Tensor t) {
    InputSpec in(t.shape());
    in.constant = true;
    in.fixed = std::move(t);
    return in;
  }
  std::vector<int64_t> shape;
  float lo, hi;  // random values in [lo, hi)
  bool constant;
  Tensor fixed;
};

struct OpCase {
  std::string factory;  // the fast implementation under test
  std::string domain, op;
  int64_t opset;
  std::vector<InputSpec> inputs;
  std::map<std::string, Attribute> attrs;
  int outputs = 1;
  double rtol = 1e-6, atol = 1e-6;
};

Tensor Scalar(DataType dtype, double v, std::vector<int64_t> shape = {}) {
  Tensor t = Tensor::Empty(dtype, std::move(shape));
  if (dtype == DataType::kInt64)
    t.data<int64_t>()[0] = static_cast<int64_t>(v);
  else
    t.data<float>()[0] = static_cast<float>(v);
  return t;
}

Tensor Int64s(std::vector<int64_t> v) {
  Tensor t = Tensor::Empty(DataType::kInt64, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.data<int64_t>()[i] = v[i];
  return t;
}

const std::vector<std::vector<int64_t>> kUnaryShapes = {{},   {1},     {15},   {16},
                                                        {17}, {3, 35}, {70001}};

std::vector<OpCase> UnaryCases() {
  struct U {
    const char* op;
    int64_t opset;
    float lo, hi;
    double atol;
  };
  // Erf, Tanh and Sigmoid use simd.h's approximations (accuracy in cpu_simd_test.cc).
  const U ops[] = {{"Erf", 13, -5, 5, 1e-6},    {"Sqrt", 13, 0, 50, 1e-6},
                   {"Relu", 14, -3, 3, 0},      {"Sigmoid", 13, -30, 30, 1e-6},
                   {"Tanh", 13, -10, 10, 1e-6}, {"Sqrt", 1, -1, 4, 1e-6}};
  std::vector<OpCase> cases;
  for (const U& u : ops)
    for (const auto& s : kUnaryShapes)
      cases.push_back({std::string("CreateCpu") + u.op,
                       "",
                       u.op,
                       u.opset,
                       {{s, u.lo, u.hi}},
                       {},
                       1,
                       1e-6,
                       u.atol});
  for (double e : {2.0, 3.0, 0.5, 1.0})
    for (const auto& s : kUnaryShapes)
      for (std::vector<int64_t> es : {std::vector<int64_t>{}, std::vector<int64_t>{1}}) {
        if (es.size() > s.size()) continue;
        cases.push_back({"CreateCpuPow",
                         "",
                         "Pow",
                         13,
                         {{s, e == 0.5 ? -1.0f : -3.0f, 3.0f},
                          InputSpec::Fixed(Scalar(DataType::kFloat32, e, es))},
                         {},
                         1,
                         1e-6,
                         1e-6});
      }
  cases.push_back({"CreateCpuPow",
                   "",
                   "Pow",
                   15,
                   {{{4, 33}}, InputSpec::Fixed(Scalar(DataType::kInt64, 2))},
                   {},
                   1,
                   0,
                   0});
  return cases;
}

std::vector<OpCase> BinaryCases() {
  using Shapes = std::vector<std::vector<int64_t>>;
  const std::vector<Shapes> pairs = {{{2, 3, 17}, {2, 3, 17}},
                                     {{}, {4, 33}},
                                     {{4, 33}, {1}},
                                     {{2, 5, 33}, {33}},
                                     {{33}, {2, 5, 33}},
                                     {{2, 5, 33}, {2, 5, 1}},
                                     {{2, 5, 1}, {2, 5, 33}},
                                     {{7, 1}, {1, 19}},
                                     {{3, 1, 17}, {3, 5, 17}},
                                     {{1, 1, 1}, {5}},
                                     {{1}, {1}},
                                     {{300, 260}, {260}},
                                     {{70001}, {70001}},
                                     {{2, 0, 3}, {3}},
                                     {{16}, {16}},
                                     {{4, 1, 3, 1}, {1, 5, 1, 2}},
                                     {{15}, {1, 15}}};
  std::vector<OpCase> cases;
  for (const char* op : {"Add", "Sub", "Mul", "Div"})
    for (const Shapes& p : pairs) {
      const bool div = std::string(op) == "Div";
      cases.push_back({std::string("CreateCpu") + op,
                       "",
                       op,
                       14,
                       {{p[0]}, {p[1], div ? 0.5f : -3.0f, 3.0f}},
                       {},
                       1,
                       0,
                       0});
    }
  return cases;
}

std::vector<OpCase> GeluCases() {
  std::vector<OpCase> cases;
  for (const auto& s : kUnaryShapes)
    for (const char* approx : {"none", "tanh"}) {
      // 0.5 x (1 + erf): the erf error (1e-6) scaled by |x| / 2.
      cases.push_back({"CreateCpuGelu",
                       "com.hone",
                       "Gelu",
                       1,
                       {{s, -6, 6}},
                       {{"approximate", StringAttr(approx)}},
                       1,
                       1e-6,
                       3e-6});
      cases.push_back({"CreateCpuGelu",
                       "",
                       "Gelu",
                       20,
                       {{s, -6, 6}},
                       {{"approximate", StringAttr(approx)}},
                       1,
                       1e-6,
                       3e-6});
    }
  return cases;
}

std::vector<OpCase> LayerNormCases() {
  struct L {
    std::vector<int64_t> x, param;
    int64_t axis;
    bool bias;
    int outputs;
  };
  const L ls[] = {{{2, 3, 33}, {33}, -1, true, 1},   {{2, 3, 5}, {3, 5}, 1, true, 1},
                  {{4, 17}, {17}, -1, false, 1},     {{4, 16}, {16}, 1, true, 3},
                  {{300, 256}, {256}, -1, true, 1},  {{5, 1}, {1}, -1, true, 2},
                  {{3, 7, 15}, {7, 15}, -2, true, 3}};
  std::vector<OpCase> cases;
  for (const L& l : ls)
    for (auto [domain, opset] : {std::pair<const char*, int64_t>{"", 17}, {"com.hone", 1}}) {
      OpCase c{"CreateCpuLayerNorm",
               domain,
               "LayerNormalization",
               opset,
               {{l.x, -4, 6}, {l.param, 0.5, 2, true}},
               {{"axis", IntAttr(l.axis)}, {"epsilon", FloatAttr(1e-5f)}},
               l.outputs,
               1e-5,
               1e-5};
      if (l.bias) c.inputs.push_back({l.param, -1, 1, true});
      cases.push_back(c);
    }
  return cases;
}

std::vector<OpCase> SoftmaxCases() {
  struct S {
    std::vector<int64_t> x;
    int64_t opset, axis;
  };
  const S ss[] = {{{3, 4, 17}, 13, -1}, {{5, 16}, 13, 1},   {{2, 1000}, 13, -1},
                  {{3, 17, 1}, 13, 1},  {{2, 3, 7}, 11, 1}, {{2, 3, 7}, 1, 0},
                  {{200, 300}, 13, -1}, {{1}, 13, 0},       {{4, 15}, 13, -1}};
  std::vector<OpCase> cases;
  for (const S& s : ss)
    cases.push_back({"CreateCpuSoftmax",
                     "",
                     "Softmax",
                     s.opset,
                     {{s.x, -20, 20}},
                     {{"axis", IntAttr(s.axis)}},
                     1,
                     1e-5,
                     1e-7});
  return cases;
}

// com.hone Attention: Q [..., Sq, D], K [..., Sk, D], V [..., Sk, Dv] and a mask broadcasting
// to the scores, over the GEMM tile tails (rows of 8 or 2, columns of 32), row blocks split
// over threads, and -inf (padding) in the mask. The reference sums the products in another
// order and takes the softmax in double: rtol 1e-4, and atol 1e-5 for outputs that cancel to
// near 0 (weighted sums of V values up to 3 in magnitude).
std::vector<OpCase> AttentionCases() {
  struct A {
    std::vector<int64_t> q, k, v, mask;
    bool has_mask;
    float scale;
  };
  const A as[] = {
      {{4, 128, 64}, {4, 128, 64}, {4, 128, 64}, {4, 1, 128}, true, 0.125f},  // the export
      {{3, 5, 3}, {3, 7, 3}, {3, 7, 9}, {}, false, 0.5f},
      {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {}, true, 1.0f},
      {{2, 3, 17, 33}, {2, 3, 45, 33}, {2, 3, 45, 31}, {2, 1, 1, 45}, true, 0.3f},
      {{70, 16}, {100, 16}, {100, 40}, {70, 100}, true, 0.25f},
      {{2, 9, 8}, {2, 6, 8}, {2, 6, 8}, {2, 9, 1}, true, 1.0f},
      {{1, 200, 64}, {1, 300, 64}, {1, 300, 64}, {300}, true, 0.125f},
      {{2, 33, 64}, {2, 33, 64}, {2, 33, 32}, {1, 33}, true, 0.125f},
  };
  std::vector<OpCase> cases;
  for (const A& a : as) {
    std::vector<InputSpec> inputs{{a.q}, {a.k}, {a.v}};
    if (a.has_mask) {
      // Random additive values, with the last quarter of the keys padded (-inf) where the mask
      // has a key axis; every row keeps at least one key.
      std::mt19937 rng(static_cast<uint32_t>(cases.size()));
      Tensor m = RandomTensor(a.mask, -2, 2, rng);
      const int64_t keys = a.mask.empty() ? 1 : a.mask.back();
      for (int64_t i = 0; i < m.numel(); ++i)
        if (keys > 3 && i % keys >= keys - keys / 4)
          m.data<float>()[i] = -std::numeric_limits<float>::infinity();
      inputs.push_back(InputSpec::Fixed(m));
      inputs.back().constant = false;
    }
    cases.push_back({"CreateCpuAttention",
                     "com.hone",
                     "Attention",
                     1,
                     inputs,
                     {{"scale", FloatAttr(a.scale)}},
                     1,
                     1e-4,
                     1e-5});
  }
  return cases;
}

std::vector<OpCase> ReduceMeanCases() {
  std::vector<OpCase> cases;
  auto attr_case = [&](std::vector<int64_t> x, std::vector<int64_t> axes, int64_t keep) {
    std::map<std::string, Attribute> attrs{{"keepdims", IntAttr(keep)}};
    if (!axes.empty()) attrs["axes"] = IntsAttr(axes);
    cases.push_back({"CreateCpuReduceMean", "", "ReduceMean", 13, {{x}}, attrs, 1, 1e-5, 1e-6});
  };
  attr_case({3, 4, 17}, {-1}, 1);
  attr_case({3, 4, 17}, {2}, 0);
  attr_case({3, 4, 17}, {1, 2}, 1);
  attr_case({3, 4, 17}, {}, 0);
  attr_case({300, 256}, {-1}, 1);
  attr_case({5, 16}, {-1}, 0);
  cases.push_back({"CreateCpuReduceMean",
                   "",
                   "ReduceMean",
                   18,
                   {{{6, 33}}, InputSpec::Fixed(Int64s({-1}))},
                   {{"keepdims", IntAttr(1)}},
                   1,
                   1e-5,
                   1e-6});
  return cases;
}

std::vector<OpCase> TransposeCases() {
  struct T {
    std::vector<int64_t> x, perm;
  };
  const T ts[] = {{{2, 3, 4}, {0, 2, 1}},
                  {{2, 3, 4, 5}, {0, 2, 1, 3}},
                  {{2, 3, 4, 5}, {3, 1, 0, 2}},
                  {{128, 1, 64}, {1, 0, 2}},
                  {{17, 33}, {}},
                  {{5, 1, 7, 1, 3}, {4, 2, 0, 3, 1}},
                  {{130, 4, 64}, {1, 2, 0}},
                  {{33, 2, 17}, {2, 1, 0}},
                  {{4, 5, 6}, {0, 1, 2}},
                  {{300, 200}, {1, 0}},
                  {{2, 0, 3}, {2, 1, 0}},
                  {{1, 1}, {1, 0}}};
  std::vector<OpCase> cases;
  for (const T& t : ts) {
    std::map<std::string, Attribute> attrs;
    if (!t.perm.empty()) attrs["perm"] = IntsAttr(t.perm);
    cases.push_back({"CreateCpuTranspose", "", "Transpose", 13, {{t.x}}, attrs, 1, 0, 0});
  }
  return cases;
}

std::vector<OpCase> SliceCases() {
  struct S {
    std::vector<int64_t> x, starts, ends, axes;
  };
  const S ss[] = {{{4, 6, 8}, {1}, {3}, {1}},           // a middle axis: one run per row
                  {{4, 6, 8}, {0, 2}, {2, 7}, {0, 2}},  // the innermost axis
                  {{6, 8}, {2}, {5}, {0}},              // leading rows: a view
                  {{5, 7}, {-3}, {100}, {-1}},          // negative start, end past the dim
                  {{32, 1, 96}, {32}, {64}, {2}},       // BERT's split of the fused projection
                  {{3, 4}, {2}, {1}, {1}}};             // empty
  std::vector<OpCase> cases;
  for (const S& t : ss) {
    cases.push_back({"CreateCpuSlice",
                     "",
                     "Slice",
                     13,
                     {{t.x},
                      InputSpec::Fixed(Int64s(t.starts)),
                      InputSpec::Fixed(Int64s(t.ends)),
                      InputSpec::Fixed(Int64s(t.axes))},
                     {},
                     1,
                     0,
                     0});
  }
  return cases;
}

std::vector<OpCase> AllCases() {
  std::vector<OpCase> all;
  for (auto make : {UnaryCases, BinaryCases, GeluCases, LayerNormCases, SoftmaxCases,
                    ReduceMeanCases, TransposeCases, AttentionCases, SliceCases}) {
    auto c = make();
    all.insert(all.end(), c.begin(), c.end());
  }
  return all;
}

std::string Describe(const OpCase& c) {
  std::string s = c.domain + (c.domain.empty() ? "" : ".") + c.op + " v" + std::to_string(c.opset);
  for (const auto& in : c.inputs) s += " " + ShapeToString(in.shape);
  return s;
}

// Runs every case with the fast kernel and the reference on the same inputs.
void CheckCases(const std::vector<OpCase>& cases, int threads) {
  std::mt19937 rng(1234);
  ThreadPool pool(threads);
  for (const OpCase& c : cases) {
    SCOPED_TRACE(Describe(c));
    const KernelDef* fast = FindKernel(c.domain, c.op, c.opset, c.factory);
    const KernelDef* ref = FindReference(c.domain, c.op, c.opset);
    ASSERT_NE(fast, nullptr) << c.factory << " is not registered for this opset";
    ASSERT_NE(ref, nullptr);
    std::vector<Tensor> inputs;
    std::vector<bool> constant;
    for (const InputSpec& in : c.inputs) {
      inputs.push_back(in.fixed.defined() ? in.fixed : RandomTensor(in.shape, in.lo, in.hi, rng));
      constant.push_back(in.constant);
    }
    const Node node = MakeNode(c.domain, c.op, static_cast<int>(inputs.size()), c.outputs, c.attrs);
    auto want = RunKernel(*ref, node, c.opset, inputs, constant, pool);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    for (CpuIsa isa : {CpuIsa::kAvx512, CpuIsa::kAvx2, CpuIsa::kBaseline}) {
      if (isa > DetectedIsa()) continue;
      SCOPED_TRACE(CpuIsaName(isa));
      SetMaxCpuIsa(isa);
      auto got = RunKernel(*fast, node, c.opset, inputs, constant, pool);
      SetMaxCpuIsa(CpuIsa::kAvx512);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(got->size(), want->size());
      for (size_t i = 0; i < got->size(); ++i)
        EXPECT_EQ(Compare((*got)[i], (*want)[i], c.rtol, c.atol), "") << "output " << i;
    }
  }
}

TEST(CpuKernels, MatchReferenceOneThread) { CheckCases(AllCases(), 1); }

TEST(CpuKernels, MatchReferenceThreeThreads) { CheckCases(AllCases(), 3); }

// Each registration (domain, op) of the kernels under test is exercised by some case.
TEST(CpuKernels, EveryRegistrationHasCases) {
  std::set<std::string> factories, covered;
  for (const OpCase& c : AllCases()) {
    factories.insert(c.factory);
    covered.insert(c.domain + "/" + c.op + "/" + c.factory);
  }
  int registrations = 0;
  for (const KernelDef& d : KernelRegistry::Global().all()) {
    if (d.backend != Backend::kCpu || !factories.count(std::string(d.name))) continue;
    const std::string key =
        std::string(d.domain) + "/" + std::string(d.op) + "/" + std::string(d.name);
    EXPECT_TRUE(covered.count(key)) << key << " has no case in cpu_kernels_test.cc";
    ++registrations;
  }
  EXPECT_EQ(registrations, static_cast<int>(covered.size()));
}

// What the fast kernels leave to the reference, at Init or at Compute.
TEST(CpuKernels, DeclineWhatTheyDoNotServe) {
  ThreadPool pool(1);
  std::mt19937 rng(7);
  auto declines = [&](const std::string& factory, const std::string& op, int64_t opset,
                      std::vector<Tensor> inputs, std::vector<bool> constant,
                      std::map<std::string, Attribute> attrs) {
    SCOPED_TRACE(op + " v" + std::to_string(opset));
    const KernelDef* fast = FindKernel("", op, opset, factory);
    ASSERT_NE(fast, nullptr);
    const Node node = MakeNode("", op, static_cast<int>(inputs.size()), 1, std::move(attrs));
    auto r = RunKernel(*fast, node, opset, inputs, constant, pool);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotSupported) << r.status().ToString();
  };
  const Tensor x = RandomTensor({3, 4}, -1, 1, rng);
  Tensor xi = Tensor::Empty(DataType::kInt32, {3, 4});
  declines("CreateCpuSoftmax", "Softmax", 13, {x}, {false}, {{"axis", IntAttr(0)}});
  declines("CreateCpuReduceMean", "ReduceMean", 13, {x}, {false}, {{"axes", IntsAttr({0})}});
  declines("CreateCpuReduceMean", "ReduceMean", 18, {x, Int64s({-1})}, {false, false}, {});
  declines("CreateCpuPow", "Pow", 13, {x, Scalar(DataType::kFloat32, 1.7)}, {false, true}, {});
  declines("CreateCpuPow", "Pow", 13, {x, Scalar(DataType::kFloat32, 2)}, {false, false}, {});
  declines("CreateCpuAdd", "Add", 13, {xi, xi}, {false, false}, {});
  declines("CreateCpuAdd", "Add", 13, {x, RandomTensor({3}, -1, 1, rng)}, {false, false}, {});
  declines("CreateCpuErf", "Erf", 13, {Tensor::Empty(DataType::kFloat64, {4})}, {false}, {});
  declines("CreateCpuLayerNorm", "LayerNormalization", 17, {x, RandomTensor({1}, -1, 1, rng)},
           {false, true}, {});
  declines("CreateCpuTranspose", "Transpose", 13, {xi}, {false}, {});
}

// Attention serves equal batch dims and a mask that does not enlarge the scores; the rest is
// the reference's (numpy broadcasting everywhere).
TEST(CpuKernels, AttentionDeclinesWhatItDoesNotServe) {
  ThreadPool pool(1);
  std::mt19937 rng(5);
  const KernelDef* fast = FindKernel("com.hone", "Attention", 1, "CreateCpuAttention");
  ASSERT_NE(fast, nullptr);
  auto declines = [&](const char* what, std::vector<std::vector<int64_t>> shapes,
                      DataType dtype = DataType::kFloat32) {
    SCOPED_TRACE(what);
    std::vector<Tensor> inputs;
    for (const auto& s : shapes)
      inputs.push_back(dtype == DataType::kFloat32 ? RandomTensor(s, -1, 1, rng)
                                                   : Tensor::Empty(dtype, s));
    const Node node = MakeNode("com.hone", "Attention", static_cast<int>(inputs.size()), 1);
    auto r = RunKernel(*fast, node, 1, inputs, {}, pool);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotSupported) << r.status().ToString();
    // The reference serves it.
    const KernelDef* ref = FindReference("com.hone", "Attention", 1);
    ASSERT_NE(ref, nullptr);
    EXPECT_TRUE(RunKernel(*ref, node, 1, inputs, {}, pool).ok());
  };
  declines("mask enlarges the scores", {{4, 5, 6}, {4, 7, 6}, {4, 7, 6}, {2, 4, 5, 7}});
  declines("mask broadcasts the rows up", {{4, 1, 6}, {4, 7, 6}, {4, 7, 6}, {4, 5, 7}});
  declines("batch dims broadcast", {{2, 5, 4}, {1, 5, 4}, {2, 5, 4}});
  declines("ranks differ", {{5, 4}, {1, 5, 4}, {1, 5, 4}});
  declines("empty keys", {{2, 5, 4}, {2, 0, 4}, {2, 0, 4}});
  declines("float64", {{2, 5, 4}, {2, 5, 4}, {2, 5, 4}}, DataType::kFloat64);
}

TEST(CpuKernels, MaxIsaCapsTheActiveIsa) {
  SetMaxCpuIsa(CpuIsa::kBaseline);
  EXPECT_EQ(ActiveIsa(), CpuIsa::kBaseline);
  SetMaxCpuIsa(CpuIsa::kAvx512);
  EXPECT_EQ(ActiveIsa(), DetectedIsa());
}

}  // namespace
}  // namespace hone
