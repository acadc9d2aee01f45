// Fast float32 LayerNormalization: ONNX LayerNormalization (17-22) and com.hone
// LayerNormalization (1; the same inputs, attributes and outputs, made by the layer-norm fusion
// pass for models below opset 17). Normalises over the dims from `axis`; each row's mean and
// variance (two passes, so no cancellation) and the scaling are vectorised, rows split over the
// thread pool. Scale and B must have one element per normalised element (no broadcasting) and
// stash_type must be float32; otherwise it declines to the reference kernel.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

constexpr int64_t kGrain = 16384;  // elements per parallel task

class LayerNorm final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", -1);
    epsilon_ = ctx.attr_float("epsilon", 1e-5f);
    if (ctx.attr_int("stash_type", 1) != 1) return Decline("stash_type other than float32");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* bias = ctx.input(2);
    if (x.dtype() != DataType::kFloat32 || !scale || scale->dtype() != DataType::kFloat32 ||
        (bias && bias->dtype() != DataType::kFloat32))
      return Decline("not float32");
    const int64_t rank = x.rank();
    if (axis_ < -rank || axis_ >= rank) return Decline("axis out of range");
    const size_t axis = static_cast<size_t>(axis_ < 0 ? axis_ + rank : axis_);
    int64_t inner = 1;
    for (size_t d = axis; d < x.shape().size(); ++d) inner *= x.shape()[d];
    if (inner == 0) return Decline("empty normalisation");
    if (scale->numel() != inner || (bias && bias->numel() != inner))
      return Decline("Scale or B broadcasts");
    const int64_t rows = x.numel() / inner;
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, x.shape());
    Shape stat_shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(axis));
    stat_shape.resize(x.shape().size(), 1);
    float* mean_out = ctx.num_outputs() > 1
                          ? ctx.OutputUninitialized(1, DataType::kFloat32, stat_shape).data<float>()
                          : nullptr;
    float* inv_out = ctx.num_outputs() > 2
                         ? ctx.OutputUninitialized(2, DataType::kFloat32, stat_shape).data<float>()
                         : nullptr;
    const float* src = x.data<float>();
    const float* gamma = scale->data<float>();
    const float* beta = bias ? bias->data<float>() : nullptr;
    float* dst = y.data<float>();
    const float eps = epsilon_;
    const float inv_n = 1.0f / static_cast<float>(inner);
    ctx.pool().ParallelFor(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t b, int64_t e) {
      Vectorized([&] {
        for (int64_t r = b; r < e; ++r) {
          const float* __restrict s = src + r * inner;
          float* __restrict d = dst + r * inner;
          const float mean = SumRow(s, inner) * inv_n;
          // d holds the centred row until it is scaled in place.
          for (int64_t i = 0; i < inner; ++i) d[i] = s[i] - mean;
          float acc[kLanes] = {};
          int64_t i = 0;
          for (; i + kLanes <= inner; i += kLanes)
            for (int j = 0; j < kLanes; ++j) acc[j] += d[i + j] * d[i + j];
          float sq = 0.0f;
          for (; i < inner; ++i) sq += d[i] * d[i];
          for (int j = 0; j < kLanes; ++j) sq += acc[j];
          const float inv = 1.0f / std::sqrt(sq * inv_n + eps);
          if (beta) {
            for (int64_t k = 0; k < inner; ++k) d[k] = d[k] * inv * gamma[k] + beta[k];
          } else {
            for (int64_t k = 0; k < inner; ++k) d[k] = d[k] * inv * gamma[k];
          }
          if (mean_out) mean_out[r] = mean;
          if (inv_out) inv_out[r] = inv;
        }
      });
    });
    return Status::Ok();
  }

 private:
  int64_t axis_ = -1;
  float epsilon_ = 1e-5f;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuLayerNorm() { return std::make_unique<LayerNorm>(); }

}  // namespace hone::cpu
