// Reference image-sampling and patch kernels.
// ONNX operators: GridSample (opsets 16-22: modes bilinear/nearest/bicubic in 16, linear/nearest/
// cubic from 20, padding_mode zeros/border/reflection, align_corners; N-D spatial inputs, which
// opset 20 made official), AffineGrid (20-22, 2-D and 3-D), Col2Im (18-22, N-D), CenterCropPad
// (18-22), DeformConv (19-22, N-D, optional bias and mask, group and offset_group).
// Interpolation follows the ONNX reference implementation (onnx/reference/ops) literally; nearest
// mode rounds half to even in every rank (the backend test data for 3-D was generated that way,
// although the current reference rounds half away from zero in 3-D). Arithmetic is in double.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

// Reads a numeric tensor of any dtype into doubles.
Status ReadNumeric(const ComputeContext& ctx, const Tensor& t, std::vector<double>& out) {
  out.resize(static_cast<size_t>(t.numel()));
  return VisitNumeric(ctx.node(), t.dtype(), [&]<typename T>() {
    const T* p = t.data<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(static_cast<Acc<T>>(p[i]));
    return Status::Ok();
  });
}

// Writes doubles as output `i` with dtype `dt`.
Status WriteOutput(ComputeContext& ctx, int i, DataType dt, Shape shape,
                   const std::vector<double>& v) {
  Tensor& y = ctx.Output(i, dt, std::move(shape));
  return VisitNumeric(ctx.node(), dt, [&]<typename T>() {
    T* dst = y.data<T>();
    for (size_t k = 0; k < v.size(); ++k) dst[k] = static_cast<T>(static_cast<Acc<T>>(v[k]));
    return Status::Ok();
  });
}

// Advances a row-major multi-index over `shape`; returns false after the last one.
template <typename Index>
bool NextIndex(Index& idx, const Shape& shape) {
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    const size_t u = static_cast<size_t>(d);
    if (++idx[u] < shape[u]) return true;
    idx[u] = 0;
  }
  return false;
}

// Converts a sampling coordinate to an integer index without undefined behaviour: NaN and values
// far outside any tensor map to a large negative / positive index (which then reads padding).
int64_t ToIndex(double v) {
  constexpr double kFar = 1e15;
  if (!(v > -kFar)) return static_cast<int64_t>(-kFar);
  if (v > kFar) return static_cast<int64_t>(kFar);
  return static_cast<int64_t>(v);
}

// ---------------------------------------------------------------------------------------------
// GridSample

enum class GsMode { kLinear, kNearest, kCubic };
enum class GsPadding { kZeros, kBorder, kReflection };

// Reflects x by the nearer border until it lies in [lo, hi].
double GsReflect(double x, double lo, double hi) {
  const double rng = hi - lo;
  if (rng <= 0 || !std::isfinite(x)) return lo;
  if (x < lo) {
    const double dx = lo - x;
    const double n = std::floor(dx / rng);  // int() of a non-negative value
    const double r = dx - n * rng;
    return std::fmod(n, 2.0) == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const double dx = x - hi;
    const double n = std::floor(dx / rng);
    const double r = dx - n * rng;
    return std::fmod(n, 2.0) == 0 ? hi - r : lo + r;
  }
  return x;
}

