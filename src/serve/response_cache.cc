#include "serve/response_cache.h"

#include <cstring>
#include <string_view>

namespace hone::serve {
namespace {

// Two independent 64-bit FNV-1a-style streams (different offsets and primes) over the bytes.
struct Hasher {
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  void Bytes(const void* p, size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      a = (a ^ c[i]) * 0x100000001b3ull;
      b = (b ^ c[i]) * 0x00000100000001b3ull + 0x9e3779b97f4a7c15ull;
    }
  }
  void Int(int64_t v) { Bytes(&v, sizeof v); }
  void Text(std::string_view s) {
    Int(static_cast<int64_t>(s.size()));
    Bytes(s.data(), s.size());
  }
};

int64_t OutputBytes(const std::vector<NamedTensor>& outputs) {
  int64_t n = 0;
  for (const auto& o : outputs) {
    n += static_cast<int64_t>(o.name.size());
    if (o.tensor.dtype() == DataType::kString) {
      for (int64_t i = 0; i < o.tensor.numel(); ++i)
        n += static_cast<int64_t>(o.tensor.data<std::string>()[i].size() + sizeof(std::string));
    } else {
      n += static_cast<int64_t>(DataBytes(o.tensor.dtype(), o.tensor.numel()));
    }
  }
  return n;
}

}  // namespace

CacheKey MakeCacheKey(const std::string& model, int64_t version,
                      const std::vector<NamedTensor>& inputs) {
  Hasher h;
  h.Text(model);
  h.Int(version);
  h.Int(static_cast<int64_t>(inputs.size()));
  for (const NamedTensor& in : inputs) {
    const Tensor& t = in.tensor;
    h.Text(in.name);
    h.Int(static_cast<int64_t>(t.dtype()));
    h.Int(t.rank());
    for (int64_t d : t.shape()) h.Int(d);
    if (t.dtype() == DataType::kString) {
      for (int64_t i = 0; i < t.numel(); ++i) h.Text(t.data<std::string>()[i]);
    } else {
      h.Bytes(t.raw_data(), DataBytes(t.dtype(), t.numel()));
    }
  }
  return {h.a, h.b};
}

CachedOutputs ResponseCache::Find(const CacheKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->outputs;
}

void ResponseCache::Insert(const CacheKey& key, CachedOutputs shared) {
  const int64_t size = OutputBytes(*shared);
  if (size > capacity_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) {  // a concurrent miss stored it first
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  while (bytes_ + size > capacity_ && !lru_.empty()) {
    bytes_ -= lru_.back().bytes;
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++evictions_;
  }
  lru_.push_front(Entry{key, std::move(shared), size});
  index_[key] = lru_.begin();
  bytes_ += size;
}

int64_t ResponseCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}
int64_t ResponseCache::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(lru_.size());
}
int64_t ResponseCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}
int64_t ResponseCache::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}
int64_t ResponseCache::evictions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return evictions_;
}

}  // namespace hone::serve
