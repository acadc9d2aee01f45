// Steady-state runs of the corpus models: after the first run of an input shape, a run takes every
// activation from its planned arena (runtime/arena.h) and every container from its kept scratch,
// so the only heap allocations it makes are what it hands to the caller: the result vector, one
// Buffer per output and each output name longer than std::string's inline capacity. Allocations
// made inside libdnnl (oneDNN 2.6 builds a small argument map in every primitive execute) are
// counted apart, by looking for a libdnnl frame on the allocating stack.
#include <dlfcn.h>
#include <execinfo.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>

#include "core/buffer_stats.h"
#include "corpus.h"
#include "hone/hone.h"

// GCC cannot see that the replacements below pair malloc with free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<uint64_t> g_news{0};       // every operator new
std::atomic<uint64_t> g_dnnl_news{0};  // those with libdnnl on the stack (while attributing)
std::atomic<bool> g_attribute{false};
thread_local bool t_in_hook = false;

bool InsideDnnl() {
  void* frames[48];
  const int n = backtrace(frames, 48);
  for (int i = 1; i < n; ++i) {
    Dl_info info;
    if (dladdr(frames[i], &info) != 0 && info.dli_fname != nullptr &&
        std::strstr(info.dli_fname, "libdnnl") != nullptr)
      return true;
  }
  return false;
}

void Count() {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (!g_attribute.load(std::memory_order_relaxed) || t_in_hook) return;
  t_in_hook = true;
  if (InsideDnnl()) g_dnnl_news.fetch_add(1, std::memory_order_relaxed);
  t_in_hook = false;
}
}  // namespace

// Counts every operator new in this test binary (the engine included: it links statically).
void* operator new(size_t n) {
  Count();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  Count();
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
  uint64_t news[2] = {0, 0}, dnnl_news = 0;
  {
    void* warm[4];
    backtrace(warm, 4);  // loads the unwinder before anything is counted
  }
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
    const uint64_t before = g_news.load(), dnnl_before = g_dnnl_news.load();
    g_attribute = plan;
    auto out = session.Run(feed);
    g_attribute = false;
    news[plan ? 0 : 1] = g_news.load() - before;
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    if (plan) {
      dnnl_news = g_dnnl_news.load() - dnnl_before;
      EXPECT_EQ(HeapBufferAllocations() - buffers, out->size())
          << "a planned run allocates its outputs and nothing else";
      uint64_t returned = 1;  // the result vector
      for (const NamedTensor& nt : *out)
        returned += 1 + (nt.name.size() > std::string().capacity() ? 1 : 0);
      EXPECT_EQ(news[0] - dnnl_news, returned)
          << "outside oneDNN, a steady run allocates only what it returns";
    }
  }
  std::printf(
      "[steady] %s: operator new per run %llu with the memory plan (%llu inside libdnnl), %llu "
      "without\n",
      GetParam().c_str(), static_cast<unsigned long long>(news[0]),
      static_cast<unsigned long long>(dnnl_news), static_cast<unsigned long long>(news[1]));
}

INSTANTIATE_TEST_SUITE_P(Models, SteadyState, corpus::Models(),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace hone
