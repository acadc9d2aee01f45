// Reference signal-processing kernels.
// ONNX operators: DFT (opsets 17-19: axis attribute; 20-22: axis input;
// dft_length, inverse, onesided, real [.., 1] or complex [.., 2] input), STFT
// (17-22: frame_step, optional window and frame_length, onesided), HannWindow /
// HammingWindow / BlackmanWindow (17-22: periodic, output_datatype),
// MelWeightMatrix (17-22: the ONNX reference construction, output_datatype).
// Transforms are direct O(n^2) sums in double precision.
#include <cmath>
#include <numbers>
#include <vector>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

// Reads a float tensor (f32, f64, f16, bf16) as doubles.
Status ReadFloats(const ComputeContext& ctx, const Tensor& t, std::vector<double>& v,
                  const char* what) {
  v.resize(static_cast<size_t>(t.numel()));
  Status s = VisitFloat(ctx.node(), t.dtype(), [&]<typename T>() {
    const T* src = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(static_cast<Acc<T>>(src[i]));
    return Status::Ok();
  });
  if (!s.ok()) return ctx.Error("input {}: {}", what, s.message());
  return Status::Ok();
}

// Reads a scalar integer input (int32 / int64, rank 0 or one element).
StatusOr<int64_t> ReadIntScalar(const ComputeContext& ctx, const Tensor& t, const char* what) {
  if (t.numel() != 1)
    return ctx.Error("input {} must be a scalar, got shape {}", what, ShapeToString(t.shape()));
  if (t.dtype() == DataType::kInt64) return t.data<int64_t>()[0];
  if (t.dtype() == DataType::kInt32) return t.data<int32_t>()[0];
  return ctx.Error("input {} must be int32 or int64, got {}", what, DataTypeName(t.dtype()));
}

// One transform: src holds n complex values (re, im interleaved, zero-padded or
// truncated to `len`), dst receives `bins` complex values X[k] = sum_m x[m]
// exp(-+2 pi i k m / len).
void Transform(const std::vector<double>& src, int64_t len, int64_t bins, bool inverse,
               double* dst) {
  const double sign = inverse ? 1.0 : -1.0;
  for (int64_t k = 0; k < bins; ++k) {
    double re = 0, im = 0;
    for (int64_t m = 0; m < len; ++m) {
      const double xr = src[static_cast<size_t>(2 * m)], xi = src[static_cast<size_t>(2 * m + 1)];
      if (xr == 0 && xi == 0) continue;
      // reduce k*m modulo len first so the angle stays exact for long
      // transforms
      const double ang = sign * 2.0 * std::numbers::pi * static_cast<double>((k * m) % len) /
                         static_cast<double>(len);
      const double c = std::cos(ang), s = std::sin(ang);
      re += xr * c - xi * s;
      im += xr * s + xi * c;
    }
    if (inverse) {
      re /= static_cast<double>(len);
      im /= static_cast<double>(len);
    }
    dst[2 * k] = re;
    dst[2 * k + 1] = im;
  }
}

