// Reference pooling kernels.
// ONNX operators: MaxPool (opsets 1-22: auto_pad, pads, strides, ceil_mode from 10, dilations
// from 10, storage_order and the Indices output from 8, int8/uint8 from 12), AveragePool (1-22:
// count_include_pad from 7, ceil_mode from 10, dilations from 19), LpPool (1-22: p is a float
// attribute in opset 1, an int later; ceil_mode and dilations from 18), GlobalAveragePool,
// GlobalMaxPool (1-22), GlobalLpPool (1-22), MaxUnpool (9-22).
// Spatial ranks 1 to 3 are computed as 3-D with leading unit dimensions.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "core/thread_pool.h"
#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

constexpr int kMaxSpatial = 3;
using Dims = std::array<int64_t, kMaxSpatial>;

enum class PoolKind { kMax, kAvg, kLp };

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

struct PoolGeometry {
  Dims in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1}, dil{1, 1, 1};
  Dims pad_begin{0, 0, 0}, pad_end{0, 0, 0};
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
};

template <PoolKind kKind>
class Pool final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const std::string ap = ctx.attr_string("auto_pad", "NOTSET");
    if (ap != "NOTSET" && ap != "SAME_UPPER" && ap != "SAME_LOWER" && ap != "VALID" && !ap.empty())
      return ctx.Invalid("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '{}'", ap);
    auto_pad_ = ap.empty() ? "NOTSET" : ap;
    kernel_shape_ = ctx.attr_ints("kernel_shape");
    if (kernel_shape_.empty()) return ctx.Invalid("attribute kernel_shape is required");
    if (kernel_shape_.size() > kMaxSpatial)
      return NotSupported("{}: {} spatial dimensions (at most {} supported)", ctx.node().Describe(),
                          kernel_shape_.size(), kMaxSpatial);
    const size_t nd = kernel_shape_.size();
    pads_ = ctx.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
    strides_ = ctx.attr_ints("strides", std::vector<int64_t>(nd, 1));
    dilations_ = ctx.attr_ints("dilations", std::vector<int64_t>(nd, 1));
    if (pads_.size() != 2 * nd)
      return ctx.Invalid("pads has {} values, expected {}", pads_.size(), 2 * nd);
    if (strides_.size() != nd)
      return ctx.Invalid("strides has {} values, expected {}", strides_.size(), nd);
    if (dilations_.size() != nd)
      return ctx.Invalid("dilations has {} values, expected {}", dilations_.size(), nd);
    for (size_t i = 0; i < nd; ++i) {
      if (kernel_shape_[i] < 1) return ctx.Invalid("kernel_shape values must be >= 1");
      if (strides_[i] < 1) return ctx.Invalid("strides must be >= 1");
      if (dilations_[i] < 1) return ctx.Invalid("dilations must be >= 1");
      if (pads_[i] < 0 || pads_[i + nd] < 0) return ctx.Invalid("pads must be >= 0");
    }
    ceil_mode_ = ctx.attr_int("ceil_mode", 0) != 0;
    count_include_pad_ = ctx.attr_int("count_include_pad", 0) != 0;
    storage_order_ = ctx.attr_int("storage_order", 0);
    if (storage_order_ != 0 && storage_order_ != 1)
      return ctx.Invalid("storage_order must be 0 or 1, got {}", storage_order_);
    if constexpr (kKind == PoolKind::kLp) {
      const Attribute* a = ctx.node().attr("p");
      if (a != nullptr && a->kind == Attribute::Kind::kFloat) {
        p_ = a->f;
      } else {
        p_ = static_cast<double>(ctx.attr_int("p", 2));
      }
      if (!(p_ > 0)) return ctx.Invalid("p must be > 0, got {}", p_);
    }
    if (kKind != PoolKind::kMax && ctx.num_outputs() > 1)
      return ctx.Invalid("only MaxPool has an Indices output");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("input X is missing");
    const int64_t nd = static_cast<int64_t>(kernel_shape_.size());
    if (x->rank() != nd + 2)
      return ctx.Error("input X rank: expected {} (kernel_shape has {} values), got {}", nd + 2, nd,
                       x->rank());
    PoolGeometry g;
    Shape out_shape{x->dim(0), x->dim(1)};
    const size_t off = static_cast<size_t>(kMaxSpatial - nd);
    for (int64_t d = 0; d < nd; ++d) {
      const size_t i = static_cast<size_t>(d), j = off + i;
      g.in[j] = x->dim(2 + d);
      g.kernel[j] = kernel_shape_[i];
      g.stride[j] = strides_[i];
      g.dil[j] = dilations_[i];
      const int64_t eff = (g.kernel[j] - 1) * g.dil[j] + 1;
      if (auto_pad_ == "SAME_UPPER" || auto_pad_ == "SAME_LOWER") {
        g.out[j] = CeilDiv(g.in[j], g.stride[j]);
        const int64_t total = std::max<int64_t>(0, (g.out[j] - 1) * g.stride[j] + eff - g.in[j]);
        g.pad_begin[j] = auto_pad_ == "SAME_UPPER" ? total / 2 : total - total / 2;
        g.pad_end[j] = total - g.pad_begin[j];
      } else {
        if (auto_pad_ == "NOTSET") {
          g.pad_begin[j] = pads_[i];
          g.pad_end[j] = pads_[i + static_cast<size_t>(nd)];
        }
        const int64_t span = g.in[j] + g.pad_begin[j] + g.pad_end[j] - eff;
        if (span < 0)
          return ctx.Error("kernel extent {} exceeds padded input {} in spatial dim {}", eff,
                           g.in[j] + g.pad_begin[j] + g.pad_end[j], d);
        g.out[j] = (ceil_mode_ ? CeilDiv(span, g.stride[j]) : FloorDiv(span, g.stride[j])) + 1;
        // a window may not start in the end padding
        if (ceil_mode_ && (g.out[j] - 1) * g.stride[j] >= g.in[j] + g.pad_begin[j]) --g.out[j];
      }
      out_shape.push_back(g.out[j]);
    }
    Tensor& y = ctx.Output(0, x->dtype(), out_shape);
    Tensor* indices = nullptr;
    if (ctx.num_outputs() > 1) indices = &ctx.Output(1, DataType::kInt64, out_shape);
    const int64_t planes = x->dim(0) * x->dim(1);
    auto body = [&]<typename T>() -> Status {
      using C = Acc<T>;
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      int64_t* idx_out = indices != nullptr ? indices->data<int64_t>() : nullptr;
      const int64_t in_size = g.in_size(), out_size = g.out_size();
      const int64_t kernel_count = g.kernel[0] * g.kernel[1] * g.kernel[2];
      ctx.pool().ParallelFor(planes, 1, [&](int64_t begin, int64_t end) {
        for (int64_t pl = begin; pl < end; ++pl) {
          const T* xs = src + pl * in_size;
          T* ys = dst + pl * out_size;
          int64_t o = 0;
          for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
            for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
              for (int64_t o2 = 0; o2 < g.out[2]; ++o2, ++o) {
                const int64_t s0 = o0 * g.stride[0] - g.pad_begin[0];
                const int64_t s1 = o1 * g.stride[1] - g.pad_begin[1];
                const int64_t s2 = o2 * g.stride[2] - g.pad_begin[2];
                C best = std::numeric_limits<C>::lowest();
                int64_t best_idx = -1;
                C sum = C(0);
                int64_t count = 0;
                for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
                  const int64_t i0 = s0 + k0 * g.dil[0];
                  if (i0 < -g.pad_begin[0] || i0 >= g.in[0] + g.pad_end[0]) continue;
                  const bool in0 = i0 >= 0 && i0 < g.in[0];
                  for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
                    const int64_t i1 = s1 + k1 * g.dil[1];
                    if (i1 < -g.pad_begin[1] || i1 >= g.in[1] + g.pad_end[1]) continue;
                    const bool in1 = in0 && i1 >= 0 && i1 < g.in[1];
                    for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                      const int64_t i2 = s2 + k2 * g.dil[2];
                      if (i2 < -g.pad_begin[2] || i2 >= g.in[2] + g.pad_end[2]) continue;
                      if (!in1 || i2 < 0 || i2 >= g.in[2]) continue;
                      ++count;
                      const int64_t flat = (i0 * g.in[1] + i1) * g.in[2] + i2;
                      const C v = static_cast<C>(xs[flat]);
                      if constexpr (kKind == PoolKind::kMax) {
                        if (v > best || best_idx < 0) {
                          if (!(v != v)) {  // NaN never wins
                            best = v;
                            best_idx = storage_order_ == 0
                                           ? flat
                                           : i0 + i1 * g.in[0] + i2 * g.in[0] * g.in[1];
                          }
                        }
                      } else if constexpr (kKind == PoolKind::kAvg) {
                        sum += v;
                      } else {
                        const double a = std::fabs(static_cast<double>(v));
                        sum += static_cast<C>(p_ == 2.0 ? a * a : std::pow(a, p_));
                      }
                    }
                  }
                }
                if constexpr (kKind == PoolKind::kMax) {
                  ys[o] = static_cast<T>(best);
                  if (idx_out != nullptr)
                    idx_out[pl * out_size + o] = best_idx < 0 ? -1 : pl * in_size + best_idx;
                } else if constexpr (kKind == PoolKind::kAvg) {
                  // count_include_pad divides by the whole window, also where a ceil_mode window
                  // runs past the end padding (as the ONNX reference does)
                  const int64_t div = count_include_pad_ ? kernel_count : count;
                  ys[o] = static_cast<T>(div > 0 ? sum / static_cast<C>(div) : C(0));
                } else {
                  ys[o] = static_cast<T>(p_ == 2.0 ? std::sqrt(sum) : std::pow(sum, C(1) / p_));
                }
              }
        }
      });
      return Status::Ok();
    };
    if constexpr (kKind == PoolKind::kMax) {
      if (x->dtype() == DataType::kInt8) return body.template operator()<int8_t>();
      if (x->dtype() == DataType::kUInt8) return body.template operator()<uint8_t>();
    }
    return VisitFloat(ctx.node(), x->dtype(), body);
  }

 private:
  std::string auto_pad_;
  Shape kernel_shape_, pads_, strides_, dilations_;
  bool ceil_mode_ = false, count_include_pad_ = false;
  int64_t storage_order_ = 0;
  double p_ = 2.0;
};

