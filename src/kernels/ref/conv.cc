// Reference convolution kernels.
// ONNX operators: Conv (opsets 1-22: auto_pad NOTSET/SAME_UPPER/SAME_LOWER/VALID, pads, strides,
// dilations, group incl. depthwise, 1-D/2-D/3-D, optional bias), ConvTranspose (1-22:
// output_padding, output_shape, group, auto_pad, dilations) and ConvInteger (10-22: scalar or
// per-output-channel zero points).
//
// Conv is im2col + the shared scalar GEMM (gemm_ref.h); ConvTranspose is GEMM + col2im.
// Spatial ranks 1 and 2 are computed as 3-D with leading unit dimensions.
#include <algorithm>
#include <array>
#include <string>

#include "kernels/ref/common.h"
#include "kernels/ref/gemm_ref.h"

namespace hone::ref {
namespace {

constexpr int kMaxSpatial = 3;
using Dims = std::array<int64_t, kMaxSpatial>;

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

StatusOr<AutoPad> ParseAutoPad(const InitContext& ctx) {
  const std::string s = ctx.attr_string("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  return ctx.Invalid("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '{}'", s);
}

// Attributes common to Conv and ConvTranspose, read in Init.
struct ConvAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  int64_t group = 1;
  Shape kernel_shape, pads, strides, dilations;

  Status Read(const InitContext& ctx) {
    HONE_ASSIGN_OR_RETURN(auto_pad, ParseAutoPad(ctx));
    group = ctx.attr_int("group", 1);
    kernel_shape = ctx.attr_ints("kernel_shape");
    pads = ctx.attr_ints("pads");
    strides = ctx.attr_ints("strides");
    dilations = ctx.attr_ints("dilations");
    if (group < 1) return ctx.Invalid("group must be >= 1, got {}", group);
    for (int64_t v : kernel_shape)
      if (v < 1) return ctx.Invalid("kernel_shape values must be >= 1");
    for (int64_t v : pads)
      if (v < 0) return ctx.Invalid("pads must be >= 0");
    for (int64_t v : strides)
      if (v < 1) return ctx.Invalid("strides must be >= 1");
    for (int64_t v : dilations)
      if (v < 1) return ctx.Invalid("dilations must be >= 1");
    return Status::Ok();
  }

  // Checks attribute lengths against the spatial rank `nd` and the kernel dims of W.
  Status Check(const ComputeContext& ctx, int64_t nd, const Shape& w_shape) const {
    const size_t n = static_cast<size_t>(nd);
    if (!kernel_shape.empty()) {
      if (kernel_shape.size() != n)
        return ctx.Error("kernel_shape has {} values, expected {}", kernel_shape.size(), nd);
      for (size_t i = 0; i < n; ++i)
        if (kernel_shape[i] != w_shape[i + 2])
          return ctx.Error("kernel_shape {} differs from W's spatial shape {}",
                           ShapeToString(kernel_shape), ShapeToString(w_shape));
    }
    if (!pads.empty() && pads.size() != 2 * n)
      return ctx.Error("pads has {} values, expected {}", pads.size(), 2 * nd);
    if (!strides.empty() && strides.size() != n)
      return ctx.Error("strides has {} values, expected {}", strides.size(), nd);
    if (!dilations.empty() && dilations.size() != n)
      return ctx.Error("dilations has {} values, expected {}", dilations.size(), nd);
    return Status::Ok();
  }
};

// Geometry of one convolution, spatial dims right-aligned into kMaxSpatial (leading dims 1).
struct Geometry {
  Dims in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1}, dil{1, 1, 1}, pad{0, 0, 0};
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
};

// col[(c * kk + kidx) * out_size + o] = x[c, input position of (o, kidx)] or 0 in the padding.
template <typename C>
void Im2Col(ThreadPool& pool, const C* x, int64_t channels, const Geometry& g, C* col) {
  const int64_t kk = g.kernel_size(), in_size = g.in_size(), out_size = g.out_size();
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t c = row / kk;
      int64_t kr = row % kk;
      const int64_t k2 = kr % g.kernel[2];
      kr /= g.kernel[2];
      const int64_t k1 = kr % g.kernel[1];
      const int64_t k0 = kr / g.kernel[1];
      const C* src = x + c * in_size;
      C* dst = col + row * out_size;
      // valid output range along the innermost dim for this kernel offset
      const int64_t off2 = k2 * g.dil[2] - g.pad[2];
      int64_t lo = off2 >= 0 ? 0 : (-off2 + g.stride[2] - 1) / g.stride[2];
      int64_t hi = g.in[2] - off2 <= 0 ? 0 : (g.in[2] - off2 + g.stride[2] - 1) / g.stride[2];
      lo = std::min(lo, g.out[2]);
      hi = std::clamp(hi, lo, g.out[2]);
      for (int64_t o0 = 0; o0 < g.out[0]; ++o0) {
        const int64_t i0 = o0 * g.stride[0] + k0 * g.dil[0] - g.pad[0];
        for (int64_t o1 = 0; o1 < g.out[1]; ++o1, dst += g.out[2]) {
          const int64_t i1 = o1 * g.stride[1] + k1 * g.dil[1] - g.pad[1];
          if (i0 < 0 || i0 >= g.in[0] || i1 < 0 || i1 >= g.in[1]) {
            std::fill_n(dst, g.out[2], C(0));
            continue;
          }
          const C* s = src + (i0 * g.in[1] + i1) * g.in[2] + off2;
          std::fill_n(dst, lo, C(0));
          if (g.stride[2] == 1) {
            std::copy(s + lo, s + hi, dst + lo);
          } else {
            for (int64_t o2 = lo; o2 < hi; ++o2) dst[o2] = s[o2 * g.stride[2]];
          }
          std::fill(dst + hi, dst + g.out[2], C(0));
        }
      }
    }
  };
  const int64_t rows = channels * kk;
  pool.ParallelFor(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(out_size, 1)), body);
}

