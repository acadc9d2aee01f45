// Reference resampling kernels.
// ONNX operators: Resize (opsets 10-22: modes nearest/linear/cubic, every
// coordinate_transformation_mode, nearest_mode, cubic_coeff_a, exclude_outside,
// extrapolation_value, scales or sizes, and from 18 antialias, axes and keep_aspect_ratio_policy)
// and Upsample (7-9: scales as an attribute in 7, an input in 9; nearest and linear).
//
// Interpolation is separable: each resized axis gets a table of (input index, weight) taps per
// output coordinate, following the ONNX reference implementation, and the axes are resampled one
// after the other in double precision.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/thread_pool.h"
#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfCropAndResize
};
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct ResizeParams {
  Mode mode = Mode::kNearest;
  Coord coord = Coord::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
  bool antialias = false;
};

// Taps of one output coordinate along one axis.
struct Taps {
  bool extrapolate = false;
  std::vector<int64_t> index;
  std::vector<double> weight;
};

double CubicKernel(double x, double a) {
  x = std::fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

std::vector<Taps> BuildTaps(const ResizeParams& p, int64_t in, int64_t out, double scale,
                            double roi_start, double roi_end) {
  std::vector<Taps> taps(static_cast<size_t>(out));
  const double out_f = scale * static_cast<double>(in);
  const double in_f = static_cast<double>(in);
  for (int64_t o = 0; o < out; ++o) {
    Taps& t = taps[static_cast<size_t>(o)];
    const double x = static_cast<double>(o);
    double xo = 0;
    switch (p.coord) {
      case Coord::kHalfPixel:
        xo = (x + 0.5) / scale - 0.5;
        break;
      case Coord::kHalfPixelSymmetric: {
        const double adjustment = static_cast<double>(out) / out_f;
        const double center = in_f / 2;
        xo = center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
        break;
      }
      case Coord::kPytorchHalfPixel:
        xo = out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
        break;
      case Coord::kAlignCorners:
        xo = out_f == 1 ? 0.0 : x * (in_f - 1) / (out_f - 1);
        break;
      case Coord::kAsymmetric:
        xo = x / scale;
        break;
      case Coord::kTfCropAndResize:
        xo = out_f == 1 ? (roi_end - roi_start) * (in_f - 1) / 2
                        : x * (roi_end - roi_start) * (in_f - 1) / (out_f - 1);
        xo += roi_start * (in_f - 1);
        if (xo < 0 || xo > in_f - 1) {
          t.extrapolate = true;
          continue;
        }
        break;
    }
    // base + ratio == xo with ratio in (0, 1]: the pixel left of xo is preferred
    const double fl = std::floor(xo);
    const bool integral = fl == xo;
    const int64_t base = static_cast<int64_t>(fl) - (integral ? 1 : 0);
    const double ratio = integral ? 1.0 : xo - fl;
    std::vector<int64_t> offs;
    std::vector<double> w;
    switch (p.mode) {
      case Mode::kNearest: {
        bool upper = true;
        if (!integral) {
          switch (p.nearest) {
            case NearestMode::kRoundPreferFloor:
              upper = ratio > 0.5;
              break;
            case NearestMode::kRoundPreferCeil:
              upper = ratio >= 0.5;
              break;
            case NearestMode::kFloor:
              upper = false;
              break;
            case NearestMode::kCeil:
              upper = true;
              break;
          }
        }
        offs = {0, 1};
        w = {upper ? 0.0 : 1.0, upper ? 1.0 : 0.0};
        break;
      }
      case Mode::kLinear: {
        const double s = p.antialias ? std::min(scale, 1.0) : 1.0;
        const int64_t start = static_cast<int64_t>(std::floor(-1 / s)) + 1;
        const int64_t footprint = 2 - 2 * start;
        for (int64_t i = start; i < start + footprint; ++i) {
          offs.push_back(i);
          w.push_back(std::clamp(1 - std::fabs((static_cast<double>(i) - ratio) * s), 0.0, 1.0));
        }
        break;
      }
      case Mode::kCubic: {
        const double s = p.antialias ? std::min(scale, 1.0) : 1.0;
        const int64_t start = p.antialias ? static_cast<int64_t>(std::floor(-2 / s)) + 1 : -1;
        const int64_t end = 2 - start;
        for (int64_t i = start; i < end; ++i) {
          offs.push_back(i);
          w.push_back(CubicKernel(s * (static_cast<double>(i) - ratio), p.cubic_a));
        }
        break;
      }
    }
    if (p.antialias && p.mode != Mode::kNearest) {
      double sum = 0;
      for (double v : w) sum += v;
      if (sum != 0)
        for (double& v : w) v /= sum;
    }
    if (p.exclude_outside) {
      double sum = 0;
      for (size_t i = 0; i < w.size(); ++i) {
        const int64_t idx = base + offs[i];
        if (idx < 0 || idx >= in) w[i] = 0;
        sum += w[i];
      }
      if (sum != 0)
        for (double& v : w) v /= sum;
    }
    for (size_t i = 0; i < w.size(); ++i) {
      if (w[i] == 0) continue;
      t.index.push_back(std::clamp<int64_t>(base + offs[i], 0, in - 1));
      t.weight.push_back(w[i]);
    }
  }
  return taps;
}

// Resamples axis `axis` of `src` (shape `shape`) to taps.size() entries; updates `shape`.
void ResampleAxis(ThreadPool& pool, const std::vector<double>& src, Shape& shape, size_t axis,
                  const std::vector<Taps>& taps, double extrapolation, std::vector<double>& dst) {
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t in = shape[axis], out = static_cast<int64_t>(taps.size());
  dst.assign(static_cast<size_t>(outer * out * inner), 0.0);
  pool.ParallelFor(outer * out, std::max<int64_t>(1, 1024 / std::max<int64_t>(inner, 1)),
                   [&](int64_t begin, int64_t end) {
                     for (int64_t r = begin; r < end; ++r) {
                       const int64_t o = r / out, j = r % out;
                       const Taps& t = taps[static_cast<size_t>(j)];
                       double* d = dst.data() + r * inner;
                       if (t.extrapolate) {
                         std::fill_n(d, inner, extrapolation);
                         continue;
                       }
                       for (size_t k = 0; k < t.index.size(); ++k) {
                         const double wk = t.weight[k];
                         const double* s = src.data() + (o * in + t.index[k]) * inner;
                         for (int64_t i = 0; i < inner; ++i) d[i] += wk * s[i];
                       }
                     }
                   });
  shape[axis] = out;
}

bool IsIdentity(const std::vector<Taps>& taps, int64_t in) {
  if (static_cast<int64_t>(taps.size()) != in) return false;
  for (size_t j = 0; j < taps.size(); ++j) {
    const Taps& t = taps[j];
    if (t.extrapolate || t.index.size() != 1 || t.index[0] != static_cast<int64_t>(j) ||
        t.weight[0] != 1.0)
      return false;
  }
  return true;
}

template <typename T>
T FromDouble(double v) {
  if constexpr (kIsFloat<T>) {
    return static_cast<T>(v);
  } else {
    const double r = std::nearbyint(v);
    const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    const double hi = static_cast<double>(std::numeric_limits<T>::max());
    return static_cast<T>(std::clamp(r, lo, hi));
  }
}

// Resizes x to out_shape with per-axis scales (and roi, used by tf_crop_and_resize).
Status RunResize(ComputeContext& ctx, const ResizeParams& p, const Tensor& x,
                 const Shape& out_shape, const std::vector<double>& scales,
                 const std::vector<double>& roi) {
  Tensor& y = ctx.Output(0, x.dtype(), out_shape);
  return VisitNumeric(ctx.node(), x.dtype(), [&]<typename T>() -> Status {
    const int64_t rank = x.rank();
    std::vector<double> cur(static_cast<size_t>(x.numel())), next;
    const T* src = x.data<T>();
    for (size_t i = 0; i < cur.size(); ++i)
      cur[i] = static_cast<double>(static_cast<Acc<T>>(src[i]));
    Shape shape = x.shape();
    for (int64_t d = 0; d < rank; ++d) {
      const size_t ud = static_cast<size_t>(d);
      const double rs = roi.empty() ? 0.0 : roi[ud];
      const double re = roi.empty() ? 1.0 : roi[ud + static_cast<size_t>(rank)];
      std::vector<Taps> taps = BuildTaps(p, x.dim(d), out_shape[ud], scales[ud], rs, re);
      if (IsIdentity(taps, x.dim(d))) continue;
      ResampleAxis(ctx.pool(), cur, shape, ud, taps, p.extrapolation, next);
      cur.swap(next);
    }
    T* dst = y.data<T>();
    for (size_t i = 0; i < cur.size(); ++i) dst[i] = FromDouble<T>(cur[i]);
    return Status::Ok();
  });
}

// Reads an optional float tensor input (empty tensors count as absent).
Status ReadFloats(const ComputeContext& ctx, const Tensor* t, const char* what,
                  std::vector<double>& out) {
  out.clear();
  if (t == nullptr || t->numel() == 0) return Status::Ok();
  if (t->rank() > 1)
    return ctx.Error("{} must be 1-D, got shape {}", what, ShapeToString(t->shape()));
  out.resize(static_cast<size_t>(t->numel()));
  return VisitFloat(ctx.node(), t->dtype(), [&]<typename T>() {
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = static_cast<double>(static_cast<Acc<T>>(t->data<T>()[i]));
    return Status::Ok();
  });
}

class Resize final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    opset_ = ctx.opset();
    const std::string mode = ctx.attr_string("mode", "nearest");
    if (mode == "nearest") {
      p_.mode = Mode::kNearest;
    } else if (mode == "linear" || mode == "bilinear" || mode == "trilinear") {
      p_.mode = Mode::kLinear;
    } else if (mode == "cubic" && opset_ >= 11) {
      p_.mode = Mode::kCubic;
    } else {
      return ctx.Invalid("mode must be nearest, linear or cubic, got '{}'", mode);
    }
    if (opset_ < 11) {
      // Resize-10 samples like Upsample: asymmetric coordinates, nearest rounds down.
      p_.coord = Coord::kAsymmetric;
      p_.nearest = NearestMode::kFloor;
      return Status::Ok();
    }
    const std::string ct = ctx.attr_string("coordinate_transformation_mode", "half_pixel");
    if (ct == "half_pixel") {
      p_.coord = Coord::kHalfPixel;
    } else if (ct == "half_pixel_symmetric" && opset_ >= 19) {
      p_.coord = Coord::kHalfPixelSymmetric;
    } else if (ct == "pytorch_half_pixel") {
      p_.coord = Coord::kPytorchHalfPixel;
    } else if (ct == "align_corners") {
      p_.coord = Coord::kAlignCorners;
    } else if (ct == "asymmetric") {
      p_.coord = Coord::kAsymmetric;
    } else if (ct == "tf_crop_and_resize") {
      p_.coord = Coord::kTfCropAndResize;
    } else if (ct == "tf_half_pixel_for_nn" && opset_ < 13) {
      // removed in opset 13: x_original = (x + 0.5) / scale, i.e. asymmetric shifted by half
      p_.coord = Coord::kHalfPixel;
      tf_half_pixel_for_nn_ = true;
    } else {
      return ctx.Invalid("unsupported coordinate_transformation_mode '{}'", ct);
    }
    const std::string nm = ctx.attr_string("nearest_mode", "round_prefer_floor");
    if (nm == "round_prefer_floor") {
      p_.nearest = NearestMode::kRoundPreferFloor;
    } else if (nm == "round_prefer_ceil") {
      p_.nearest = NearestMode::kRoundPreferCeil;
    } else if (nm == "floor") {
      p_.nearest = NearestMode::kFloor;
    } else if (nm == "ceil") {
      p_.nearest = NearestMode::kCeil;
    } else {
      return ctx.Invalid("unsupported nearest_mode '{}'", nm);
    }
    p_.cubic_a = ctx.attr_float("cubic_coeff_a", -0.75f);
    p_.exclude_outside = ctx.attr_int("exclude_outside", 0) != 0;
    p_.extrapolation = ctx.attr_float("extrapolation_value", 0.0f);
    p_.antialias = ctx.attr_int("antialias", 0) != 0;
    if (p_.antialias && p_.mode == Mode::kNearest)
      return ctx.Invalid("antialias is not defined for mode nearest");
    axes_ = ctx.attr_ints("axes");
    const std::string kp = ctx.attr_string("keep_aspect_ratio_policy", "stretch");
    if (kp != "stretch" && kp != "not_larger" && kp != "not_smaller")
      return ctx.Invalid("keep_aspect_ratio_policy must be stretch, not_larger or not_smaller");
    keep_policy_ = kp;
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("input X is missing");
    const int64_t rank = x->rank();
    const Tensor* roi_t = opset_ >= 11 ? ctx.input(1) : nullptr;
    const Tensor* scales_t = opset_ >= 11 ? ctx.input(2) : ctx.input(1);
    const Tensor* sizes_t = opset_ >= 11 ? ctx.input(3) : nullptr;
    std::vector<int64_t> axes;
    if (axes_.empty()) {
      for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
    } else {
      for (int64_t a : axes_) {
        HONE_ASSIGN_OR_RETURN(int64_t ax, NormalizeAxis(ctx.node(), a, rank, "axes value"));
        if (std::find(axes.begin(), axes.end(), ax) != axes.end())
          return ctx.Error("axes has a repeated value {}", a);
        axes.push_back(ax);
      }
    }
    const size_t na = axes.size();
    std::vector<double> scales_in, roi_in;
    HONE_RETURN_IF_ERROR(ReadFloats(ctx, scales_t, "scales", scales_in));
    HONE_RETURN_IF_ERROR(ReadFloats(ctx, roi_t, "roi", roi_in));
    std::vector<int64_t> sizes_in;
    if (sizes_t != nullptr && sizes_t->numel() > 0) {
      HONE_ASSIGN_OR_RETURN(sizes_in, ToInt64Vector(ctx.node(), *sizes_t, "sizes"));
    }
    if (scales_in.empty() == sizes_in.empty())
      return ctx.Error("exactly one of scales and sizes must be given");
    std::vector<double> scales(static_cast<size_t>(rank), 1.0);
    Shape out_shape = x->shape();
    if (!sizes_in.empty()) {
      if (sizes_in.size() != na)
        return ctx.Error("sizes has {} values, expected {}", sizes_in.size(), na);
      for (size_t i = 0; i < na; ++i) {
        if (sizes_in[i] < 0) return ctx.Error("sizes must be >= 0, got {}", sizes_in[i]);
        const int64_t in = x->dim(axes[i]);
        scales[static_cast<size_t>(axes[i])] =
            in == 0 ? 1.0 : static_cast<double>(sizes_in[i]) / static_cast<double>(in);
        out_shape[static_cast<size_t>(axes[i])] = sizes_in[i];
      }
      if (keep_policy_ != "stretch") {
        double s = keep_policy_ == "not_larger" ? std::numeric_limits<double>::infinity() : 0.0;
        for (int64_t a : axes) {
          const double v = scales[static_cast<size_t>(a)];
          s = keep_policy_ == "not_larger" ? std::min(s, v) : std::max(s, v);
        }
        for (int64_t a : axes) {
          scales[static_cast<size_t>(a)] = s;
          out_shape[static_cast<size_t>(a)] =
              static_cast<int64_t>(s * static_cast<double>(x->dim(a)) + 0.5);
        }
      }
    } else {
      if (scales_in.size() != na)
        return ctx.Error("scales has {} values, expected {}", scales_in.size(), na);
      for (size_t i = 0; i < na; ++i) {
        if (!(scales_in[i] > 0)) return ctx.Error("scales must be > 0, got {}", scales_in[i]);
        scales[static_cast<size_t>(axes[i])] = scales_in[i];
        out_shape[static_cast<size_t>(axes[i])] =
            static_cast<int64_t>(scales_in[i] * static_cast<double>(x->dim(axes[i])));
      }
    }
    std::vector<double> roi;
    if (p_.coord == Coord::kTfCropAndResize) {
      roi.assign(static_cast<size_t>(2 * rank), 0.0);
      for (int64_t d = 0; d < rank; ++d) roi[static_cast<size_t>(rank + d)] = 1.0;
      if (roi_in.size() == 2 * na) {
        for (size_t i = 0; i < na; ++i) {
          roi[static_cast<size_t>(axes[i])] = roi_in[i];
          roi[static_cast<size_t>(rank + axes[i])] = roi_in[na + i];
        }
      } else if (roi_in.size() == static_cast<size_t>(2 * rank)) {
        roi = roi_in;
      } else {
        return ctx.Error("roi has {} values, expected {}", roi_in.size(), 2 * na);
      }
    }
    if (tf_half_pixel_for_nn_) {
      // x_original = (x + 0.5) / scale: asymmetric on a half-shifted grid
      ResizeParams p = p_;
      p.coord = Coord::kAsymmetric;
      return RunShifted(ctx, p, *x, out_shape, scales);
    }
    return RunResize(ctx, p_, *x, out_shape, scales, roi);
  }

 private:
  // tf_half_pixel_for_nn (opsets 11-12, nearest only in practice): samples floor-style at
  // (x + 0.5) / scale.
  static Status RunShifted(ComputeContext& ctx, const ResizeParams& p, const Tensor& x,
                           const Shape& out_shape, const std::vector<double>& scales) {
    Tensor& y = ctx.Output(0, x.dtype(), out_shape);
    return VisitNumeric(ctx.node(), x.dtype(), [&]<typename T>() -> Status {
      const int64_t rank = x.rank();
      std::vector<std::vector<int64_t>> idx(static_cast<size_t>(rank));
      for (int64_t d = 0; d < rank; ++d) {
        const size_t ud = static_cast<size_t>(d);
        for (int64_t o = 0; o < out_shape[ud]; ++o) {
          const double xo = (static_cast<double>(o) + 0.5) / scales[ud];
          int64_t i = 0;
          switch (p.nearest) {
            case NearestMode::kRoundPreferFloor:
              i = static_cast<int64_t>(std::ceil(xo - 0.5));
              break;
            case NearestMode::kRoundPreferCeil:
              i = static_cast<int64_t>(std::floor(xo + 0.5));
              break;
            case NearestMode::kFloor:
              i = static_cast<int64_t>(std::floor(xo));
              break;
            case NearestMode::kCeil:
              i = static_cast<int64_t>(std::ceil(xo));
              break;
          }
          idx[ud].push_back(std::clamp<int64_t>(i, 0, x.dim(d) - 1));
        }
      }
      const Shape in_strides = Strides(x.shape());
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      const int64_t total = ShapeSize(out_shape);
      std::vector<int64_t> pos(static_cast<size_t>(rank), 0);
      for (int64_t o = 0; o < total; ++o) {
        int64_t off = 0;
        for (size_t d = 0; d < pos.size(); ++d)
          off += idx[d][static_cast<size_t>(pos[d])] * in_strides[d];
        dst[o] = src[off];
        for (size_t d = pos.size(); d-- > 0;) {
          if (++pos[d] < out_shape[d]) break;
          pos[d] = 0;
        }
      }
      return Status::Ok();
    });
  }

  int64_t opset_ = 11;
  ResizeParams p_;
  bool tf_half_pixel_for_nn_ = false;
  std::vector<int64_t> axes_;
  std::string keep_policy_ = "stretch";
};

