// Steady-state runs of the corpus models: after the first run of an input shape, a run takes every
// activation from its planned arena (runtime/arena.h), so the only buffers it allocates are the
// graph outputs it hands to the caller. Also prints how many small heap allocations (operator new:
// shape vectors, oneDNN handles) a run still makes, with and without the plan.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <new>

#include "core/buffer_stats.h"
#include "hone/hone.h"

// GCC cannot see that the replacements below pair malloc with free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<uint64_t> g_news{0};
}  // namespace

// Counts every operator new in this test binary (the engine included: it links statically).
void* operator new(size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace hone {
namespace {

namespace fs = std::filesystem;

std::string Sanitize(const std::string& name) {
  std::string s = name;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  return s;
}

class SteadyState : public ::testing::TestWithParam<std::string> {};

TEST_P(SteadyState, RunsAllocateOnlyTheirOutputs) {
  const fs::path dir = fs::path(HONE_MODEL_CACHE) / GetParam();
  if (!fs::exists(dir / "model.onnx"))
    GTEST_SKIP() << "model " << GetParam() << " is not in " << HONE_MODEL_CACHE
                 << "; run bench/models/prepare";
  uint64_t news[2] = {0, 0};
  for (bool plan : {true, false}) {
    SessionOptions options;
    options.memory_plan = plan;
    options.threads = 1;
    auto created = Session::FromFile((dir / "model.onnx").string(), options);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    const Session& session = **created;
    std::vector<NamedTensor> feed;
    for (const auto& in : session.inputs()) {
      auto t = ReadNpy((dir / "inputs" / (Sanitize(in.name) + ".npy")).string());
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      feed.push_back({in.name, *t});
    }
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(session.Run(feed).ok());
    const uint64_t buffers = HeapBufferAllocations();
    const uint64_t before = g_news.load();
    auto out = session.Run(feed);
    news[plan ? 0 : 1] = g_news.load() - before;
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    if (plan) {
      EXPECT_EQ(HeapBufferAllocations() - buffers, out->size())
          << "a planned run allocates its outputs and nothing else";
    }
  }
  std::printf("[steady] %s: operator new per run %llu with the memory plan, %llu without\n",
              GetParam().c_str(), static_cast<unsigned long long>(news[0]),
              static_cast<unsigned long long>(news[1]));
}

INSTANTIATE_TEST_SUITE_P(Models, SteadyState,
                         ::testing::Values("ppocr_det", "ppocr_rec", "ppocr_cls", "resnet18",
                                           "mobilenet_v2", "squeezenet1_1", "bert_256x4",
                                           "bert_384x6", "digits_mlp", "digits_cnn"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace hone
