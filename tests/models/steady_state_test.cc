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
#include "corpus.h"
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

class SteadyState : public ::testing::TestWithParam<std::string> {};

TEST_P(SteadyState, RunsAllocateOnlyTheirOutputs) {
  const fs::path dir = corpus::CacheDir() / GetParam();
  if (!fs::exists(dir / "model.onnx"))
    GTEST_SKIP() << "model " << GetParam() << " is not in " << corpus::CacheDir()
                 << "; run bench/models/prepare";
  uint64_t news[2] = {0, 0};
  for (bool plan : {true, false}) {
    SessionOptions options;
    options.memory_plan = plan;
    options.threads = 1;
    auto created = Session::FromFile((dir / "model.onnx").string(), options);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    const Session& session = **created;
    auto inputs = corpus::Inputs(session, dir);
    ASSERT_TRUE(inputs.ok()) << inputs.status().ToString();
    const std::vector<NamedTensor>& feed = *inputs;
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

INSTANTIATE_TEST_SUITE_P(Models, SteadyState, corpus::Models(),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace hone
