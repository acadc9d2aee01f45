// Reference optimizer kernels.
// ONNX operators in domain ai.onnx.preview.training, opset 1: Adagrad (decay_factor, epsilon,
// norm_coefficient), Adam (alpha, beta, epsilon, norm_coefficient, norm_coefficient_post) and
// Momentum (alpha, beta, mode standard / nesterov, norm_coefficient). Each takes the learning rate
// R and the update count T, then the tensors to optimize as groups of equal length (X..., G...,
// and the optimizer state), and returns the updated X... followed by the updated state.
// Arithmetic is in double, rounded to the tensor dtype on output.
#include <cmath>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

enum class Optimizer { kAdagrad, kAdam, kMomentum };

// Number of tensor groups among the inputs after R and T: X, G, then the state tensors.
constexpr int InputGroups(Optimizer o) { return o == Optimizer::kAdam ? 4 : 3; }

template <Optimizer kOpt>
class OptimizerKernel final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const int groups = InputGroups(kOpt);
    const int tensors = ctx.num_inputs() - 2;
    if (tensors <= 0 || tensors % groups != 0)
      return ctx.Invalid("expected 2 + {} * n inputs, got {}", groups, ctx.num_inputs());
    n_ = tensors / groups;
    if (ctx.num_outputs() != (groups - 1) * n_)
      return ctx.Invalid("expected {} outputs for {} optimized tensors, got {}", (groups - 1) * n_,
                         n_, ctx.num_outputs());
    norm_coefficient_ = ctx.attr_float("norm_coefficient", 0.0f);
    epsilon_ = ctx.attr_float("epsilon", 1e-6f);
    if constexpr (kOpt == Optimizer::kAdagrad) {
      decay_factor_ = ctx.attr_float("decay_factor", 0.0f);
    } else if constexpr (kOpt == Optimizer::kAdam) {
      alpha_ = ctx.attr_float("alpha", 0.9f);
      beta_ = ctx.attr_float("beta", 0.999f);
      norm_coefficient_post_ = ctx.attr_float("norm_coefficient_post", 0.0f);
    } else {
      for (const char* a : {"alpha", "beta", "mode", "norm_coefficient"})
        if (!ctx.has_attr(a)) return ctx.Invalid("attribute {} is required", a);
      alpha_ = ctx.attr_float("alpha", 0.0f);
      beta_ = ctx.attr_float("beta", 0.0f);
      const std::string mode = ctx.attr_string("mode", "standard");
      if (mode != "standard" && mode != "nesterov")
        return ctx.Invalid("attribute mode: expected standard or nesterov, got '{}'", mode);
      nesterov_ = mode == "nesterov";
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    for (int i = 0; i < ctx.num_inputs(); ++i)
      if (ctx.input(i) == nullptr) return ctx.Error("input {} is missing", i);
    HONE_ASSIGN_OR_RETURN(double lr, ToScalar(ctx.node(), *ctx.input(0), "R"));
    HONE_ASSIGN_OR_RETURN(double t, ToScalar(ctx.node(), *ctx.input(1), "T"));
    const int groups = InputGroups(kOpt);
    for (int i = 0; i < n_; ++i) {
      const Tensor& x = *ctx.input(2 + i);
      for (int g = 1; g < groups; ++g) {
        const Tensor& other = *ctx.input(2 + g * n_ + i);
        if (other.shape() != x.shape() || other.dtype() != x.dtype())
          return ctx.Error("input {}: expected {} {} like X{}, got {} {}", 2 + g * n_ + i,
                           DataTypeName(x.dtype()), ShapeToString(x.shape()), i,
                           DataTypeName(other.dtype()), ShapeToString(other.shape()));
      }
      HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), x.dtype(), [&]<typename T>() {
        const int64_t len = x.numel();
        const T* xs = x.data<T>();
        const T* gs = ctx.input(2 + n_ + i)->data<T>();
        const T* s1 = ctx.input(2 + 2 * n_ + i)->data<T>();
        const T* s2 = groups == 4 ? ctx.input(2 + 3 * n_ + i)->data<T>() : nullptr;
        T* x_new = ctx.Output(i, x.dtype(), x.shape()).template data<T>();
        T* s1_new = ctx.Output(n_ + i, x.dtype(), x.shape()).template data<T>();
        T* s2_new =
            groups == 4 ? ctx.Output(2 * n_ + i, x.dtype(), x.shape()).template data<T>() : nullptr;
        auto rd = [](T v) { return static_cast<double>(static_cast<Acc<T>>(v)); };
        for (int64_t k = 0; k < len; ++k) {
          const double xv = rd(xs[k]);
          const double g = norm_coefficient_ * xv + rd(gs[k]);  // regularized gradient
          if constexpr (kOpt == Optimizer::kAdagrad) {
            const double r = lr / (1 + t * decay_factor_);
            const double h = rd(s1[k]) + g * g;
            const double h_adaptive = std::sqrt(h) + epsilon_;
            x_new[k] = static_cast<T>(xv - r * g / h_adaptive);
            s1_new[k] = static_cast<T>(h);
          } else if constexpr (kOpt == Optimizer::kAdam) {
            const double v = alpha_ * rd(s1[k]) + (1 - alpha_) * g;
            const double h = beta_ * rd(s2[k]) + (1 - beta_) * g * g;
            const double h_sqrt = std::sqrt(h) + epsilon_;
            const double r_adj =
                t > 0 ? lr * std::sqrt(1 - std::pow(beta_, t)) / (1 - std::pow(alpha_, t)) : lr;
            const double xn = xv - r_adj * v / h_sqrt;
            x_new[k] = static_cast<T>((1 - norm_coefficient_post_) * xn);
            s1_new[k] = static_cast<T>(v);
            s2_new[k] = static_cast<T>(h);
          } else {
            const double beta_adj = t > 0 ? beta_ : 1.0;
            const double v = alpha_ * rd(s1[k]) + beta_adj * g;
            const double xn = nesterov_ ? xv - lr * (g + alpha_ * v) : xv - lr * v;
            x_new[k] = static_cast<T>(xn);
            s1_new[k] = static_cast<T>(v);
          }
        }
        return Status::Ok();
      }));
    }
    return Status::Ok();
  }

 private:
  int n_ = 0;
  double norm_coefficient_ = 0, epsilon_ = 1e-6, decay_factor_ = 0;
  double alpha_ = 0, beta_ = 0, norm_coefficient_post_ = 0;
  bool nesterov_ = false;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefAdagrad() {
  return std::make_unique<OptimizerKernel<Optimizer::kAdagrad>>();
}
std::unique_ptr<Kernel> CreateRefAdam() {
  return std::make_unique<OptimizerKernel<Optimizer::kAdam>>();
}
std::unique_ptr<Kernel> CreateRefMomentum() {
  return std::make_unique<OptimizerKernel<Optimizer::kMomentum>>();
}

}  // namespace hone::ref
