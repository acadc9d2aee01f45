#include "serve/metrics.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>

namespace hone::serve {
namespace {

std::vector<double> Exponential(double first, double factor, int n) {
  std::vector<double> b;
  for (double v = first; static_cast<int>(b.size()) < n; v *= factor) b.push_back(v);
  return b;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<int64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1);
  count_.fetch_add(1);
  double s = sum_.load();
  while (!sum_.compare_exchange_weak(s, s + v)) {
  }
}

int64_t Histogram::CountAt(double bound) const {
  for (size_t i = 0; i < bounds_.size(); ++i)
    if (bounds_[i] == bound) return counts_[i].load();
  return 0;
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string& out) const {
  int64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i].load();
    out +=
        fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds_[i], cumulative);
  }
  cumulative += counts_[bounds_.size()].load();
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  out += fmt::format("{}_sum{{{}}} {}\n", name, labels, sum_.load());
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, count_.load());
}

ModelMetrics::ModelMetrics()
    : request_us(Exponential(100, 2, 16)),  // 100 us ... 3.3 s
      queue_us(Exponential(100, 2, 16)),
      compute_us(Exponential(100, 2, 16)),
      batch_size(Exponential(1, 2, 11)) {}  // 1, 2, 4 ... 1024 rows

ModelMetrics& Metrics::For(const std::string& model, int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& m = models_[{model, version}];
  if (!m) m = std::make_unique<ModelMetrics>();
  return *m;
}

std::string Metrics::Render(const Gauges& gauges) const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  struct Counter {
    const char* name;
    const char* help;
    std::atomic<int64_t> ModelMetrics::*field;
  };
  const Counter counters[] = {
      {"hone_inference_request_success_total", "Inference requests answered",
       &ModelMetrics::success},
      {"hone_inference_request_failure_total", "Inference requests answered with an error",
       &ModelMetrics::failure},
      {"hone_inference_count_total", "Rows inferred (a batch of n rows counts n)",
       &ModelMetrics::inferences},
      {"hone_inference_exec_count_total", "Model executions (one per batch)",
       &ModelMetrics::executions},
  };
  for (const Counter& c : counters) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", c.name, c.help, c.name);
    for (const auto& [key, m] : models_)
      out += fmt::format("{}{{model=\"{}\",version=\"{}\"}} {}\n", c.name, key.first, key.second,
                         ((*m).*(c.field)).load());
  }
  struct Hist {
    const char* name;
    const char* help;
    Histogram ModelMetrics::*field;
  };
  const Hist hists[] = {
      {"hone_request_duration_us", "Request time in the server, microseconds",
       &ModelMetrics::request_us},
      {"hone_queue_duration_us", "Time waiting for a batch, microseconds", &ModelMetrics::queue_us},
      {"hone_compute_duration_us", "Model execution time per batch, microseconds",
       &ModelMetrics::compute_us},
      {"hone_batch_size", "Rows per model execution", &ModelMetrics::batch_size},
  };
  for (const Hist& h : hists) {
    out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", h.name, h.help, h.name);
    for (const auto& [key, m] : models_)
      ((*m).*(h.field))
          .Render(h.name, fmt::format("model=\"{}\",version=\"{}\"", key.first, key.second), out);
  }
  if (gauges) gauges(out);
  out +=
      "# HELP hone_process_resident_memory_bytes Resident memory of the server\n"
      "# TYPE hone_process_resident_memory_bytes gauge\n";
  out += fmt::format("hone_process_resident_memory_bytes {}\n", ResidentBytes());
  return out;
}

int64_t ResidentBytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace hone::serve
