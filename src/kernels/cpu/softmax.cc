// Fast float32 Softmax (ONNX 1-22). From opset 13 it normalises along `axis` (default -1); before
// 13 over the dims from `axis` (default 1) flattened. Served when each normalised row is
// contiguous (opset 13+ with only size-1 dims after `axis`; always before 13): max, exp (simd.h
// ExpF) and sum, vectorised per row, rows split over the thread pool. Otherwise declines.
#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

constexpr int64_t kGrain = 16384;  // elements per parallel task

class Softmax final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    legacy_ = ctx.opset() < 13;
    axis_ = ctx.attr_int("axis", legacy_ ? 1 : -1);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32) return Decline("not float32");
    const int64_t rank = std::max<int64_t>(x.rank(), 1);
    if (axis_ < -rank || axis_ >= rank) return Decline("axis out of range");
    const size_t axis = static_cast<size_t>(axis_ < 0 ? axis_ + rank : axis_);
    int64_t after = 1;  // elements after the axis
    for (size_t d = axis + 1; d < x.shape().size(); ++d) after *= x.shape()[d];
    if (!legacy_ && after != 1) return Decline("softmax axis is not the innermost");
    const int64_t n = x.rank() == 0 ? 1 : (legacy_ ? after * x.dim(axis) : x.dim(axis));
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, x.shape());
    if (n == 0 || x.numel() == 0) return Status::Ok();
    const int64_t rows = x.numel() / n;
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    ctx.pool().ParallelFor(rows, std::max<int64_t>(1, kGrain / n), [&](int64_t b, int64_t e) {
      Vectorized([&] {
        for (int64_t r = b; r < e; ++r) {
          const float* __restrict s = src + r * n;
          float* __restrict d = dst + r * n;
          const float m = MaxRow(s, n);
          for (int64_t i = 0; i < n; ++i) d[i] = ExpF(s[i] - m);
          const float inv = 1.0f / SumRow(d, n);
          for (int64_t i = 0; i < n; ++i) d[i] *= inv;
        }
      });
    });
    return Status::Ok();
  }

 private:
  bool legacy_ = false;
  int64_t axis_ = -1;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuSoftmax() { return std::make_unique<Softmax>(); }

}  // namespace hone::cpu
