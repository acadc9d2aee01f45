// Calibration for static quantization: run the float model over sample inputs and record the
// range of every value that will be quantized (min/max, or a histogram from which a clipping
// range is chosen: percentile or least squared quantization error).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hone/session.h"
#include "hone/status.h"
#include "ir/graph.h"

namespace hone::quant {

enum class Method { kMinMax, kPercentile, kMse };
// "minmax", "percentile", "mse".
StatusOr<Method> ParseMethod(const std::string& s);
const char* MethodName(Method m);

struct Range {
  float lo = 0, hi = 0;
};

// A histogram of a value's elements over [lo, hi], widened (the old counts re-binned) when a
// later batch reaches outside it.
class Histogram {
 public:
  static constexpr int kBins = 2048;
  void Add(const float* x, int64_t n);
  bool empty() const { return empty_; }
  Range Full() const { return {lo_, hi_}; }
  // The range that leaves (100 - percentile) / 2 percent of the elements outside on each side.
  Range Percentile(double percentile) const;
  // The clipping range whose 8-bit asymmetric quantization has the least expected squared error.
  Range MinMse() const;

 private:
  void Widen(float lo, float hi);
  float lo_ = 0, hi_ = 0;
  bool empty_ = true;
  std::vector<double> bins_;
};

class Calibrator {
 public:
  // Observes `values` (float32 tensors of `model`, which should already be optimised as it
  // will be quantized) while running the model with `options`.
  static StatusOr<std::unique_ptr<Calibrator>> Create(const Model& model,
                                                      const std::vector<std::string>& values,
                                                      Method method, const SessionOptions& options);
  Status Observe(const std::vector<NamedTensor>& feed);
  int64_t batches() const { return batches_; }
  // The range per value; `percentile` is used by Method::kPercentile.
  std::map<std::string, Range> Ranges(double percentile) const;

 private:
  Calibrator() = default;
  std::unique_ptr<Session> session_;
  std::vector<std::string> values_;
  Method method_ = Method::kMinMax;
  std::map<std::string, Range> minmax_;
  std::map<std::string, Histogram> hist_;
  int64_t batches_ = 0;
};

// A copy of `model` whose graph also outputs `values` (float32 tensors), as ONNX bytes that
// Session::FromBytes loads: how calibration and the per-layer error report read intermediate
// values.
StatusOr<std::unique_ptr<Session>> SessionWithOutputs(const Model& model,
                                                      const std::vector<std::string>& values,
                                                      const SessionOptions& options);

}  // namespace hone::quant
