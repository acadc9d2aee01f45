// Fast float32 ReduceMean (ONNX 1-22; axes an attribute before 18, a constant input from 18)
// when the reduced axes are the trailing ones (the last axis of LayerNorm-like patterns), with
// keepdims either way. Each row is summed vectorised (simd.h SumRow); rows are split over the
// thread pool. Other axes, runtime axes and noop_with_empty_axes decline to the reference.
#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

constexpr int64_t kGrain = 16384;  // elements per parallel task

class ReduceMean final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    keepdims_ = ctx.attr_int("keepdims", 1) != 0;
    const bool noop = ctx.attr_int("noop_with_empty_axes", 0) != 0;
    if (ctx.opset() < 18) {
      axes_ = ctx.attr_ints("axes");
    } else if (ctx.has_input(1)) {
      const Tensor* a = ctx.constant_input(1);
      if (a == nullptr) return Decline("axes is not a constant");
      if (a->dtype() == DataType::kInt64) {
        axes_.assign(a->data<int64_t>(), a->data<int64_t>() + a->numel());
      } else if (a->dtype() == DataType::kInt32) {
        axes_.assign(a->data<int32_t>(), a->data<int32_t>() + a->numel());
      } else {
        return Decline("axes dtype");
      }
    }
    if (axes_.empty() && noop) return Decline("noop_with_empty_axes");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32) return Decline("not float32");
    const int64_t rank = x.rank();
    // Reduced axes; none given means all of them.
    Shape reduced(static_cast<size_t>(rank), axes_.empty() ? 1 : 0);  // per axis: 1 = reduced
    for (int64_t a : axes_) {
      if (a < -rank || a >= rank) return Decline("axis out of range");
      reduced[static_cast<size_t>(a < 0 ? a + rank : a)] = 1;
    }
    // Only a trailing run of reduced axes is served: the rows are then contiguous.
    size_t first = reduced.size();
    while (first > 0 && reduced[first - 1]) --first;
    for (size_t d = 0; d < first; ++d)
      if (reduced[d]) return Decline("reduced axes are not the trailing ones");
    int64_t inner = 1;
    for (size_t d = first; d < reduced.size(); ++d) inner *= x.shape()[d];
    if (inner == 0) return Decline("empty reduction");
    Shape out_shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(first));
    if (keepdims_) out_shape.resize(reduced.size(), 1);
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, out_shape);
    const int64_t rows = x.numel() / inner;
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    const float scale = 1.0f / static_cast<float>(inner);
    ctx.pool().ParallelFor(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t b, int64_t e) {
      Vectorized([&] {
        for (int64_t r = b; r < e; ++r) dst[r] = SumRow(src + r * inner, inner) * scale;
      });
    });
    return Status::Ok();
  }

 private:
  bool keepdims_ = true;
  Shape axes_;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuReduceMean() { return std::make_unique<ReduceMean>(); }

}  // namespace hone::cpu