void CubicCoeffs(double x, double c[4]) {
  constexpr double kA = -0.75;
  x = std::abs(x);
  c[0] = ((kA * (x + 1) - 5 * kA) * (x + 1) + 8 * kA) * (x + 1) - 4 * kA;
  c[1] = ((kA + 2) * x - (kA + 3)) * x * x + 1;
  c[2] = ((kA + 2) * (1 - x) - (kA + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((kA * (2 - x) - 5 * kA) * (2 - x) + 8 * kA) * (2 - x) - 4 * kA;
}

class GridSample final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const std::string mode = ctx.attr_string("mode", ctx.opset() >= 20 ? "linear" : "bilinear");
    if (mode == "bilinear" || mode == "linear") {
      mode_ = GsMode::kLinear;
    } else if (mode == "nearest") {
      mode_ = GsMode::kNearest;
    } else if (mode == "bicubic" || mode == "cubic") {
      mode_ = GsMode::kCubic;
    } else {
      return ctx.Invalid("attribute mode: expected linear, nearest or cubic, got '{}'", mode);
    }
    const std::string pad = ctx.attr_string("padding_mode", "zeros");
    if (pad == "zeros") {
      padding_ = GsPadding::kZeros;
    } else if (pad == "border") {
      padding_ = GsPadding::kBorder;
    } else if (pad == "reflection") {
      padding_ = GsPadding::kReflection;
    } else {
      return ctx.Invalid("attribute padding_mode: expected zeros, border or reflection, got '{}'",
                         pad);
    }
    align_corners_ = ctx.attr_int("align_corners", 0) != 0;
    if (ctx.num_inputs() < 2) return ctx.Invalid("expected 2 inputs, got {}", ctx.num_inputs());
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* grid = ctx.input(1);
    if (x == nullptr || grid == nullptr) return ctx.Error("inputs X and grid are required");
    const int64_t r = x->rank() - 2;
    if (r < 1) return ctx.Error("input X rank: expected >= 3, got {}", x->rank());
    if (grid->rank() != r + 2 || grid->dim(0) != x->dim(0) || grid->dim(r + 1) != r)
      return ctx.Error("grid shape: expected [{}, ..., {}] of rank {}, got {}", x->dim(0), r, r + 2,
                       ShapeToString(grid->shape()));
    const int64_t n = x->dim(0), c = x->dim(1);
    Shape in_dims(x->shape().begin() + 2, x->shape().end());
    Shape out_dims(grid->shape().begin() + 1, grid->shape().end() - 1);
    Shape y_shape = {n, c};
    y_shape.insert(y_shape.end(), out_dims.begin(), out_dims.end());
    std::vector<double> xs, gs;
    HONE_RETURN_IF_ERROR(ReadNumeric(ctx, *x, xs));
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *grid, gs));
    const int64_t in_size = ShapeSize(in_dims), out_size = ShapeSize(out_dims);
    if (in_size == 0 && n * c * out_size != 0)
      return ctx.Error("input X has an empty spatial shape {}", ShapeToString(x->shape()));
    const size_t ur = static_cast<size_t>(r);
    std::vector<double> lo(ur), hi(ur);
    for (size_t i = 0; i < ur; ++i) {
      lo[i] = align_corners_ ? 0.0 : -0.5;
      hi[i] = align_corners_ ? static_cast<double>(in_dims[i]) - 1 : in_dims[i] - 0.5;
    }
    const Shape in_strides = Strides(in_dims);
    const bool grid_f32 = grid->dtype() == DataType::kFloat32;
    std::vector<double> y(static_cast<size_t>(n * c * out_size));
    // Per output point: the taps (offset into one X channel, or -1 for a zero) and weights.
    const int taps_per_dim = mode_ == GsMode::kLinear ? 2 : mode_ == GsMode::kCubic ? 4 : 1;
    std::vector<std::vector<int64_t>> dim_idx(ur, std::vector<int64_t>(4));
    std::vector<std::vector<double>> dim_w(ur, std::vector<double>(4));
    std::vector<double> pos(ur);
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t o = 0; o < out_size; ++o) {
        const double* g = gs.data() + (b * out_size + o) * r;
        // grid's last axis lists (x, y, z, ...): reversed against the spatial dims
        for (size_t i = 0; i < ur; ++i) {
          const double len = static_cast<double>(in_dims[i]);
          double v = g[ur - 1 - i];
          if (grid_f32) {
            const float fv = static_cast<float>(v), fl = static_cast<float>(len);
            v = align_corners_ ? (fv + 1.0f) / 2.0f * (fl - 1.0f)
                               : ((fv + 1.0f) * fl - 1.0f) / 2.0f;
          } else {
            v = align_corners_ ? (v + 1) / 2.0 * (len - 1) : ((v + 1) * len - 1) / 2.0;
          }
          pos[i] = v;
        }
        if (mode_ == GsMode::kNearest) {
          for (size_t i = 0; i < ur; ++i) pos[i] = std::nearbyint(pos[i]);
        }
        for (size_t i = 0; i < ur; ++i) {
          if (pos[i] < lo[i] || pos[i] > hi[i]) {
            if (padding_ == GsPadding::kBorder)
              pos[i] = std::clamp(pos[i], 0.0, static_cast<double>(in_dims[i]) - 1);
            else if (padding_ == GsPadding::kReflection)
              pos[i] = GsReflect(pos[i], lo[i], hi[i]);
          }
        }
        for (size_t i = 0; i < ur; ++i) {
          if (mode_ == GsMode::kNearest) {
            dim_idx[i][0] = ToIndex(pos[i]);  // truncation, as astype(int32)
            dim_w[i][0] = 1;
          } else {
            const double f = std::floor(pos[i]);
            const int64_t i0 = ToIndex(f);
            if (mode_ == GsMode::kLinear) {
              const double t = std::abs(pos[i] - f);
              dim_idx[i][0] = i0;
              dim_idx[i][1] = i0 + 1;
              dim_w[i][0] = 1 - t;
              dim_w[i][1] = t;
            } else {
              double cc[4];
              CubicCoeffs(pos[i] - f, cc);
              for (int k = 0; k < 4; ++k) {
                dim_idx[i][static_cast<size_t>(k)] = i0 - 1 + k;
                dim_w[i][static_cast<size_t>(k)] = cc[k];
              }
            }
          }
          // map each tap index through the padding mode (-1: reads zero)
          for (int k = 0; k < taps_per_dim; ++k) {
            int64_t& ix = dim_idx[i][static_cast<size_t>(k)];
            const int64_t d = in_dims[i];
            if (padding_ == GsPadding::kZeros) {
              if (ix < 0 || ix >= d) ix = -1;
            } else if (padding_ == GsPadding::kBorder) {
              ix = std::clamp<int64_t>(ix, 0, d - 1);
            } else {
              ix = static_cast<int64_t>(GsReflect(static_cast<double>(ix), lo[i], hi[i]));
              ix = std::clamp<int64_t>(ix, 0, d - 1);
            }
          }
        }
        // sum over all tap combinations
        std::vector<int64_t> tap(ur, 0);
        Shape tap_shape(ur, taps_per_dim);
        for (int64_t ch = 0; ch < c; ++ch) {
          const double* src = xs.data() + (b * c + ch) * in_size;
          double acc = 0;
          std::fill(tap.begin(), tap.end(), 0);
          do {
            double w = 1;
            int64_t off = 0;
            bool zero = false;
            for (size_t i = 0; i < ur; ++i) {
              const size_t k = static_cast<size_t>(tap[i]);
              const int64_t ix = dim_idx[i][k];
              if (ix < 0) {
                zero = true;
                break;
              }
              w *= dim_w[i][k];
              off += ix * in_strides[i];
            }
            if (!zero) acc += w * src[off];
          } while (NextIndex(tap, tap_shape));
          y[static_cast<size_t>((b * c + ch) * out_size + o)] = acc;
        }
      }
    }
    return WriteOutput(ctx, 0, x->dtype(), y_shape, y);
  }

 private:
  GsMode mode_ = GsMode::kLinear;
  GsPadding padding_ = GsPadding::kZeros;
  bool align_corners_ = false;
};