template <PoolKind kKind>
class GlobalPool final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if constexpr (kKind == PoolKind::kLp) {
      const Attribute* a = ctx.node().attr("p");
      if (a != nullptr && a->kind == Attribute::Kind::kFloat) {
        p_ = a->f;
      } else {
        p_ = static_cast<double>(ctx.attr_int("p", 2));
      }
      if (!(p_ > 0)) return ctx.Invalid("p must be > 0, got {}", p_);
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("input X is missing");
    if (x->rank() < 2) return ctx.Error("input X rank: expected >= 2, got {}", x->rank());
    Shape out_shape{x->dim(0), x->dim(1)};
    int64_t spatial = 1;
    for (int64_t d = 2; d < x->rank(); ++d) {
      spatial *= x->dim(d);
      out_shape.push_back(1);
    }
    if (spatial == 0) return ctx.Error("input X has an empty spatial extent");
    Tensor& y = ctx.Output(0, x->dtype(), out_shape);
    const int64_t planes = x->dim(0) * x->dim(1);
    return VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() -> Status {
      using C = Acc<T>;
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      ctx.pool().ParallelFor(planes, 16, [&](int64_t begin, int64_t end) {
        for (int64_t pl = begin; pl < end; ++pl) {
          const T* xs = src + pl * spatial;
          if constexpr (kKind == PoolKind::kMax) {
            C best = static_cast<C>(xs[0]);
            for (int64_t i = 1; i < spatial; ++i) {
              const C v = static_cast<C>(xs[i]);
              if (v > best || best != best) best = v;
            }
            dst[pl] = static_cast<T>(best);
          } else if constexpr (kKind == PoolKind::kAvg) {
            C sum = C(0);
            for (int64_t i = 0; i < spatial; ++i) sum += static_cast<C>(xs[i]);
            dst[pl] = static_cast<T>(sum / static_cast<C>(spatial));
          } else {
            double sum = 0;
            for (int64_t i = 0; i < spatial; ++i) {
              const double a = std::fabs(static_cast<double>(static_cast<C>(xs[i])));
              sum += p_ == 2.0 ? a * a : std::pow(a, p_);
            }
            dst[pl] = static_cast<T>(p_ == 2.0 ? std::sqrt(sum) : std::pow(sum, 1.0 / p_));
          }
        }
      });
      return Status::Ok();
    });
  }

 private:
  double p_ = 2.0;
};

