// The response cache (serve/response_cache.h): keys over the whole request, LRU eviction by
// bytes, hit/miss counts, concurrent use.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "serve/response_cache.h"

namespace hone::serve {
namespace {

NamedTensor Floats(const std::string& name, std::vector<int64_t> shape, float first) {
  Tensor t = Tensor::Empty(DataType::kFloat32, Shape(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = first + static_cast<float>(i);
  return {name, t};
}

TEST(ResponseCache, KeysCoverModelVersionNamesDtypesShapesAndBytes) {
  const std::vector<NamedTensor> in = {Floats("x", {2, 3}, 1)};
  const CacheKey k = MakeCacheKey("m", 1, in);
  EXPECT_EQ(k, MakeCacheKey("m", 1, {Floats("x", {2, 3}, 1)}));  // equal requests, equal keys
  EXPECT_FALSE(k == MakeCacheKey("n", 1, in));
  EXPECT_FALSE(k == MakeCacheKey("m", 2, in));
  EXPECT_FALSE(k == MakeCacheKey("m", 1, {Floats("y", {2, 3}, 1)}));
  EXPECT_FALSE(k == MakeCacheKey("m", 1, {Floats("x", {3, 2}, 1)}));  // same bytes, other shape
  EXPECT_FALSE(k == MakeCacheKey("m", 1, {Floats("x", {2, 3}, 2)}));
  Tensor i32 = Tensor::Empty(DataType::kInt32, {2, 3});
  std::memcpy(i32.raw_data(), in[0].tensor.raw_data(), 24);  // same bytes, other dtype
  EXPECT_FALSE(k == MakeCacheKey("m", 1, {{"x", i32}}));
  Tensor s = Tensor::Empty(DataType::kString, {2});
  s.data<std::string>()[0] = "ab";
  Tensor s2 = Tensor::Empty(DataType::kString, {2});
  s2.data<std::string>()[0] = "a";
  s2.data<std::string>()[1] = "b";  // "ab","" vs "a","b": the lengths are hashed too
  EXPECT_FALSE(MakeCacheKey("m", 1, {{"s", s}}) == MakeCacheKey("m", 1, {{"s", s2}}));
}

TEST(ResponseCache, EvictsTheLeastRecentlyUsedToStayWithinItsBytes) {
  // Each entry: name "y" (1 byte) + 10 floats = 41 bytes; room for two.
  ResponseCache cache(100);
  const CacheKey a{1, 1}, b{2, 2}, c{3, 3};
  EXPECT_EQ(cache.Find(a), nullptr);
  cache.Insert(a, {Floats("y", {10}, 0)});
  cache.Insert(b, {Floats("y", {10}, 100)});
  EXPECT_EQ(cache.bytes(), 82);
  ASSERT_NE(cache.Find(a), nullptr);          // a is now the most recent
  cache.Insert(c, {Floats("y", {10}, 200)});  // evicts b
  EXPECT_EQ(cache.entries(), 2);
  EXPECT_EQ(cache.evictions(), 1);
  EXPECT_EQ(cache.Find(b), nullptr);
  const CachedOutputs hit = cache.Find(c);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ((*hit)[0].tensor.data<float>()[0], 200.f);
  EXPECT_EQ(cache.hits(), 2);
  EXPECT_EQ(cache.misses(), 2);
  cache.Insert(CacheKey{4, 4}, {Floats("y", {100}, 0)});  // larger than the whole cache
  EXPECT_EQ(cache.entries(), 2);
  EXPECT_EQ(cache.Find(CacheKey{4, 4}), nullptr);
}

TEST(ResponseCache, ConcurrentFindsAndInsertsStayConsistent) {
  ResponseCache cache(41 * 8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 500; ++i) {
        const CacheKey k{static_cast<uint64_t>((i * 7 + t) % 16), 0};
        if (cache.Find(k) == nullptr) cache.Insert(k, {Floats("y", {10}, 0)});
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_LE(cache.bytes(), 41 * 8);
  EXPECT_EQ(cache.bytes(), cache.entries() * 41);
  EXPECT_EQ(cache.hits() + cache.misses(), 2000);
}

}  // namespace
}  // namespace hone::serve