class Dft final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    inverse_ = ctx.attr_int("inverse", 0) != 0;
    onesided_ = ctx.attr_int("onesided", 0) != 0;
    axis_input_ = ctx.opset() >= 20;
    if (axis_input_ && ctx.has_attr("axis"))
      return ctx.Invalid("attribute axis is an input from opset 20 on");
    axis_ = axis_input_ ? -2 : ctx.attr_int("axis", 1);
    if (!ctx.has_input(0)) return ctx.Invalid("expected input 'input'");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input 'input'");
    const int64_t r = x->rank();
    if (r < 2) return ctx.Error("input rank: expected >= 2, got {}", r);
    const int64_t comps = x->dim(r - 1);
    if (comps != 1 && comps != 2)
      return ctx.Error("input shape {}: last dimension must be 1 (real) or 2 (complex)",
                       ShapeToString(x->shape()));
    int64_t axis = axis_;
    if (axis_input_ && ctx.input(2) != nullptr) {
      HONE_ASSIGN_OR_RETURN(axis, ReadIntScalar(ctx, *ctx.input(2), "axis"));
    }
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r - 2)
      return ctx.Error("axis {} is out of range for input rank {}", axis, r);
    const int64_t n = x->dim(axis);
    int64_t len = n;
    if (ctx.input(1) != nullptr) {
      HONE_ASSIGN_OR_RETURN(len, ReadIntScalar(ctx, *ctx.input(1), "dft_length"));
      if (len <= 0) return ctx.Error("input dft_length must be positive, got {}", len);
    }
    if (onesided_ && comps == 2)
      return ctx.Error("onesided output needs a real input, got a complex one");
    const int64_t bins = onesided_ ? len / 2 + 1 : len;
    Shape out_shape = x->shape();
    out_shape[static_cast<size_t>(axis)] = bins;
    out_shape.back() = 2;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
    for (int64_t i = axis + 1; i < r - 1; ++i) inner *= x->dim(i);
    std::vector<double> xv;
    HONE_RETURN_IF_ERROR(ReadFloats(ctx, *x, xv, "input"));
    std::vector<double> yv(static_cast<size_t>(ShapeSize(out_shape)));
    std::vector<double> line(static_cast<size_t>(2 * len)), res(static_cast<size_t>(2 * bins));
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        std::fill(line.begin(), line.end(), 0.0);
        for (int64_t m = 0; m < std::min(n, len); ++m) {
          const size_t at = static_cast<size_t>(((o * n + m) * inner + i) * comps);
          line[static_cast<size_t>(2 * m)] = xv[at];
          if (comps == 2) line[static_cast<size_t>(2 * m + 1)] = xv[at + 1];
        }
        Transform(line, len, bins, inverse_, res.data());
        for (int64_t k = 0; k < bins; ++k) {
          const size_t at = static_cast<size_t>(((o * bins + k) * inner + i) * 2);
          yv[at] = res[static_cast<size_t>(2 * k)];
          yv[at + 1] = res[static_cast<size_t>(2 * k + 1)];
        }
      }
    }
    Tensor& y = ctx.Output(0, x->dtype(), out_shape);
    return WriteFloats(ctx, yv, y);
  }

 private:
  bool inverse_ = false, onesided_ = false;
  bool axis_input_ = false;
  int64_t axis_ = 1;
};

class Stft final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    onesided_ = ctx.attr_int("onesided", 1) != 0;
    if (!ctx.has_input(0) || !ctx.has_input(1))
      return ctx.Invalid("expected inputs signal and frame_step");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* sig = ctx.input(0);
    const Tensor* step_t = ctx.input(1);
    const Tensor* win = ctx.input(2);
    const Tensor* flen_t = ctx.input(3);
    if (sig == nullptr || step_t == nullptr)
      return ctx.Error("expected inputs signal and frame_step");
    if (sig->rank() != 3 || (sig->dim(2) != 1 && sig->dim(2) != 2))
      return ctx.Error("input signal shape: expected [batch, length, 1 or 2], got {}",
                       ShapeToString(sig->shape()));
    HONE_ASSIGN_OR_RETURN(int64_t step, ReadIntScalar(ctx, *step_t, "frame_step"));
    if (step <= 0) return ctx.Error("input frame_step must be positive, got {}", step);
    int64_t flen = -1;
    std::vector<double> wv;
    if (win != nullptr) {
      if (win->rank() != 1)
        return ctx.Error("input window must be 1-D, got shape {}", ShapeToString(win->shape()));
      HONE_RETURN_IF_ERROR(ReadFloats(ctx, *win, wv, "window"));
      flen = win->dim(0);
    }
    if (flen_t != nullptr) {
      HONE_ASSIGN_OR_RETURN(int64_t fl, ReadIntScalar(ctx, *flen_t, "frame_length"));
      if (flen >= 0 && fl != flen)
        return ctx.Error("input frame_length {} differs from the window length {}", fl, flen);
      flen = fl;
    }
    if (flen < 0) return ctx.Error("one of the inputs window and frame_length is needed");
    if (flen == 0) return ctx.Error("frame length must be positive");
    const int64_t batch = sig->dim(0), length = sig->dim(1), comps = sig->dim(2);
    if (flen > length)
      return ctx.Error("frame length {} exceeds the signal length {}", flen, length);
    if (onesided_ && comps == 2)
      return ctx.Error("onesided output needs a real signal, got a complex one");
    const int64_t frames = (length - flen) / step + 1;
    const int64_t bins = onesided_ ? flen / 2 + 1 : flen;
    std::vector<double> sv;
    HONE_RETURN_IF_ERROR(ReadFloats(ctx, *sig, sv, "signal"));
    std::vector<double> yv(static_cast<size_t>(batch * frames * bins * 2));
    std::vector<double> line(static_cast<size_t>(2 * flen));
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t f = 0; f < frames; ++f) {
        for (int64_t m = 0; m < flen; ++m) {
          const double w = wv.empty() ? 1.0 : wv[static_cast<size_t>(m)];
          const size_t at = static_cast<size_t>((b * length + f * step + m) * comps);
          line[static_cast<size_t>(2 * m)] = w * sv[at];
          line[static_cast<size_t>(2 * m + 1)] = comps == 2 ? w * sv[at + 1] : 0.0;
        }
        Transform(line, flen, bins, false, yv.data() + (b * frames + f) * bins * 2);
      }
    }
    Tensor& y = ctx.Output(0, sig->dtype(), {batch, frames, bins, 2});
    return WriteFloats(ctx, yv, y);
  }

 private:
  bool onesided_ = true;
};

