#include "quant/calibrate.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.h"
#include "ir/onnx_export.h"

namespace hone::quant {

StatusOr<Method> ParseMethod(const std::string& s) {
  if (s == "minmax") return Method::kMinMax;
  if (s == "percentile") return Method::kPercentile;
  if (s == "mse") return Method::kMse;
  return InvalidArgument("--method must be minmax, percentile or mse, not '{}'", s);
}

const char* MethodName(Method m) {
  switch (m) {
    case Method::kMinMax:
      return "minmax";
    case Method::kPercentile:
      return "percentile";
    case Method::kMse:
      return "mse";
  }
  return "?";
}

void Histogram::Widen(float lo, float hi) {
  if (empty_) {
    lo_ = lo;
    hi_ = hi > lo ? hi : lo + 1e-6f;
    bins_.assign(kBins, 0.0);
    empty_ = false;
    return;
  }
  if (lo >= lo_ && hi <= hi_) return;
  const float nlo = std::min(lo, lo_), nhi = std::max(hi, hi_);
  std::vector<double> nb(kBins, 0.0);
  const double old_w = (static_cast<double>(hi_) - lo_) / kBins;
  const double new_w = (static_cast<double>(nhi) - nlo) / kBins;
  for (int i = 0; i < kBins; ++i) {
    if (bins_[i] == 0) continue;
    const double center = lo_ + (i + 0.5) * old_w;
    const int j = std::clamp(static_cast<int>((center - nlo) / new_w), 0, kBins - 1);
    nb[j] += bins_[i];
  }
  bins_ = std::move(nb);
  lo_ = nlo;
  hi_ = nhi;
}

void Histogram::Add(const float* x, int64_t n) {
  if (n <= 0) return;
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  if (lo > hi) return;  // nothing finite
  Widen(lo, hi);
  const double scale = kBins / (static_cast<double>(hi_) - lo_);
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;
    const int j = std::clamp(static_cast<int>((x[i] - lo_) * scale), 0, kBins - 1);
    bins_[static_cast<size_t>(j)] += 1;
  }
}

Range Histogram::Percentile(double percentile) const {
  if (empty_) return {};
  double total = 0;
  for (double b : bins_) total += b;
  const double tail = total * (100.0 - std::clamp(percentile, 50.0, 100.0)) / 200.0;
  const double w = (static_cast<double>(hi_) - lo_) / kBins;
  int a = 0, b = kBins - 1;
  for (double seen = 0; a < kBins - 1 && seen + bins_[a] <= tail; ++a) seen += bins_[a];
  for (double seen = 0; b > a && seen + bins_[b] <= tail; --b) seen += bins_[b];
  return {static_cast<float>(lo_ + a * w), static_cast<float>(lo_ + (b + 1) * w)};
}

namespace {

// Expected squared error of quantizing the histogram's mass to 256 levels over [lo, hi]
// (widened to hold 0, as the quantizer does), the clipped tails included.
double QuantError(const std::vector<double>& bins, double h_lo, double w, double lo, double hi) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  const double step = (hi - lo) / 255.0;
  if (step <= 0) return std::numeric_limits<double>::infinity();
  double err = 0;
  for (size_t i = 0; i < bins.size(); ++i) {
    if (bins[i] == 0) continue;
    const double x = h_lo + (static_cast<double>(i) + 0.5) * w;
    const double c = std::clamp(x, lo, hi);
    // Inside the range the rounding error is uniform over a step: step^2 / 12.
    const double d = x - c;
    err += bins[i] * (d * d + step * step / 12.0);
  }
  return err;
}

}  // namespace

Range Histogram::MinMse() const {
  if (empty_) return {};
  const double w = (static_cast<double>(hi_) - lo_) / kBins;
  double best = std::numeric_limits<double>::infinity();
  Range r = Full();
  // Shrink both ends towards zero by the same fraction of their distance from it.
  for (int k = 0; k < 200; ++k) {
    const double f = 1.0 - k / 200.0;
    const double lo = std::min<double>(lo_, 0.0) * f, hi = std::max<double>(hi_, 0.0) * f;
    const double e = QuantError(bins_, lo_, w, lo, hi);
    if (e < best) {
      best = e;
      r = {static_cast<float>(lo), static_cast<float>(hi)};
    }
  }
  return r;
}

StatusOr<std::unique_ptr<Session>> SessionWithOutputs(const Model& model,
                                                      const std::vector<std::string>& values,
                                                      const SessionOptions& options) {
  Model m = model;
  for (const std::string& v : values) {
    bool present = false;
    for (const auto& o : m.graph.outputs) present = present || o.name == v;
    if (present) continue;
    ValueInfo info;
    info.name = v;
    info.dtype = DataType::kFloat32;
    m.graph.outputs.push_back(info);
  }
  HONE_ASSIGN_OR_RETURN(std::string bytes, ExportOnnxModel(m));
  return Session::FromBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
      options);
}

StatusOr<std::unique_ptr<Calibrator>> Calibrator::Create(const Model& model,
                                                         const std::vector<std::string>& values,
                                                         Method method,
                                                         const SessionOptions& options) {
  std::unique_ptr<Calibrator> c(new Calibrator());
  HONE_ASSIGN_OR_RETURN(c->session_, SessionWithOutputs(model, values, options));
  c->values_ = values;
  c->method_ = method;
  return c;
}

Status Calibrator::Observe(const std::vector<NamedTensor>& feed) {
  HONE_ASSIGN_OR_RETURN(std::vector<NamedTensor> out, session_->Run(feed, values_));
  for (const NamedTensor& nt : out) {
    const Tensor& t = nt.tensor;
    if (t.dtype() != DataType::kFloat32)
      return InvalidArgument("value '{}' is {}, not float32: it cannot be calibrated", nt.name,
                             DataTypeName(t.dtype()));
    const float* x = t.data<float>();
    if (method_ == Method::kMinMax) {
      float lo = std::numeric_limits<float>::infinity(), hi = -lo;
      for (int64_t i = 0; i < t.numel(); ++i) {
        if (!std::isfinite(x[i])) continue;
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
      }
      if (lo > hi) continue;
      auto [it, fresh] = minmax_.try_emplace(nt.name, Range{lo, hi});
      if (!fresh) {
        it->second.lo = std::min(it->second.lo, lo);
        it->second.hi = std::max(it->second.hi, hi);
      }
    } else {
      hist_[nt.name].Add(x, t.numel());
    }
  }
  ++batches_;
  return Status::Ok();
}

std::map<std::string, Range> Calibrator::Ranges(double percentile) const {
  if (method_ == Method::kMinMax) return minmax_;
  std::map<std::string, Range> out;
  for (const auto& [name, h] : hist_) {
    if (h.empty()) continue;
    out[name] = method_ == Method::kPercentile ? h.Percentile(percentile) : h.MinMse();
  }
  return out;
}

}  // namespace hone::quant