// Checks X and W against the attributes and fills the geometry; returns Y's shape.
StatusOr<Shape> PlanConv(const ComputeContext& ctx, const ConvAttrs& attrs, const Tensor* x,
                         const Tensor* w, Geometry& g) {
  const int64_t rank = x->rank();
  if (rank < 3 || rank > 2 + kMaxSpatial)
    return ctx.Error("input X rank: expected 3 to 5, got {}", rank);
  if (w->rank() != rank) return ctx.Error("input W rank: expected {}, got {}", rank, w->rank());
  const int64_t nd = rank - 2;
  HONE_RETURN_IF_ERROR(attrs.Check(ctx, nd, w->shape()));
  const int64_t batch = x->dim(0), c_in = x->dim(1), m = w->dim(0);
  const int64_t group = attrs.group;
  if (c_in != w->dim(1) * group)
    return ctx.Error("X has {} channels but W {} with group {} expects {}", c_in,
                     ShapeToString(w->shape()), group, w->dim(1) * group);
  if (m % group != 0)
    return ctx.Error("W has {} output channels, not a multiple of group {}", m, group);
  Shape out_shape{batch, m};
  const size_t off = static_cast<size_t>(kMaxSpatial - nd);
  for (int64_t d = 0; d < nd; ++d) {
    const size_t i = static_cast<size_t>(d), j = off + i;
    g.in[j] = x->dim(2 + d);
    g.kernel[j] = w->dim(2 + d);
    g.stride[j] = attrs.strides.empty() ? 1 : attrs.strides[i];
    g.dil[j] = attrs.dilations.empty() ? 1 : attrs.dilations[i];
    const int64_t eff = (g.kernel[j] - 1) * g.dil[j] + 1;
    int64_t pb = 0, pe = 0;
    switch (attrs.auto_pad) {
      case AutoPad::kNotSet:
        if (!attrs.pads.empty()) {
          pb = attrs.pads[i];
          pe = attrs.pads[i + static_cast<size_t>(nd)];
        }
        g.out[j] = FloorDiv(g.in[j] + pb + pe - eff, g.stride[j]) + 1;
        break;
      case AutoPad::kValid:
        g.out[j] = FloorDiv(g.in[j] - eff, g.stride[j]) + 1;
        break;
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        g.out[j] = (g.in[j] + g.stride[j] - 1) / g.stride[j];
        const int64_t total = std::max<int64_t>(0, (g.out[j] - 1) * g.stride[j] + eff - g.in[j]);
        pb = attrs.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
        break;
      }
    }
    g.pad[j] = pb;
    if (g.out[j] < 1)
      return ctx.Error("output spatial dim {} would be {} (input {}, kernel {}, pads {}+{})", d,
                       g.out[j], g.in[j], eff, pb, pe);
    out_shape.push_back(g.out[j]);
  }
  return out_shape;
}

