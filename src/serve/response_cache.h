// hone serve's response cache: inference responses kept by a key over the whole request
// (model, version, every input's name, dtype, shape and bytes), least recently used first out,
// bounded in bytes. Thread-safe (one mutex guards the map and the list). Opt-in per model
// (config.pbtxt `response_cache { enable: true }`).
//
//   ResponseCache cache(64 << 20);
//   const CacheKey key = MakeCacheKey("resnet", 1, inputs);
//   if (auto hit = cache.Find(key)) return *hit;  // shared, immutable outputs
//   cache.Insert(key, outputs);
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "hone/session.h"

namespace hone::serve {

// 128 bits of hash over the request, and the request's size; equal keys are taken as equal
// requests (a collision needs two requests that differ but hash alike in both halves).
struct CacheKey {
  uint64_t a = 0, b = 0;
  bool operator==(const CacheKey& o) const { return a == o.a && b == o.b; }
};

CacheKey MakeCacheKey(const std::string& model, int64_t version,
                      const std::vector<NamedTensor>& inputs);

using CachedOutputs = std::shared_ptr<const std::vector<NamedTensor>>;

class ResponseCache {
 public:
  explicit ResponseCache(int64_t capacity_bytes) : capacity_(capacity_bytes) {}

  // The outputs stored under `key` (now the most recently used), or null.
  CachedOutputs Find(const CacheKey& key);
  // Stores `outputs` (their tensor bytes count against the capacity), evicting the least
  // recently used entries to fit; outputs larger than the whole capacity are not stored.
  void Insert(const CacheKey& key, CachedOutputs outputs);
  void Insert(const CacheKey& key, std::vector<NamedTensor> outputs) {
    Insert(key, std::make_shared<const std::vector<NamedTensor>>(std::move(outputs)));
  }

  int64_t bytes() const;
  int64_t entries() const;
  int64_t hits() const;
  int64_t misses() const;
  int64_t evictions() const;

 private:
  struct KeyHash {
    size_t operator()(const CacheKey& k) const { return static_cast<size_t>(k.a ^ (k.b << 1)); }
  };
  struct Entry {
    CacheKey key;
    CachedOutputs outputs;
    int64_t bytes = 0;
  };
  const int64_t capacity_;
  mutable std::mutex mu_;  // guards everything below
  std::list<Entry> lru_;   // front: most recently used
  std::unordered_map<CacheKey, std::list<Entry>::iterator, KeyHash> index_;
  int64_t bytes_ = 0, hits_ = 0, misses_ = 0, evictions_ = 0;
};

}  // namespace hone::serve
