// Fast float32 unary kernels: ONNX Erf (9-22), Sqrt, Relu, Sigmoid, Tanh (1-22), and Pow (7-22)
// when the exponent is a constant scalar 0.5, 1, 2 or 3. Vectorised (simd.h) and split over the
// session's thread pool; other dtypes and exponents decline to the reference kernels.
#include <cmath>
#include <limits>

#include "core/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

// Elements per parallel task: below this, waking a worker costs more than it saves.
constexpr int64_t kGrain = 16384;

enum class UnaryOp { kErf, kSqrt, kRelu, kSigmoid, kTanh, kSquare, kCube, kHalf, kCopy };

template <UnaryOp kOp>
inline float Apply(float x) {
  if constexpr (kOp == UnaryOp::kErf) return ErfF(x);
  if constexpr (kOp == UnaryOp::kSqrt) return std::sqrt(x);
  if constexpr (kOp == UnaryOp::kRelu) return x > 0.0f ? x : 0.0f;
  if constexpr (kOp == UnaryOp::kSigmoid) return SigmoidF(x);
  if constexpr (kOp == UnaryOp::kTanh) return TanhF(x);
  if constexpr (kOp == UnaryOp::kSquare) return x * x;
  if constexpr (kOp == UnaryOp::kCube) return x * x * x;
  // pow(x, 0.5): unlike sqrt, +0 for -0 and +inf for -inf.
  if constexpr (kOp == UnaryOp::kHalf)
    return x < -std::numeric_limits<float>::max() ? std::numeric_limits<float>::infinity()
                                                  : std::sqrt(x) + 0.0f;
  return x;
}

template <UnaryOp kOp>
void Map(ThreadPool& pool, const float* src, float* dst, int64_t n) {
  pool.ParallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
    Vectorized([&] {
      for (int64_t i = begin; i < end; ++i) dst[i] = Apply<kOp>(src[i]);
    });
  });
}

template <UnaryOp kOp>
class Unary final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32) return Decline("not float32");
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, x.shape());
    Map<kOp>(ctx.pool(), x.data<float>(), y.data<float>(), x.numel());
    return Status::Ok();
  }
};

// Pow(X, e) with e a constant scalar, as the decomposed LayerNorm and GELU exports use it.
class PowConstant final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (ctx.opset() < 7) return Decline("legacy broadcast attributes");
    const Tensor* e = ctx.constant_input(1);
    if (e == nullptr || e->numel() != 1) return Decline("exponent is not a constant scalar");
    double v;
    switch (e->dtype()) {
      case DataType::kFloat32:
        v = e->data<float>()[0];
        break;
      case DataType::kFloat64:
        v = e->data<double>()[0];
        break;
      case DataType::kInt32:
        v = e->data<int32_t>()[0];
        break;
      case DataType::kInt64:
        v = static_cast<double>(e->data<int64_t>()[0]);
        break;
      default:
        return Decline("exponent dtype");
    }
    exponent_rank_ = e->rank();
    if (v == 2.0) {
      kind_ = UnaryOp::kSquare;
    } else if (v == 3.0) {
      kind_ = UnaryOp::kCube;
    } else if (v == 0.5) {
      kind_ = UnaryOp::kHalf;
    } else if (v == 1.0) {
      kind_ = UnaryOp::kCopy;
    } else {
      return Decline("exponent other than 0.5, 1, 2, 3");
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32) return Decline("base is not float32");
    if (exponent_rank_ > x.rank()) return Decline("exponent raises the output rank");
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, x.shape());
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    switch (kind_) {
      case UnaryOp::kSquare:
        Map<UnaryOp::kSquare>(ctx.pool(), src, dst, x.numel());
        break;
      case UnaryOp::kCube:
        Map<UnaryOp::kCube>(ctx.pool(), src, dst, x.numel());
        break;
      case UnaryOp::kHalf:
        Map<UnaryOp::kHalf>(ctx.pool(), src, dst, x.numel());
        break;
      default:
        Map<UnaryOp::kCopy>(ctx.pool(), src, dst, x.numel());
        break;
    }
    return Status::Ok();
  }

 private:
  UnaryOp kind_ = UnaryOp::kCopy;
  int64_t exponent_rank_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuErf() { return std::make_unique<Unary<UnaryOp::kErf>>(); }
std::unique_ptr<Kernel> CreateCpuSqrt() { return std::make_unique<Unary<UnaryOp::kSqrt>>(); }
std::unique_ptr<Kernel> CreateCpuRelu() { return std::make_unique<Unary<UnaryOp::kRelu>>(); }
std::unique_ptr<Kernel> CreateCpuSigmoid() { return std::make_unique<Unary<UnaryOp::kSigmoid>>(); }
std::unique_ptr<Kernel> CreateCpuTanh() { return std::make_unique<Unary<UnaryOp::kTanh>>(); }
std::unique_ptr<Kernel> CreateCpuPow() { return std::make_unique<PowConstant>(); }

}  // namespace hone::cpu