// y[n, m, :] = sum over the group's channels and kernel taps (no bias), via im2col + GEMM.
template <typename C>
void ConvForward(ThreadPool& pool, const Geometry& g, int64_t batch, int64_t c_in, int64_t m,
                 int64_t group, const C* xp, const C* wp, C* yp) {
  const int64_t cg = c_in / group, mg = m / group, kk = g.kernel_size();
  const int64_t kg = cg * kk, in_size = g.in_size(), out_size = g.out_size();
  const bool pointwise =
      kk == 1 && g.stride == Dims{1, 1, 1} && g.pad == Dims{0, 0, 0} && g.out == g.in;
  std::vector<C> col;
  if (!pointwise) col.resize(static_cast<size_t>(c_in * kk * out_size));
  for (int64_t n = 0; n < batch; ++n) {
    const C* xn = xp + n * c_in * in_size;
    const C* cols = xn;
    if (!pointwise) {
      Im2Col(pool, xn, c_in, g, col.data());
      cols = col.data();
    }
    C* yn = yp + n * m * out_size;
    RunGemms<C>(pool, group, mg, out_size, kg, [&](int64_t gi) {
      GemmOperands<C> op;
      op.a = wp + gi * mg * kg;
      op.a_rs = kg;
      op.a_cs = 1;
      op.b = cols + gi * kg * out_size;
      op.ldb = out_size;
      op.c = yn + gi * mg * out_size;
      op.ldc = out_size;
      return op;
    });
  }
}

class Conv final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override { return attrs_.Read(ctx); }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* b = ctx.input(2);
    if (x == nullptr || w == nullptr) return ctx.Error("expected inputs X and W");
    if (w->dtype() != x->dtype())
      return ctx.Error("input W dtype {} differs from X's {}", DataTypeName(w->dtype()),
                       DataTypeName(x->dtype()));
    Geometry g;
    HONE_ASSIGN_OR_RETURN(Shape out_shape, PlanConv(ctx, attrs_, x, w, g));
    const int64_t batch = x->dim(0), c_in = x->dim(1), m = w->dim(0);
    if (b != nullptr && (b->dtype() != x->dtype() || b->numel() != m))
      return ctx.Error("input B: expected {} elements of {}, got shape {} of {}", m,
                       DataTypeName(x->dtype()), ShapeToString(b->shape()),
                       DataTypeName(b->dtype()));
    const int64_t out_size = g.out_size();
    Tensor& y = ctx.Output(0, x->dtype(), out_shape);
    auto body = [&]<typename T>() -> Status {
      using C = Acc<T>;
      std::vector<C> sx, sw, sy;
      const C* xp = AsCompute<T>(x->data<T>(), x->numel(), sx);
      const C* wp = AsCompute<T>(w->data<T>(), w->numel(), sw);
      C* yp = nullptr;
      if constexpr (std::is_same_v<T, C>) {
        yp = y.data<T>();
      } else {
        sy.resize(static_cast<size_t>(y.numel()));
        yp = sy.data();
      }
      ConvForward<C>(ctx.pool(), g, batch, c_in, m, attrs_.group, xp, wp, yp);
      const T* bias = b != nullptr ? b->data<T>() : nullptr;
      T* dst = y.data<T>();
      ctx.pool().ParallelFor(batch * m, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const C bv = bias != nullptr ? static_cast<C>(bias[r % m]) : C(0);
          C* row = yp + r * out_size;
          T* drow = dst + r * out_size;
          if constexpr (std::is_same_v<T, C>) {
            if (bias != nullptr)
              for (int64_t i = 0; i < out_size; ++i) row[i] += bv;
          } else {
            for (int64_t i = 0; i < out_size; ++i) drow[i] = static_cast<T>(row[i] + bv);
          }
        }
      });
      return Status::Ok();
    };
    return VisitFloat(ctx.node(), x->dtype(), body);
  }

 private:
  ConvAttrs attrs_;
};