// Output dtype attribute shared by the window and mel kernels.
Status ReadOutputDatatype(const InitContext& ctx, DataType& dt) {
  const int64_t code = ctx.attr_int("output_datatype", 1);
  dt = static_cast<DataType>(code);
  switch (dt) {
    case DataType::kFloat32:
    case DataType::kFloat64:
    case DataType::kFloat16:
    case DataType::kBFloat16:
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
    case DataType::kInt64:
    case DataType::kUInt8:
    case DataType::kUInt16:
    case DataType::kUInt32:
    case DataType::kUInt64:
      return Status::Ok();
    default:
      return ctx.Invalid("attribute output_datatype: {} is not a numeric type", code);
  }
}

Status WriteNumeric(const ComputeContext& ctx, const std::vector<double>& v, Tensor& out) {
  return VisitNumeric(ctx.node(), out.dtype(), [&]<typename T>() {
    T* dst = out.data<T>();
    for (size_t i = 0; i < v.size(); ++i) dst[i] = static_cast<T>(static_cast<Acc<T>>(v[i]));
    return Status::Ok();
  });
}

enum class WindowKind { kHann, kHamming, kBlackman };

template <WindowKind kKind>
class Window final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    periodic_ = ctx.attr_int("periodic", 1) != 0;
    return ReadOutputDatatype(ctx, dtype_);
  }

  Status Compute(ComputeContext& ctx) const override {
    if (ctx.input(0) == nullptr) return ctx.Error("expected input size");
    HONE_ASSIGN_OR_RETURN(int64_t size, ReadIntScalar(ctx, *ctx.input(0), "size"));
    if (size < 0) return ctx.Error("input size must be >= 0, got {}", size);
    const double denom = static_cast<double>(periodic_ ? size : size - 1);
    const double pi = std::numbers::pi;
    std::vector<double> v(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i) {
      const double t = 2.0 * pi * static_cast<double>(i) / denom;
      double w = 0;
      if constexpr (kKind == WindowKind::kHann) {
        w = 0.5 - 0.5 * std::cos(t);
      } else if constexpr (kKind == WindowKind::kHamming) {
        constexpr double kAlpha = 25.0 / 46.0;
        w = kAlpha - (1.0 - kAlpha) * std::cos(t);
      } else {
        w = 0.42 - 0.5 * std::cos(t) + 0.08 * std::cos(2.0 * t);
      }
      v[static_cast<size_t>(i)] = w;
    }
    Tensor& y = ctx.Output(0, dtype_, {size});
    return WriteNumeric(ctx, v, y);
  }

 private:
  bool periodic_ = true;
  DataType dtype_ = DataType::kFloat32;
};