class Upsample final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    opset_ = ctx.opset();
    const std::string mode = ctx.attr_string("mode", "nearest");
    if (mode == "nearest") {
      p_.mode = Mode::kNearest;
    } else if (mode == "linear" || mode == "bilinear") {
      p_.mode = Mode::kLinear;
    } else {
      return ctx.Invalid("mode must be nearest or linear, got '{}'", mode);
    }
    p_.coord = Coord::kAsymmetric;
    p_.nearest = NearestMode::kFloor;
    if (opset_ < 9) {
      for (float s : ctx.attr_floats("scales")) scales_attr_.push_back(s);
      if (scales_attr_.empty()) return ctx.Invalid("attribute scales is required");
      for (double s : scales_attr_)
        if (!(s >= 1)) return ctx.Invalid("scales must be >= 1, got {}", s);
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("input X is missing");
    std::vector<double> scales = scales_attr_;
    if (opset_ >= 9) HONE_RETURN_IF_ERROR(ReadFloats(ctx, ctx.input(1), "scales", scales));
    if (static_cast<int64_t>(scales.size()) != x->rank())
      return ctx.Error("scales has {} values, expected {}", scales.size(), x->rank());
    Shape out_shape = x->shape();
    for (size_t d = 0; d < scales.size(); ++d) {
      if (!(scales[d] > 0)) return ctx.Error("scales must be > 0, got {}", scales[d]);
      out_shape[d] = static_cast<int64_t>(scales[d] * static_cast<double>(out_shape[d]));
    }
    return RunResize(ctx, p_, *x, out_shape, scales, {});
  }

 private:
  int64_t opset_ = 9;
  ResizeParams p_;
  std::vector<double> scales_attr_;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefResize() { return std::make_unique<Resize>(); }
std::unique_ptr<Kernel> CreateRefUpsample() { return std::make_unique<Upsample>(); }

}  // namespace hone::ref
