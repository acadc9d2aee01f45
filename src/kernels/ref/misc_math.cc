// Reference kernels for small math operators.
// ONNX operators: Shrink (opsets 9-22, all numeric types; attributes lambd and bias),
// Det (11-22: determinant of each trailing M x M matrix, float types; LU with partial pivoting in
// double).
#include <algorithm>
#include <cmath>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

class Shrink final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    lambd_ = ctx.attr_float("lambd", 0.5f);
    bias_ = ctx.attr_float("bias", 0.0f);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("input is required");
    Tensor& y = ctx.Output(0, x->dtype(), x->shape());
    return VisitNumeric(ctx.node(), x->dtype(), [&]<typename T>() {
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      const int64_t n = x->numel();
      for (int64_t i = 0; i < n; ++i) {
        const double v = static_cast<double>(static_cast<Acc<T>>(src[i]));
        double r = 0;
        if (v < -lambd_) {
          r = v + bias_;
        } else if (v > lambd_) {
          r = v - bias_;
        }
        dst[i] = static_cast<T>(static_cast<Acc<T>>(r));
      }
      return Status::Ok();
    });
  }

 private:
  double lambd_ = 0.5, bias_ = 0.0;
};

class Det final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("input X is required");
    const int64_t r = x->rank();
    if (r < 2 || x->dim(r - 1) != x->dim(r - 2))
      return ctx.Error("input X shape: expected [*, M, M], got {}", ShapeToString(x->shape()));
    const int64_t m = x->dim(r - 1);
    Shape out_shape(x->shape().begin(), x->shape().end() - 2);
    const int64_t batch = ShapeSize(out_shape);
    Tensor& y = ctx.Output(0, x->dtype(), out_shape);
    return VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() {
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      std::vector<double> a(static_cast<size_t>(m * m));
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t i = 0; i < m * m; ++i)
          a[static_cast<size_t>(i)] = static_cast<double>(static_cast<Acc<T>>(src[b * m * m + i]));
        double det = 1;
        for (int64_t k = 0; k < m && det != 0; ++k) {
          int64_t piv = k;
          for (int64_t i = k + 1; i < m; ++i)
            if (std::abs(a[static_cast<size_t>(i * m + k)]) >
                std::abs(a[static_cast<size_t>(piv * m + k)]))
              piv = i;
          if (a[static_cast<size_t>(piv * m + k)] == 0) {
            det = 0;
            break;
          }
          if (piv != k) {
            for (int64_t j = 0; j < m; ++j)
              std::swap(a[static_cast<size_t>(k * m + j)], a[static_cast<size_t>(piv * m + j)]);
            det = -det;
          }
          const double p = a[static_cast<size_t>(k * m + k)];
          det *= p;
          for (int64_t i = k + 1; i < m; ++i) {
            const double f = a[static_cast<size_t>(i * m + k)] / p;
            for (int64_t j = k + 1; j < m; ++j)
              a[static_cast<size_t>(i * m + j)] -= f * a[static_cast<size_t>(k * m + j)];
          }
        }
        dst[b] = static_cast<T>(det);
      }
      return Status::Ok();
    });
  }
};

}  // namespace

std::unique_ptr<Kernel> CreateRefShrink() { return std::make_unique<Shrink>(); }
std::unique_ptr<Kernel> CreateRefDet() { return std::make_unique<Det>(); }

}  // namespace hone::ref
