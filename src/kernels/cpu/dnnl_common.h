// oneDNN plumbing shared by the fast CPU kernels: one engine per process, per-call streams,
// hone::Tensor <-> dnnl::memory wrapping, and a small per-shape primitive cache.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "hone/tensor.h"

namespace hone::cpu {

dnnl::engine& Engine();

// Plain (C-order) memory descriptor of `shape` in f32.
dnnl::memory::desc PlainDesc(const std::vector<int64_t>& shape);

// Wraps a tensor's bytes (no copy); the tensor must outlive the memory object.
dnnl::memory Wrap(const dnnl::memory::desc& md, const Tensor& t);

// Thread-safe map from an input-shape signature to whatever a kernel builds for it (primitive,
// prepacked weights). Entries are built once and shared by concurrent runs.
template <typename Entry>
class ShapeCache {
 public:
  template <typename Build>
  std::shared_ptr<const Entry> Get(const std::vector<int64_t>& key, Build&& build) const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = map_.find(key);
      if (it != map_.end()) return it->second;
    }
    std::shared_ptr<const Entry> e = build();  // built outside the lock; a race builds twice
    if (!e) return e;
    std::lock_guard<std::mutex> lock(mu_);
    return map_.emplace(key, e).first->second;
  }

 private:
  mutable std::mutex mu_;  // guards map_
  mutable std::map<std::vector<int64_t>, std::shared_ptr<const Entry>> map_;
};

// Output length of one spatial axis under ONNX's conv/pool rules: auto_pad (NOTSET, VALID,
// SAME_UPPER, SAME_LOWER), explicit pads p0/p1 (updated for SAME and VALID), effective kernel
// extent `k` ((kernel - 1) * dilation + 1), stride `s`, and ceil_mode (where a window starting
// inside the right padding is dropped). Returns -1 when no window fits.
int64_t OnnxSpatialOut(const std::string& auto_pad, int64_t in, int64_t k, int64_t s, bool ceil,
                       int64_t& p0, int64_t& p1);

// Sets the OpenMP thread count that oneDNN primitives use on the calling thread. With `work`
// (FLOPs, or elements for data movement) below what pays for a parallel region (tens of
// microseconds of work), one thread: fewer fork/join barriers, which matter most when another
// process holds a core (a waiting barrier then costs a scheduler time slice).
void SetDnnlThreads(int threads, double work = -1);

}  // namespace hone::cpu
