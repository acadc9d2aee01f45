#include "kernels/cpu/dnnl_common.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>

#include "core/errors.h"

namespace hone::cpu {

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::desc PlainDesc(const Shape& shape) {
  dnnl::memory::dims dims(shape.begin(), shape.end());
  dnnl::memory::dims strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[static_cast<size_t>(i)] =
        strides[static_cast<size_t>(i) + 1] * shape[static_cast<size_t>(i) + 1];
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

dnnl::memory Wrap(const dnnl::memory::desc& md, const Tensor& t) {
  return dnnl::memory(md, Engine(), t.raw_data());
}

dnnl::stream& ThreadStream() {
  thread_local dnnl::stream stream(Engine());
  return stream;
}

dnnl::primitive_attr UserScratchpad(dnnl::primitive_attr attr) {
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

void* ThreadScratchpad(size_t bytes) {
  thread_local std::unique_ptr<char, decltype(&std::free)> buffer(nullptr, &std::free);
  thread_local size_t capacity = 0;
  if (bytes > capacity) {
    const size_t size = (bytes + 4095) / 4096 * 4096;
    buffer.reset(static_cast<char*>(std::aligned_alloc(4096, size)));
    HONE_CHECK(buffer != nullptr);
    capacity = size;
  }
  return buffer.get();
}

dnnl::memory::desc ScratchpadDesc(const dnnl::primitive& prim) {
  if (!prim) return {};
  const_dnnl_primitive_desc_t pd = nullptr;
  dnnl::error::wrap_c_api(dnnl_primitive_get_primitive_desc(prim.get(), &pd),
                          "could not get a primitive descriptor");
  const dnnl_memory_desc_t* md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  return md ? dnnl::memory::desc(*md) : dnnl::memory::desc();
}

void PrimitiveCall::AddVarying(int arg, const dnnl::memory::desc& md) {
  HONE_CHECK(varying_.size() + fixed_.size() + 1 < kMaxArgs);  // + the scratchpad
  varying_.emplace_back(arg, md);
}

void PrimitiveCall::AddFixed(int arg, dnnl::memory mem) {
  HONE_CHECK(varying_.size() + fixed_.size() + 1 < kMaxArgs);
  fixed_.emplace_back(arg, std::move(mem));
}

void PrimitiveCall::Execute(std::initializer_list<const void*> data) const {
  HONE_CHECK(data.size() == varying_.size());
  std::unique_ptr<Slots> slots;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      slots = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!slots) {  // the first call, or more concurrent calls than ever before
    slots = std::make_unique<Slots>();
    for (const auto& [arg, md] : varying_)
      slots->mem.emplace_back(md, Engine(), static_cast<void*>(DNNL_MEMORY_NONE));
    if (scratchpad_.get_size() > 0)
      slots->scratchpad = dnnl::memory(scratchpad_, Engine(), static_cast<void*>(DNNL_MEMORY_NONE));
  }
  dnnl::stream& stream = ThreadStream();
  dnnl_exec_arg_t args[kMaxArgs];
  int n = 0;
  for (const void* p : data) {
    dnnl::memory& m = slots->mem[static_cast<size_t>(n)];
    m.set_data_handle(const_cast<void*>(p), stream);
    args[n] = {varying_[static_cast<size_t>(n)].first, m.get()};
    ++n;
  }
  for (const auto& [arg, m] : fixed_) args[n++] = {arg, m.get()};
  if (slots->scratchpad) {
    slots->scratchpad.set_data_handle(ThreadScratchpad(scratchpad_.get_size()), stream);
    args[n++] = {DNNL_ARG_SCRATCHPAD, slots->scratchpad.get()};
  }
  const dnnl_status_t status = dnnl_primitive_execute(prim_.get(), stream.get(), n, args);
  stream.wait();
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(slots));
  }
  dnnl::error::wrap_c_api(status, "could not execute a primitive");
}

std::unique_ptr<PrimitiveCall> MakeReorder(const dnnl::memory::desc& src,
                                           const dnnl::memory::desc& dst) {
  auto call = std::make_unique<PrimitiveCall>(
      dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), src, Engine(), dst, UserScratchpad())));
  call->AddVarying(DNNL_ARG_FROM, src);
  call->AddVarying(DNNL_ARG_TO, dst);
  return call;
}

int64_t OnnxSpatialOut(const std::string& auto_pad, int64_t in, int64_t k, int64_t s, bool ceil,
                       int64_t& p0, int64_t& p1) {
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const int64_t out = (in + s - 1) / s;
    const int64_t total = std::max<int64_t>(0, (out - 1) * s + k - in);
    p0 = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    p1 = total - p0;
    return out;
  }
  if (auto_pad == "VALID") p0 = p1 = 0;
  const int64_t span = in + p0 + p1 - k;
  if (span < 0) return -1;
  int64_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (out - 1) * s >= in + p0) --out;
  return out;
}

void SetDnnlThreads(int threads, double work) {
  constexpr double kMinParallelWork = 2e6;  // ~10 us of float32 FLOPs on one core
  if (work >= 0 && work < kMinParallelWork) threads = 1;
  if (threads > 0 && omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

}  // namespace hone::cpu
