// hone bench MODEL: session creation time, latency percentiles, peak RSS.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "cli.h"

namespace hone::cli {
namespace {
double PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}
double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(std::min<double>(v.size() - 1, std::ceil(p * v.size()) - 1));
  return v[k];
}
// The timed runs' share of the profile: `now` minus what the warm-up runs had added by `before`.
std::vector<NodeProfile> Since(const std::vector<NodeProfile>& before,
                               std::vector<NodeProfile> now) {
  std::map<std::pair<std::string, std::string>, const NodeProfile*> seen;
  for (const auto& n : before) seen[{n.node, n.op}] = &n;
  for (auto& n : now) {
    auto it = seen.find({n.node, n.op});
    if (it == seen.end()) continue;
    n.calls -= it->second->calls;
    n.total_ms -= it->second->total_ms;
  }
  return now;
}

void PrintProfile(std::vector<NodeProfile> nodes, int runs) {
  double total = 0;
  std::map<std::string, std::pair<double, int64_t>> by_op;  // op -> (ms, nodes)
  for (const auto& n : nodes) {
    total += n.total_ms;
    auto& e = by_op[n.op + " [" + n.kernel + "]"];
    e.first += n.total_ms;
    e.second++;
  }
  std::vector<std::pair<std::string, std::pair<double, int64_t>>> ops(by_op.begin(), by_op.end());
  std::sort(ops.begin(), ops.end(),
            [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  fmt::print("\nprofile: ms per run (averaged over the {} timed runs), by op type and kernel\n",
             runs);
  for (const auto& [op, e] : ops)
    fmt::print("  {:<44} {:>4} nodes {:>10.3f} ms {:>6.1f}%\n", op, e.second, e.first / runs,
               100 * e.first / std::max(total, 1e-9));
  std::sort(nodes.begin(), nodes.end(),
            [](const auto& a, const auto& b) { return a.total_ms > b.total_ms; });
  fmt::print("slowest nodes:\n");
  for (size_t i = 0; i < std::min<size_t>(nodes.size(), 10); ++i)
    fmt::print("  {:<44} {:<16} {:>10.3f} ms\n", nodes[i].node.substr(0, 44), nodes[i].op,
               nodes[i].total_ms / runs);
}

}  // namespace

Runner SetupBench(CLI::App& app) {
  struct Opts {
    std::string model;
    std::vector<std::string> inputs;
    int warmup = 5, runs = 20;
    SessionFlags session;
    bool json = false;
    bool profile = false;
    uint64_t seed = 0;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("model", o->model, "ONNX model file")->required();
  app.add_option("--input,-i", o->inputs, "NAME=FILE.npy (inputs not given are random)");
  AddSessionFlags(app, o->session);
  app.add_option("--warmup", o->warmup, "untimed runs first")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--runs", o->runs, "timed runs")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", o->json, "print one JSON object");
  app.add_flag("--profile", o->profile,
               "after the timed runs, print their time per op type and the slowest nodes "
               "(warm-up runs excluded; profiling adds a little overhead to the timed runs)");
  app.add_flag(
      "--random", [](int64_t) {},
      "accepted for symmetry with `hone run`; bench always fills missing inputs randomly");
  return [o]() -> int {
    auto opts = SessionOptionsFrom(o->session);
    if (!opts.ok()) return Fail(opts.status());
    SessionOptions so = *opts;
    so.profile = o->profile;
    auto t0 = std::chrono::steady_clock::now();
    auto s = Session::FromFile(o->model, so);
    double create_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) return Fail(s.status());
    auto feed = LoadInputs(**s, o->inputs, true, o->seed);
    if (!feed.ok()) return Fail(feed.status());
    for (int i = 0; i < o->warmup; ++i) {
      auto r = (*s)->Run(*feed);
      if (!r.ok()) return Fail(r.status());
    }
    std::vector<double> ms;
    const std::vector<NodeProfile> after_warmup =
        o->profile ? (*s)->profile() : std::vector<NodeProfile>{};
    for (int i = 0; i < o->runs; ++i) {
      auto a = std::chrono::steady_clock::now();
      auto r = (*s)->Run(*feed);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
      if (!r.ok()) return Fail(r.status());
    }
    double median = Percentile(ms, 0.5), p90 = Percentile(ms, 0.9);
    double mn = *std::min_element(ms.begin(), ms.end());
    int threads = o->session.threads;
    if (o->json) {
      std::string model = o->model;
      std::string esc;
      for (char c : model) {
        if (c == '"' || c == '\\') esc += '\\';
        esc += c;
      }
      fmt::print(
          "{{\"model\": \"{}\", \"threads\": {}, \"create_ms\": {:.3f}, \"median_ms\": {:.4f}, "
          "\"p90_ms\": {:.4f}, \"min_ms\": {:.4f}, \"runs\": {}, \"peak_rss_mb\": {:.1f}}}\n",
          esc, threads, create_ms, median, p90, mn, o->runs, PeakRssMb());
    } else {
      fmt::print(
          "model        {}\nthreads      {}\ncreate       {:.2f} ms\nruns         {} (after {} "
          "warm-up)\n"
          "median       {:.3f} ms\np90          {:.3f} ms\nmin          {:.3f} ms\npeak RSS     "
          "{:.1f} MB\n",
          o->model, threads == 0 ? std::string("all cores") : std::to_string(threads), create_ms,
          o->runs, o->warmup, median, p90, mn, PeakRssMb());
    }
    if (o->profile) PrintProfile(Since(after_warmup, (*s)->profile()), o->runs);
    return 0;
  };
}

}  // namespace hone::cli
