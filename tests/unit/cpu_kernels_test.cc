// The own fast CPU kernels (kernels/cpu/*.cc outside oneDNN) against the reference kernels:
// random inputs over sizes around the vector width (1, 15, 16, 17, 33, ...) and large enough to
// be split over threads, broadcasting shapes, each compiled ISA path (simd.h) and 1 or 3 threads.
#include <gtest/gtest.h>

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

std::vector<OpCase> AllCases() {
  std::vector<OpCase> all;
  for (auto make : {UnaryCases, BinaryCases, GeluCases, LayerNormCases, SoftmaxCases,
                    ReduceMeanCases, TransposeCases}) {
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

TEST(CpuKernels, MaxIsaCapsTheActiveIsa) {
  SetMaxCpuIsa(CpuIsa::kBaseline);
  EXPECT_EQ(ActiveIsa(), CpuIsa::kBaseline);
  SetMaxCpuIsa(CpuIsa::kAvx512);
  EXPECT_EQ(ActiveIsa(), DetectedIsa());
}

}  // namespace
}  // namespace hone