class MelWeightMatrix final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override { return ReadOutputDatatype(ctx, dtype_); }

  Status Compute(ComputeContext& ctx) const override {
    for (int i = 0; i < 5; ++i)
      if (ctx.input(i) == nullptr) return ctx.Error("expected 5 inputs, input {} is missing", i);
    HONE_ASSIGN_OR_RETURN(int64_t mel_bins, ReadIntScalar(ctx, *ctx.input(0), "num_mel_bins"));
    HONE_ASSIGN_OR_RETURN(int64_t dft_len, ReadIntScalar(ctx, *ctx.input(1), "dft_length"));
    HONE_ASSIGN_OR_RETURN(int64_t rate, ReadIntScalar(ctx, *ctx.input(2), "sample_rate"));
    HONE_ASSIGN_OR_RETURN(double lower, ToScalar(ctx.node(), *ctx.input(3), "lower_edge_hertz"));
    HONE_ASSIGN_OR_RETURN(double upper, ToScalar(ctx.node(), *ctx.input(4), "upper_edge_hertz"));
    if (mel_bins <= 0) return ctx.Error("input num_mel_bins must be positive, got {}", mel_bins);
    if (dft_len <= 0) return ctx.Error("input dft_length must be positive, got {}", dft_len);
    if (rate <= 0) return ctx.Error("input sample_rate must be positive, got {}", rate);
    if (!(lower >= 0) || !(upper > lower))
      return ctx.Error(
          "edges must satisfy 0 <= lower_edge_hertz < "
          "upper_edge_hertz, got {} and {}",
          lower, upper);
    const int64_t spec_bins = dft_len / 2 + 1;
    // The mel scale of the edges (float32 arithmetic as in the ONNX reference), then
    // num_mel_bins + 2 points spaced (high - low) / (num_mel_bins + 2) apart (as in the ONNX
    // reference: the last one falls short of the upper edge) mapped back to DFT bin indices.
    const float low_mel = 2595.0f * std::log10(1.0f + static_cast<float>(lower) / 700.0f);
    const float high_mel = 2595.0f * std::log10(1.0f + static_cast<float>(upper) / 700.0f);
    const double step =
        static_cast<double>((high_mel - low_mel) / static_cast<float>(mel_bins + 2));
    std::vector<int64_t> pts(static_cast<size_t>(mel_bins + 2));
    for (int64_t i = 0; i < mel_bins + 2; ++i) {
      const double mel = static_cast<double>(i) * step + static_cast<double>(low_mel);
      const double hz = 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
      pts[static_cast<size_t>(i)] = static_cast<int64_t>(
          std::floor(static_cast<double>(dft_len + 1) * hz / static_cast<double>(rate)));
    }
    std::vector<double> v(static_cast<size_t>(spec_bins * mel_bins), 0.0);
    auto at = [&](int64_t j, int64_t i) -> double* {
      if (j < 0 || j >= spec_bins) return nullptr;
      return &v[static_cast<size_t>(j * mel_bins + i)];
    };
    for (int64_t i = 0; i < mel_bins; ++i) {
      const int64_t left = pts[static_cast<size_t>(i)], center = pts[static_cast<size_t>(i + 1)],
                    right = pts[static_cast<size_t>(i + 2)];
      const int64_t low_to_center = center - left;
      if (low_to_center == 0) {
        if (double* p = at(center, i)) *p = 1.0;
      } else {
        for (int64_t j = left; j <= center; ++j)
          if (double* p = at(j, i))
            *p = static_cast<double>(j - left) / static_cast<double>(low_to_center);
      }
      const int64_t center_to_high = right - center;
      if (center_to_high > 0) {
        for (int64_t j = center; j < right; ++j)
          if (double* p = at(j, i))
            *p = static_cast<double>(right - j) / static_cast<double>(center_to_high);
      }
    }
    Tensor& y = ctx.Output(0, dtype_, {spec_bins, mel_bins});
    return WriteNumeric(ctx, v, y);
  }

 private:
  DataType dtype_ = DataType::kFloat32;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefDFT() { return std::make_unique<Dft>(); }
std::unique_ptr<Kernel> CreateRefSTFT() { return std::make_unique<Stft>(); }
std::unique_ptr<Kernel> CreateRefHannWindow() {
  return std::make_unique<Window<WindowKind::kHann>>();
}
std::unique_ptr<Kernel> CreateRefHammingWindow() {
  return std::make_unique<Window<WindowKind::kHamming>>();
}
std::unique_ptr<Kernel> CreateRefBlackmanWindow() {
  return std::make_unique<Window<WindowKind::kBlackman>>();
}
std::unique_ptr<Kernel> CreateRefMelWeightMatrix() { return std::make_unique<MelWeightMatrix>(); }

}  // namespace hone::ref