// ---------------------------------------------------------------------------------------------
// AffineGrid

class AffineGrid final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    align_corners_ = ctx.attr_int("align_corners", 0) != 0;
    if (ctx.num_inputs() < 2) return ctx.Invalid("expected 2 inputs, got {}", ctx.num_inputs());
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* theta = ctx.input(0);
    const Tensor* size_in = ctx.input(1);
    if (theta == nullptr || size_in == nullptr)
      return ctx.Error("inputs theta and size are required");
    HONE_ASSIGN_OR_RETURN(std::vector<int64_t> size, ToInt64Vector(ctx.node(), *size_in, "size"));
    if (size.size() != 4 && size.size() != 5)
      return ctx.Error("size: expected 4 or 5 values, got {}", size.size());
    const int64_t nd = static_cast<int64_t>(size.size()) - 2;  // 2 or 3 spatial dims
    const int64_t n = size[0];
    if (theta->rank() != 3 || theta->dim(0) != n || theta->dim(1) != nd || theta->dim(2) != nd + 1)
      return ctx.Error("theta shape: expected [{}, {}, {}], got {}", n, nd, nd + 1,
                       ShapeToString(theta->shape()));
    std::vector<int64_t> sp(size.begin() + 2, size.end());
    for (int64_t v : sp)
      if (v < 0) return ctx.Error("size values must be >= 0, got {}", ShapeToString(size));
    std::vector<double> th;
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *theta, th));
    // base coordinate of index i along a dim of length len
    auto coord = [&](int64_t i, int64_t len) -> double {
      if (align_corners_) return len <= 1 ? -1.0 : -1.0 + 2.0 * static_cast<double>(i) / (len - 1);
      return (2.0 * static_cast<double>(i) + 1.0) / static_cast<double>(len) - 1.0;
    };
    Shape out_shape = {n};
    out_shape.insert(out_shape.end(), sp.begin(), sp.end());
    out_shape.push_back(nd);
    const int64_t points = ShapeSize(sp);
    std::vector<double> y(static_cast<size_t>(n * points * nd));
    std::vector<int64_t> idx(sp.size(), 0);
    std::vector<double> base(static_cast<size_t>(nd + 1));
    for (int64_t p = 0; p < points; ++p) {
      // homogeneous base point (x, y[, z], 1): x runs along the last spatial dim
      for (int64_t k = 0; k < nd; ++k) {
        const size_t dim = static_cast<size_t>(nd - 1 - k);
        base[static_cast<size_t>(k)] = coord(idx[dim], sp[dim]);
      }
      base[static_cast<size_t>(nd)] = 1.0;
      for (int64_t b = 0; b < n; ++b) {
        for (int64_t k = 0; k < nd; ++k) {
          double s = 0;
          for (int64_t j = 0; j <= nd; ++j)
            s +=
                th[static_cast<size_t>((b * nd + k) * (nd + 1) + j)] * base[static_cast<size_t>(j)];
          y[static_cast<size_t>((b * points + p) * nd + k)] = s;
        }
      }
      if (points > 0) NextIndex(idx, sp);
    }
    return WriteOutput(ctx, 0, theta->dtype(), out_shape, y);
  }

 private:
  bool align_corners_ = false;
};