class ConvInteger final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override { return attrs_.Read(ctx); }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    if (x == nullptr || w == nullptr) return ctx.Error("expected inputs x and w");
    Geometry g;
    HONE_ASSIGN_OR_RETURN(Shape out_shape, PlanConv(ctx, attrs_, x, w, g));
    const int64_t m = w->dim(0);
    std::vector<int32_t> x32, w32;
    HONE_RETURN_IF_ERROR(Widen(ctx, *x, ctx.input(2), 1, x32, "x"));
    HONE_RETURN_IF_ERROR(Widen(ctx, *w, ctx.input(3), m, w32, "w"));
    Tensor& y = ctx.Output(0, DataType::kInt32, out_shape);
    ConvForward<int32_t>(ctx.pool(), g, x->dim(0), x->dim(1), m, attrs_.group, x32.data(),
                         w32.data(), y.data<int32_t>());
    return Status::Ok();
  }

 private:
  // t - zero_point as int32; the zero point is a scalar or has one value per leading-dim slice
  // (`per` = number of slices, i.e. W's output channels).
  static Status Widen(const ComputeContext& ctx, const Tensor& t, const Tensor* zp, int64_t per,
                      std::vector<int32_t>& out, const char* what) {
    if (t.dtype() != DataType::kUInt8 && t.dtype() != DataType::kInt8)
      return ctx.Error("input {} must be uint8 or int8, got {}", what, DataTypeName(t.dtype()));
    auto get = [](const Tensor& v, int64_t i) -> int32_t {
      return v.dtype() == DataType::kUInt8 ? v.data<uint8_t>()[i] : v.data<int8_t>()[i];
    };
    const int64_t n = t.numel();
    int64_t zn = 0;
    if (zp != nullptr) {
      if (zp->dtype() != t.dtype())
        return ctx.Error("zero point of {} must be {}, got {}", what, DataTypeName(t.dtype()),
                         DataTypeName(zp->dtype()));
      zn = zp->numel();
      if (zn != 1 && zn != per)
        return ctx.Error("zero point of {}: expected 1 or {} values, got {}", what, per, zn);
    }
    const int64_t slice = per > 0 ? n / per : n;
    out.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      int32_t z = 0;
      if (zn == 1) z = get(*zp, 0);
      if (zn > 1) z = get(*zp, i / slice);
      out[static_cast<size_t>(i)] = get(t, i) - z;
    }
    return Status::Ok();
  }

  ConvAttrs attrs_;
};