// MaxUnpool: scatters X into a zero tensor at the flat positions in I (MaxPool's Indices).
class MaxUnpool final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    kernel_shape_ = ctx.attr_ints("kernel_shape");
    if (kernel_shape_.empty()) return ctx.Invalid("attribute kernel_shape is required");
    const size_t nd = kernel_shape_.size();
    pads_ = ctx.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
    strides_ = ctx.attr_ints("strides", std::vector<int64_t>(nd, 1));
    if (pads_.size() != 2 * nd)
      return ctx.Invalid("pads has {} values, expected {}", pads_.size(), 2 * nd);
    if (strides_.size() != nd)
      return ctx.Invalid("strides has {} values, expected {}", strides_.size(), nd);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* ind = ctx.input(1);
    const Tensor* shape_t = ctx.input(2);
    if (x == nullptr || ind == nullptr) return ctx.Error("expected inputs X and I");
    const int64_t nd = static_cast<int64_t>(kernel_shape_.size());
    if (x->rank() != nd + 2)
      return ctx.Error("input X rank: expected {}, got {}", nd + 2, x->rank());
    if (ind->dtype() != DataType::kInt64 || ind->shape() != x->shape())
      return ctx.Error("input I must be int64 of X's shape {}, got {} {}",
                       ShapeToString(x->shape()), DataTypeName(ind->dtype()),
                       ShapeToString(ind->shape()));
    // Scatter into the inferred shape; an explicit output_shape then holds it at its origin.
    std::vector<int64_t> inferred{x->dim(0), x->dim(1)};
    for (int64_t d = 0; d < nd; ++d) {
      const size_t i = static_cast<size_t>(d);
      inferred.push_back((x->dim(2 + d) - 1) * strides_[i] + kernel_shape_[i] - pads_[i] -
                         pads_[i + static_cast<size_t>(nd)]);
      if (inferred.back() < 0) return ctx.Error("output spatial dim {} would be negative", d);
    }
    Shape out_shape = inferred;
    if (shape_t != nullptr) {
      HONE_ASSIGN_OR_RETURN(out_shape, ToInt64Vector(ctx.node(), *shape_t, "output_shape"));
      if (static_cast<int64_t>(out_shape.size()) != x->rank())
        return ctx.Error("output_shape has {} values, expected {}", out_shape.size(), x->rank());
      for (int64_t v : out_shape)
        if (v < 0) return ctx.Error("output_shape values must be >= 0");
    }
    Tensor& y = ctx.Output(0, x->dtype(), out_shape);
    const int64_t total = ShapeSize(inferred), n = x->numel();
    const int64_t* idx = ind->data<int64_t>();
    for (int64_t i = 0; i < n; ++i)
      if (idx[i] < 0 || idx[i] >= total)
        return ctx.Error("index {} in I is out of range for shape {}", idx[i],
                         ShapeToString(inferred));
    const Shape in_strides = Strides(inferred), out_strides = Strides(out_shape);
    return VisitNumeric(ctx.node(), x->dtype(), [&]<typename T>() -> Status {
      const T* src = x->data<T>();
      T* dst = y.data<T>();
      for (int64_t i = 0; i < n; ++i) {
        int64_t rem = idx[i], off = 0;
        bool inside = true;
        for (size_t d = 0; d < inferred.size(); ++d) {
          const int64_t c = rem / in_strides[d];
          rem %= in_strides[d];
          if (c >= out_shape[d]) inside = false;
          off += c * out_strides[d];
        }
        if (inside) dst[off] = src[i];
      }
      return Status::Ok();
    });
  }

 private:
  Shape kernel_shape_, pads_, strides_;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefMaxPool() { return std::make_unique<Pool<PoolKind::kMax>>(); }
std::unique_ptr<Kernel> CreateRefAveragePool() { return std::make_unique<Pool<PoolKind::kAvg>>(); }
std::unique_ptr<Kernel> CreateRefMaxUnpool() { return std::make_unique<MaxUnpool>(); }
std::unique_ptr<Kernel> CreateRefLpPool() { return std::make_unique<Pool<PoolKind::kLp>>(); }
std::unique_ptr<Kernel> CreateRefGlobalMaxPool() {
  return std::make_unique<GlobalPool<PoolKind::kMax>>();
}
std::unique_ptr<Kernel> CreateRefGlobalAveragePool() {
  return std::make_unique<GlobalPool<PoolKind::kAvg>>();
}
std::unique_ptr<Kernel> CreateRefGlobalLpPool() {
  return std::make_unique<GlobalPool<PoolKind::kLp>>();
}

}  // namespace hone::ref