// ---------------------------------------------------------------------------------------------
// Col2Im

class Col2Im final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    dilations_ = ctx.attr_ints("dilations");
    pads_ = ctx.attr_ints("pads");
    strides_ = ctx.attr_ints("strides");
    for (int64_t v : dilations_)
      if (v < 1) return ctx.Invalid("dilations must be >= 1");
    for (int64_t v : strides_)
      if (v < 1) return ctx.Invalid("strides must be >= 1");
    for (int64_t v : pads_)
      if (v < 0) return ctx.Invalid("pads must be >= 0");
    if (ctx.num_inputs() < 3) return ctx.Invalid("expected 3 inputs, got {}", ctx.num_inputs());
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr || ctx.input(1) == nullptr || ctx.input(2) == nullptr)
      return ctx.Error("inputs input, image_shape and block_shape are required");
    HONE_ASSIGN_OR_RETURN(std::vector<int64_t> image,
                          ToInt64Vector(ctx.node(), *ctx.input(1), "image_shape"));
    HONE_ASSIGN_OR_RETURN(std::vector<int64_t> block,
                          ToInt64Vector(ctx.node(), *ctx.input(2), "block_shape"));
    const size_t nd = image.size();
    if (nd == 0 || block.size() != nd)
      return ctx.Error(
          "image_shape and block_shape must have the same non-zero length, got {} and {}", nd,
          block.size());
    std::vector<int64_t> dil = dilations_.empty() ? std::vector<int64_t>(nd, 1) : dilations_;
    std::vector<int64_t> str = strides_.empty() ? std::vector<int64_t>(nd, 1) : strides_;
    std::vector<int64_t> pads = pads_.empty() ? std::vector<int64_t>(2 * nd, 0) : pads_;
    if (dil.size() != nd || str.size() != nd || pads.size() != 2 * nd)
      return ctx.Error("dilations, strides and pads must have {}, {} and {} values", nd, nd,
                       2 * nd);
    for (size_t i = 0; i < nd; ++i)
      if (image[i] < 0 || block[i] < 1)
        return ctx.Error("image_shape must be >= 0 and block_shape >= 1, got {} and {}",
                         ShapeToString(image), ShapeToString(block));
    // sliding-block counts per dim
    std::vector<int64_t> blocks(nd);
    for (size_t i = 0; i < nd; ++i) {
      const int64_t span = dil[i] * (block[i] - 1) + 1;
      const int64_t room = image[i] + pads[i] + pads[i + nd] - span;
      blocks[i] = room < 0 ? 0 : room / str[i] + 1;
    }
    const int64_t kb = ShapeSize(block), l = ShapeSize(blocks);
    if (x->rank() != 3 || x->dim(1) % kb != 0 || x->dim(2) != l)
      return ctx.Error("input shape: expected [N, C * {}, {}], got {}", kb, l,
                       ShapeToString(x->shape()));
    const int64_t n = x->dim(0), c = x->dim(1) / kb;
    std::vector<double> xs;
    HONE_RETURN_IF_ERROR(ReadNumeric(ctx, *x, xs));
    const int64_t img_size = ShapeSize(image);
    std::vector<double> y(static_cast<size_t>(n * c * img_size), 0.0);
    const std::vector<int64_t> img_strides = Strides(image);
    std::vector<int64_t> k_idx(nd), l_idx(nd);
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        double* dst = y.data() + (b * c + ch) * img_size;
        std::fill(k_idx.begin(), k_idx.end(), 0);
        for (int64_t k = 0; k < kb; ++k) {
          const double* src = xs.data() + ((b * c + ch) * kb + k) * l;
          std::fill(l_idx.begin(), l_idx.end(), 0);
          for (int64_t j = 0; j < l; ++j) {
            int64_t off = 0;
            bool inside = true;
            for (size_t i = 0; i < nd; ++i) {
              const int64_t p = l_idx[i] * str[i] - pads[i] + k_idx[i] * dil[i];
              if (p < 0 || p >= image[i]) {
                inside = false;
                break;
              }
              off += p * img_strides[i];
            }
            if (inside) dst[off] += src[j];
            NextIndex(l_idx, blocks);
          }
          NextIndex(k_idx, block);
        }
      }
    }
    Shape out_shape = {n, c};
    out_shape.insert(out_shape.end(), image.begin(), image.end());
    return WriteOutput(ctx, 0, x->dtype(), out_shape, y);
  }

 private:
  std::vector<int64_t> dilations_, pads_, strides_;
};