class ConvTranspose final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    HONE_RETURN_IF_ERROR(attrs_.Read(ctx));
    output_padding_ = ctx.attr_ints("output_padding");
    output_shape_ = ctx.attr_ints("output_shape");
    for (int64_t v : output_padding_)
      if (v < 0) return ctx.Invalid("output_padding must be >= 0");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* b = ctx.input(2);
    if (x == nullptr || w == nullptr) return ctx.Error("expected inputs X and W");
    const int64_t rank = x->rank();
    if (rank < 3 || rank > 2 + kMaxSpatial)
      return ctx.Error("input X rank: expected 3 to 5, got {}", rank);
    if (w->rank() != rank) return ctx.Error("input W rank: expected {}, got {}", rank, w->rank());
    if (w->dtype() != x->dtype())
      return ctx.Error("input W dtype {} differs from X's {}", DataTypeName(w->dtype()),
                       DataTypeName(x->dtype()));
    const int64_t nd = rank - 2;
    HONE_RETURN_IF_ERROR(attrs_.Check(ctx, nd, w->shape()));
    const int64_t group = attrs_.group;
    const int64_t batch = x->dim(0), c_in = x->dim(1);
    if (w->dim(0) != c_in)
      return ctx.Error("W {} must have X's {} input channels first", ShapeToString(w->shape()),
                       c_in);
    if (c_in % group != 0)
      return ctx.Error("X has {} channels, not a multiple of group {}", c_in, group);
    const int64_t mg = w->dim(1), m = mg * group;
    if (b != nullptr && (b->dtype() != x->dtype() || b->numel() != m))
      return ctx.Error("input B: expected {} elements, got shape {}", m, ShapeToString(b->shape()));
    if (!output_padding_.empty() && static_cast<int64_t>(output_padding_.size()) != nd)
      return ctx.Error("output_padding has {} values, expected {}", output_padding_.size(), nd);
    Shape want_shape = output_shape_;
    if (static_cast<int64_t>(want_shape.size()) == nd + 2)
      want_shape.erase(want_shape.begin(), want_shape.begin() + 2);
    if (!want_shape.empty() && static_cast<int64_t>(want_shape.size()) != nd)
      return ctx.Error("output_shape has {} values, expected {}", output_shape_.size(), nd);
    Geometry g;  // in = ConvTranspose output (the col2im target), out = X's spatial dims
    Shape out_shape{batch, m};
    const size_t off = static_cast<size_t>(kMaxSpatial - nd);
    for (int64_t d = 0; d < nd; ++d) {
      const size_t i = static_cast<size_t>(d), j = off + i;
      const int64_t in = x->dim(2 + d);
      g.out[j] = in;
      g.kernel[j] = w->dim(2 + d);
      g.stride[j] = attrs_.strides.empty() ? 1 : attrs_.strides[i];
      g.dil[j] = attrs_.dilations.empty() ? 1 : attrs_.dilations[i];
      const int64_t opad = output_padding_.empty() ? 0 : output_padding_[i];
      const int64_t eff = (g.kernel[j] - 1) * g.dil[j] + 1;
      const int64_t full = g.stride[j] * (in - 1) + opad + eff;
      int64_t pb = 0, size = 0;
      const bool same =
          attrs_.auto_pad == AutoPad::kSameUpper || attrs_.auto_pad == AutoPad::kSameLower;
      if (!want_shape.empty() || same) {
        size = !want_shape.empty() ? want_shape[i] : in * g.stride[j];
        const int64_t total = full - size;
        pb = attrs_.auto_pad == AutoPad::kSameUpper ? FloorDiv(total, 2)
                                                    : total - FloorDiv(total, 2);
      } else {
        int64_t pe = 0;
        if (attrs_.auto_pad == AutoPad::kNotSet && !attrs_.pads.empty()) {
          pb = attrs_.pads[i];
          pe = attrs_.pads[i + static_cast<size_t>(nd)];
        }
        size = full - pb - pe;
      }
      if (size < 1) return ctx.Error("output spatial dim {} would be {}", d, size);
      g.in[j] = size;
      g.pad[j] = pb;
      out_shape.push_back(size);
    }
    Tensor& y = ctx.Output(0, x->dtype(), out_shape);
    auto body = [&]<typename T>() -> Status {
      using C = Acc<T>;
      std::vector<C> sx, sw;
      const C* xp = AsCompute<T>(x->data<T>(), x->numel(), sx);
      const C* wp = AsCompute<T>(w->data<T>(), w->numel(), sw);
      std::vector<C> yacc(static_cast<size_t>(y.numel()), C(0));
      const int64_t cg = c_in / group, kk = g.kernel_size();
      const int64_t rows = mg * kk, x_size = g.out_size(), y_size = g.in_size();
      std::vector<C> col(static_cast<size_t>(group * rows * x_size));
      for (int64_t n = 0; n < batch; ++n) {
        const C* xn = xp + n * c_in * x_size;
        // col_g[rows, x_size] = W_g^T[rows, cg] * X_g[cg, x_size]
        RunGemms<C>(ctx.pool(), group, rows, x_size, cg, [&](int64_t gi) {
          GemmOperands<C> op;
          op.a = wp + gi * cg * rows;
          op.a_rs = 1;
          op.a_cs = rows;
          op.b = xn + gi * cg * x_size;
          op.ldb = x_size;
          op.c = col.data() + gi * rows * x_size;
          op.ldc = x_size;
          return op;
        });
        // col2im: each output channel gathers its own rows
        ctx.pool().ParallelFor(m, 1, [&](int64_t begin, int64_t end) {
          for (int64_t oc = begin; oc < end; ++oc) {
            C* dst = yacc.data() + (n * m + oc) * y_size;
            for (int64_t kidx = 0; kidx < kk; ++kidx) {
              const int64_t k2 = kidx % g.kernel[2], k1 = (kidx / g.kernel[2]) % g.kernel[1],
                            k0 = kidx / (g.kernel[2] * g.kernel[1]);
              const C* src = col.data() + (oc * kk + kidx) * x_size;
              for (int64_t i0 = 0; i0 < g.out[0]; ++i0) {
                const int64_t o0 = i0 * g.stride[0] + k0 * g.dil[0] - g.pad[0];
                if (o0 < 0 || o0 >= g.in[0]) continue;
                for (int64_t i1 = 0; i1 < g.out[1]; ++i1) {
                  const int64_t o1 = i1 * g.stride[1] + k1 * g.dil[1] - g.pad[1];
                  if (o1 < 0 || o1 >= g.in[1]) continue;
                  const C* s = src + (i0 * g.out[1] + i1) * g.out[2];
                  C* drow = dst + (o0 * g.in[1] + o1) * g.in[2];
                  for (int64_t i2 = 0; i2 < g.out[2]; ++i2) {
                    const int64_t o2 = i2 * g.stride[2] + k2 * g.dil[2] - g.pad[2];
                    if (o2 >= 0 && o2 < g.in[2]) drow[o2] += s[i2];
                  }
                }
              }
            }
          }
        });
      }
      const T* bias = b != nullptr ? b->data<T>() : nullptr;
      T* out = y.data<T>();
      for (int64_t r = 0; r < batch * m; ++r) {
        const C bv = bias != nullptr ? static_cast<C>(bias[r % m]) : C(0);
        for (int64_t i = 0; i < y_size; ++i)
          out[r * y_size + i] = static_cast<T>(yacc[static_cast<size_t>(r * y_size + i)] + bv);
      }
      return Status::Ok();
    };
    return VisitFloat(ctx.node(), x->dtype(), body);
  }

 private:
  ConvAttrs attrs_;
  Shape output_padding_, output_shape_;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefConv() { return std::make_unique<Conv>(); }
std::unique_ptr<Kernel> CreateRefConvTranspose() { return std::make_unique<ConvTranspose>(); }
std::unique_ptr<Kernel> CreateRefConvInteger() { return std::make_unique<ConvInteger>(); }

}  // namespace hone::ref
