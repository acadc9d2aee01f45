// Fast Resize (ONNX Resize 10-22, float32) for the upsampling detection and segmentation heads
// use: mode "nearest", coordinate_transformation_mode "asymmetric" with nearest_mode "floor" (the
// opset-10 behaviour), integer scale factors on the two spatial axes (2 and 3) and 1 elsewhere.
// Works on NCHW and on channel-blocked [N, Cb, H, W, B] tensors (passes/layout_nchwc.cc). Anything
// else declines to the reference kernel.
#include <cmath>
#include <cstring>

#include "core/thread_pool.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

class NearestResize final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (ctx.attr_string("mode", "nearest") != "nearest") return Decline("mode is not nearest");
    const std::string ctm = ctx.attr_string("coordinate_transformation_mode", "half_pixel");
    if (ctx.opset() >= 11 && ctm != "asymmetric") return Decline("coordinates are not asymmetric");
    if (ctx.opset() >= 11 && ctx.attr_string("nearest_mode", "round_prefer_floor") != "floor")
      return Decline("nearest_mode is not floor");
    if (ctx.has_attr("axes")) return Decline("axes attribute");
    const int scales_at = ctx.opset() >= 11 ? 2 : 1;
    const Tensor* s = ctx.has_input(scales_at) ? ctx.constant_input(scales_at) : nullptr;
    if (!s || s->numel() == 0) return Decline("scales are not a constant");
    if (s->dtype() != DataType::kFloat32) return Decline("scales are not float32");
    for (int64_t i = 0; i < s->numel(); ++i) {
      const float v = s->data<float>()[i];
      if (v < 1 || v != std::floor(v)) return Decline("scales are not whole numbers");
      scales_.push_back(static_cast<int64_t>(v));
    }
    if (scales_.size() < 4) return Decline("fewer than 4 axes");
    for (size_t i = 0; i < scales_.size(); ++i)
      if ((i < 2 || i > 3) && scales_[i] != 1) return Decline("scales other than on H and W");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32 || x.rank() != static_cast<int64_t>(scales_.size()) ||
        x.rank() > 5)
      return Decline("X is not a float32 tensor of the scales' rank (4 or 5)");
    Shape ys = x.shape();
    ys[2] *= scales_[2];
    ys[3] *= scales_[3];
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, ys);
    if (y.numel() == 0) return Status::Ok();
    const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    const int64_t inner = x.rank() == 5 ? x.dim(4) : 1;
    const int64_t sh = scales_[2], sw = scales_[3], oh = h * sh, ow = w * sw;
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    ctx.pool().ParallelFor(planes * h, 16, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {  // one input row -> sh output rows
        const float* in = src + r * w * inner;
        const int64_t plane = r / h, ih = r % h;
        float* out = dst + (plane * oh + ih * sh) * ow * inner;
        if (inner == 1) {
          for (int64_t ix = 0; ix < w; ++ix)
            for (int64_t k = 0; k < sw; ++k) out[ix * sw + k] = in[ix];
        } else {
          for (int64_t ix = 0; ix < w; ++ix)
            for (int64_t k = 0; k < sw; ++k)
              std::memcpy(out + (ix * sw + k) * inner, in + ix * inner,
                          static_cast<size_t>(inner) * sizeof(float));
        }
        for (int64_t k = 1; k < sh; ++k)
          std::memcpy(out + k * ow * inner, out, static_cast<size_t>(ow * inner) * sizeof(float));
      }
    });
    return Status::Ok();
  }

 private:
  std::vector<int64_t> scales_;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuResize() { return std::make_unique<NearestResize>(); }

}  // namespace hone::cpu
