// Fast float32 GELU: com.hone Gelu (1; made by the GELU fusion pass from the exported
// x * 0.5 * (1 + erf(x / sqrt(2))) for models below opset 20) and ONNX Gelu (20-22). Both take
// the `approximate` attribute ("none": the erf form, "tanh": the tanh form). Vectorised with
// simd.h's ErfF / TanhF, split over the thread pool; other dtypes decline to the reference.
#include <string>

#include "core/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

constexpr int64_t kGrain = 16384;  // elements per parallel task

class Gelu final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const std::string a = ctx.attr_string("approximate", "none");
    if (a != "none" && a != "tanh") return Decline("approximate is neither none nor tanh");
    tanh_ = a == "tanh";
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32) return Decline("not float32");
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, x.shape());
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    const bool use_tanh = tanh_;
    ctx.pool().ParallelFor(x.numel(), kGrain, [&](int64_t b, int64_t e) {
      Vectorized([&] {
        if (use_tanh) {
          constexpr float kSqrt2OverPi = 0.7978845608028654f;
          for (int64_t i = b; i < e; ++i) {
            const float v = src[i];
            dst[i] = 0.5f * v * (1.0f + TanhF(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
          }
        } else {
          constexpr float kInvSqrt2 = 0.7071067811865476f;
          for (int64_t i = b; i < e; ++i) {
            const float v = src[i];
            dst[i] = 0.5f * v * (1.0f + ErfF(v * kInvSqrt2));
          }
        }
      });
    });
    return Status::Ok();
  }

 private:
  bool tanh_ = false;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuGelu() { return std::make_unique<Gelu>(); }

}  // namespace hone::cpu