// ---------------------------------------------------------------------------------------------
// CenterCropPad

class CenterCropPad final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axes_ = ctx.attr_ints("axes");
    if (ctx.num_inputs() < 2) return ctx.Invalid("expected 2 inputs, got {}", ctx.num_inputs());
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr || ctx.input(1) == nullptr)
      return ctx.Error("inputs input_data and shape are required");
    HONE_ASSIGN_OR_RETURN(Shape shape, ToInt64Vector(ctx.node(), *ctx.input(1), "shape"));
    const int64_t rank = x->rank();
    std::vector<int64_t> axes;
    if (axes_.empty()) {
      for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
    } else {
      for (int64_t a : axes_) {
        HONE_ASSIGN_OR_RETURN(int64_t na, NormalizeAxis(ctx.node(), a, rank));
        if (std::find(axes.begin(), axes.end(), na) != axes.end())
          return ctx.Error("axes contains axis {} twice", na);
        axes.push_back(na);
      }
    }
    if (shape.size() != axes.size())
      return ctx.Error("shape has {} values, expected {} (one per axis)", shape.size(),
                       axes.size());
    Shape out_shape = x->shape();
    // per axis: output index o reads input index o + delta (crop: +start, pad: -start)
    std::vector<int64_t> delta(static_cast<size_t>(rank), 0);
    for (size_t k = 0; k < axes.size(); ++k) {
      const size_t a = static_cast<size_t>(axes[k]);
      const int64_t want = shape[k], dim = x->dim(axes[k]);
      if (want < 0) return ctx.Error("shape values must be >= 0, got {}", want);
      out_shape[a] = want;
      delta[a] = want <= dim ? (dim - want) / 2 : -((want - dim) / 2);
    }
    Tensor& y = ctx.Output(0, x->dtype(), out_shape);
    const int64_t total = ShapeSize(out_shape);
    if (total == 0 || x->numel() == 0) return Status::Ok();
    const Shape in_strides = Strides(x->shape());
    const size_t es = DataTypeSize(x->dtype());
    const bool strings = x->dtype() == DataType::kString;
    if (!strings && es == 0)
      return NotSupported("{}: data type {} is not supported", ctx.node().Describe(),
                          DataTypeName(x->dtype()));
    std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
    for (int64_t o = 0; o < total; ++o) {
      int64_t off = 0;
      bool inside = true;
      for (size_t d = 0; d < idx.size(); ++d) {
        const int64_t i = idx[d] + delta[d];
        if (i < 0 || i >= x->dim(static_cast<int64_t>(d))) {
          inside = false;
          break;
        }
        off += i * in_strides[d];
      }
      if (inside) {
        if (strings) {
          CopyElements(*x, off, y, o, 1);
        } else {
          std::memcpy(static_cast<char*>(y.raw_data()) + o * static_cast<int64_t>(es),
                      static_cast<const char*>(x->raw_data()) + off * static_cast<int64_t>(es), es);
        }
      }
      NextIndex(idx, out_shape);
    }
    return Status::Ok();
  }

 private:
  std::vector<int64_t> axes_;
};

