// hone serve's metrics in Prometheus' text format (GET /metrics): per model and version,
// request success / failure counts, inferences (rows) and executions (batches), request,
// queue and compute durations and batch sizes as histograms; server-wide: response cache hits
// and misses, pending requests, loaded models and resident memory. Counters are atomics: the
// request path records without a lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hone::serve {

// Cumulative histogram over fixed upper bounds (Prometheus' `le` buckets, +Inf implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // `name`_bucket{labels,le=...}, `name`_sum, `name`_count lines.
  void Render(const std::string& name, const std::string& labels, std::string& out) const;
  int64_t count() const { return count_.load(); }
  // Observations in the bucket whose upper bound is `bound` exactly (not cumulative).
  int64_t CountAt(double bound) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<int64_t>[]> counts_;  // one per bound, then +Inf
  std::atomic<int64_t> count_{0};
  std::atomic<double> sum_{0};
};

struct ModelMetrics {
  ModelMetrics();
  std::atomic<int64_t> success{0}, failure{0};
  std::atomic<int64_t> inferences{0}, executions{0};
  Histogram request_us, queue_us, compute_us, batch_size;
};

class Metrics {
 public:
  // The metrics of (model, version), created on first use and kept (stable address).
  ModelMetrics& For(const std::string& model, int64_t version);
  // Gauges read at render time: (model, version) -> pending requests; cache counts; loaded
  // models.
  using Gauges = std::function<void(std::string& out)>;
  std::string Render(const Gauges& gauges) const;

 private:
  mutable std::mutex mu_;  // guards models_ (the map, not the counters)
  std::map<std::pair<std::string, int64_t>, std::unique_ptr<ModelMetrics>> models_;
};

// The process's resident set size in bytes (from /proc/self/statm); 0 when unknown.
int64_t ResidentBytes();

}  // namespace hone::serve
