// oneDNN plumbing shared by the fast CPU kernels: one engine per process, a stream per thread,
// hone::Tensor <-> dnnl::memory wrapping, primitive calls that allocate nothing, and a small
// per-shape primitive cache.
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
dnnl::memory::desc PlainDesc(const Shape& shape);

// Wraps a tensor's bytes (no copy); the tensor must outlive the memory object.
dnnl::memory Wrap(const dnnl::memory::desc& md, const Tensor& t);

// The calling thread's stream on Engine() (made on first use).
dnnl::stream& ThreadStream();

// `attr` with a user-managed scratchpad: every primitive hone keeps is built with it. oneDNN's
// default (library) scratchpad is a buffer per thread sized by the primitives that thread
// created; a primitive run on another thread (concurrent Session::Run calls, hone serve's
// instances) used that thread's buffer, too small or absent: it wrote past it and crashed.
dnnl::primitive_attr UserScratchpad(dnnl::primitive_attr attr = dnnl::primitive_attr());

// The scratchpad a primitive built with UserScratchpad needs (zero size: none).
dnnl::memory::desc ScratchpadDesc(const dnnl::primitive& prim);

// The calling thread's scratchpad buffer, grown to at least `bytes` (page-aligned). One buffer
// serves every primitive the thread runs (as oneDNN's own global scratchpad, but the running
// thread's): it stays in cache from one node to the next.
void* ThreadScratchpad(size_t bytes);

// One oneDNN primitive with its arguments, called without allocating in hone: the memory objects
// of the arguments that change per call (activations) are made once per concurrent caller and
// pointed at each call's data; fixed arguments (prepacked weights, bias) are bound once; the
// arguments reach oneDNN as a stack array through the C API, on the thread's stream. (oneDNN 2.6
// still builds a small argument map inside every execute; that is the library's own.)
class PrimitiveCall {
 public:
  static constexpr size_t kMaxArgs = 8;

  explicit PrimitiveCall(dnnl::primitive prim = {}) : prim_(std::move(prim)) {}
  PrimitiveCall(const PrimitiveCall&) = delete;
  PrimitiveCall& operator=(const PrimitiveCall&) = delete;

  // `prim` must be built with UserScratchpad: each call gets its thread's scratchpad buffer.
  void set_primitive(dnnl::primitive prim) {
    prim_ = std::move(prim);
    scratchpad_ = ScratchpadDesc(prim_);
  }
  const dnnl::memory::desc& scratchpad_desc() const { return scratchpad_; }
  // A per-call argument (DNNL_ARG_SRC, ...) laid out as `md`; Execute takes its data pointers in
  // the order these were added.
  void AddVarying(int arg, const dnnl::memory::desc& md);
  // An argument bound once (kept alive here).
  void AddFixed(int arg, dnnl::memory mem);
  // Runs the primitive with varying argument i at data[i] and waits for it.
  void Execute(std::initializer_list<const void*> data) const;

 private:
  struct Slots {
    std::vector<dnnl::memory> mem;  // one per varying argument
    dnnl::memory scratchpad;        // pointed at the calling thread's buffer (empty: none needed)
  };
  dnnl::primitive prim_;
  dnnl::memory::desc scratchpad_;
  std::vector<std::pair<int, dnnl::memory::desc>> varying_;
  std::vector<std::pair<int, dnnl::memory>> fixed_;
  mutable std::mutex mu_;                             // guards idle_
  mutable std::vector<std::unique_ptr<Slots>> idle_;  // slot sets not in use by a call
};

// A reorder from `src` to `dst` layouts as a PrimitiveCall (data: source, destination).
std::unique_ptr<PrimitiveCall> MakeReorder(const dnnl::memory::desc& src,
                                           const dnnl::memory::desc& dst);

// Thread-safe map from an input-shape signature to whatever a kernel builds for it (primitive,
// prepacked weights). Entries are built once and shared by concurrent runs.
template <typename Entry>
class ShapeCache {
 public:
  template <typename Build>
  std::shared_ptr<const Entry> Get(const Shape& key, Build&& build) const {
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
  mutable std::map<Shape, std::shared_ptr<const Entry>> map_;
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