// ---------------------------------------------------------------------------------------------
// DeformConv

class DeformConv final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    dilations_ = ctx.attr_ints("dilations");
    pads_ = ctx.attr_ints("pads");
    strides_ = ctx.attr_ints("strides");
    kernel_shape_ = ctx.attr_ints("kernel_shape");
    group_ = ctx.attr_int("group", 1);
    offset_group_ = ctx.attr_int("offset_group", 1);
    if (group_ < 1) return ctx.Invalid("group must be >= 1, got {}", group_);
    if (offset_group_ < 1) return ctx.Invalid("offset_group must be >= 1, got {}", offset_group_);
    for (int64_t v : dilations_)
      if (v < 1) return ctx.Invalid("dilations must be >= 1");
    for (int64_t v : strides_)
      if (v < 1) return ctx.Invalid("strides must be >= 1");
    for (int64_t v : pads_)
      if (v < 0) return ctx.Invalid("pads must be >= 0");
    for (int64_t v : kernel_shape_)
      if (v < 1) return ctx.Invalid("kernel_shape values must be >= 1");
    if (ctx.num_inputs() < 3) return ctx.Invalid("expected >= 3 inputs, got {}", ctx.num_inputs());
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* offset = ctx.input(2);
    const Tensor* bias = ctx.input(3);
    const Tensor* mask = ctx.input(4);
    if (x == nullptr || w == nullptr || offset == nullptr)
      return ctx.Error("inputs X, W and offset are required");
    const int64_t nd = x->rank() - 2;
    if (nd < 1) return ctx.Error("input X rank: expected >= 3, got {}", x->rank());
    const size_t und = static_cast<size_t>(nd);
    if (w->rank() != x->rank())
      return ctx.Error("W rank: expected {}, got {}", x->rank(), w->rank());
    const int64_t n = x->dim(0), ic = x->dim(1), oc = w->dim(0);
    Shape in_dims(x->shape().begin() + 2, x->shape().end());
    Shape kdims(w->shape().begin() + 2, w->shape().end());
    if (!kernel_shape_.empty() && kernel_shape_ != kdims)
      return ctx.Error("kernel_shape {} differs from W's spatial shape {}",
                       ShapeToString(kernel_shape_), ShapeToString(w->shape()));
    if (ic != w->dim(1) * group_ || oc % group_ != 0)
      return ctx.Error("X shape {} and W shape {} do not match group {}", ShapeToString(x->shape()),
                       ShapeToString(w->shape()), group_);
    if (ic % offset_group_ != 0)
      return ctx.Error("offset_group {} does not divide the {} input channels", offset_group_, ic);
    Shape dil = dilations_.empty() ? Shape(und, 1) : dilations_;
    Shape str = strides_.empty() ? Shape(und, 1) : strides_;
    Shape pads = pads_.empty() ? Shape(2 * und, 0) : pads_;
    if (dil.size() != und || str.size() != und || pads.size() != 2 * und)
      return ctx.Error("dilations, strides and pads must have {}, {} and {} values", nd, nd,
                       2 * nd);
    Shape out_dims(und);
    for (size_t i = 0; i < und; ++i) {
      const int64_t span = dil[i] * (kdims[i] - 1) + 1;
      const int64_t room = in_dims[i] + pads[i] + pads[i + und] - span;
      if (room < 0) return ctx.Error("kernel does not fit the padded input along dim {}", i);
      out_dims[i] = room / str[i] + 1;
    }
    const int64_t kn = ShapeSize(kdims), out_size = ShapeSize(out_dims);
    const int64_t in_size = ShapeSize(in_dims);
    Shape off_shape = {n, offset_group_ * kn * nd};
    off_shape.insert(off_shape.end(), out_dims.begin(), out_dims.end());
    if (offset->shape() != off_shape)
      return ctx.Error("offset shape: expected {}, got {}", ShapeToString(off_shape),
                       ShapeToString(offset->shape()));
    Shape mask_shape = {n, offset_group_ * kn};
    mask_shape.insert(mask_shape.end(), out_dims.begin(), out_dims.end());
    if (mask != nullptr && mask->shape() != mask_shape)
      return ctx.Error("mask shape: expected {}, got {}", ShapeToString(mask_shape),
                       ShapeToString(mask->shape()));
    if (bias != nullptr && bias->numel() != oc)
      return ctx.Error("B: expected {} elements, got shape {}", oc, ShapeToString(bias->shape()));
    std::vector<double> xs, ws, os, bs, ms;
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *x, xs));
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *w, ws));
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *offset, os));
    if (bias != nullptr) HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *bias, bs));
    if (mask != nullptr) HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *mask, ms));
    const int64_t icg = ic / group_, ocg = oc / group_, ic_per_og = ic / offset_group_;
    const Shape in_strides = Strides(in_dims);
    // Sampled input columns: col[(ci * kn + k) * out_size + o], bilinear with zero padding.
    std::vector<double> col(static_cast<size_t>(ic * kn * out_size));
    std::vector<double> y(static_cast<size_t>(n * oc * out_size));
    std::vector<int64_t> k_idx(und), o_idx(und), corner(und), lo_idx(und);
    std::vector<double> pos(und), frac(und);
    const std::vector<int64_t> two(und, 2);
    for (int64_t b = 0; b < n; ++b) {
      std::fill(k_idx.begin(), k_idx.end(), 0);
      for (int64_t k = 0; k < kn; ++k) {
        std::fill(o_idx.begin(), o_idx.end(), 0);
        for (int64_t o = 0; o < out_size; ++o) {
          for (int64_t g = 0; g < offset_group_; ++g) {
            for (size_t i = 0; i < und; ++i) {
              const int64_t ch = (g * kn + k) * nd + static_cast<int64_t>(i);
              pos[i] = static_cast<double>(o_idx[i] * str[i] - pads[i] + k_idx[i] * dil[i]) +
                       os[static_cast<size_t>((b * offset_group_ * kn * nd + ch) * out_size + o)];
              const double f = std::floor(pos[i]);
              lo_idx[i] = ToIndex(f);
              frac[i] = pos[i] - f;
            }
            const double m =
                mask != nullptr
                    ? ms[static_cast<size_t>((b * offset_group_ * kn + g * kn + k) * out_size + o)]
                    : 1.0;
            for (int64_t ci = g * ic_per_og; ci < (g + 1) * ic_per_og; ++ci) {
              const double* src = xs.data() + (b * ic + ci) * in_size;
              double acc = 0;
              std::fill(corner.begin(), corner.end(), 0);
              do {
                double wt = 1;
                int64_t off = 0;
                bool inside = true;
                for (size_t i = 0; i < und; ++i) {
                  const int64_t p = lo_idx[i] + corner[i];
                  if (p < 0 || p >= in_dims[i]) {
                    inside = false;
                    break;
                  }
                  wt *= corner[i] ? frac[i] : 1 - frac[i];
                  off += p * in_strides[i];
                }
                if (inside) acc += wt * src[off];
              } while (NextIndex(corner, two));
              col[static_cast<size_t>((ci * kn + k) * out_size + o)] = acc * m;
            }
          }
          NextIndex(o_idx, out_dims);
        }
        NextIndex(k_idx, kdims);
      }
      // y[b, oc] = sum over the group's input channels and kernel taps of W * col, plus bias
      for (int64_t co = 0; co < oc; ++co) {
        const int64_t g = co / ocg;
        double* dst = y.data() + (b * oc + co) * out_size;
        const double bv = bias != nullptr ? bs[static_cast<size_t>(co)] : 0.0;
        for (int64_t o = 0; o < out_size; ++o) dst[o] = bv;
        for (int64_t cl = 0; cl < icg; ++cl) {
          const int64_t ci = g * icg + cl;
          for (int64_t k = 0; k < kn; ++k) {
            const double wv = ws[static_cast<size_t>((co * icg + cl) * kn + k)];
            const double* cs = col.data() + (ci * kn + k) * out_size;
            for (int64_t o = 0; o < out_size; ++o) dst[o] += wv * cs[o];
          }
        }
      }
    }
    Shape out_shape = {n, oc};
    out_shape.insert(out_shape.end(), out_dims.begin(), out_dims.end());
    return WriteOutput(ctx, 0, x->dtype(), out_shape, y);
  }

 private:
  Shape dilations_, pads_, strides_, kernel_shape_;
  int64_t group_ = 1, offset_group_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefGridSample() { return std::make_unique<GridSample>(); }
std::unique_ptr<Kernel> CreateRefAffineGrid() { return std::make_unique<AffineGrid>(); }
std::unique_ptr<Kernel> CreateRefCol2Im() { return std::make_unique<Col2Im>(); }
std::unique_ptr<Kernel> CreateRefCenterCropPad() { return std::make_unique<CenterCropPad>(); }
std::unique_ptr<Kernel> CreateRefDeformConv() { return std::make_unique<DeformConv>(); }

}  // namespace hone::ref
