#include "kernels/cpu/dnnl_common.h"

#include <omp.h>

#include <algorithm>

namespace hone::cpu {

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::desc PlainDesc(const std::vector<int64_t>& shape) {
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
