#include "ml/model_selection.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

#include "core/errors.h"
#include "ml/linalg.h"

namespace hone::ml {

namespace {

Fold FromTestMask(const std::vector<int64_t>& rows, const std::vector<int>& fold_of, int f) {
  Fold out;
  for (size_t i = 0; i < rows.size(); ++i)
    (fold_of[i] == f ? out.test : out.train).push_back(rows[i]);
  return out;
}

// k folds need k >= 2 and at least k rows.
Status CheckFolds(size_t rows, int k) {
  if (k < 2) return InvalidArgument("cross-validation needs at least 2 folds, got {}", k);
  if (rows < static_cast<size_t>(k))
    return InvalidArgument("{} folds need at least {} rows, got {}", k, k, rows);
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<Fold>> KFold(const std::vector<int64_t>& rows, int k) {
  HONE_RETURN_IF_ERROR(CheckFolds(rows.size(), k));
  const size_t n = rows.size(), uk = static_cast<size_t>(k);
  std::vector<int> fold_of(n);
  size_t start = 0;
  for (size_t f = 0; f < uk; ++f) {
    const size_t size = n / uk + (f < n % uk ? 1 : 0);
    for (size_t i = start; i < start + size; ++i) fold_of[i] = static_cast<int>(f);
    start += size;
  }
  std::vector<Fold> folds;
  for (int f = 0; f < static_cast<int>(uk); ++f) folds.push_back(FromTestMask(rows, fold_of, f));
  return folds;
}

StatusOr<std::vector<Fold>> StratifiedKFold(const std::vector<int64_t>& rows,
                                            const std::vector<int32_t>& labels, int k) {
  HONE_RETURN_IF_ERROR(CheckFolds(rows.size(), k));
  if (labels.size() != rows.size()) return InvalidArgument("one label per row is needed");
  // Classes numbered by first appearance; each class's rows go to the folds in blocks, the
  // block sizes dealt round-robin over the sorted labels (scikit-learn's allocation).
  std::map<int32_t, int> order;
  std::vector<int> enc(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    auto it = order.emplace(labels[i], static_cast<int>(order.size())).first;
    enc[i] = it->second;
  }
  const size_t classes = order.size();
  std::vector<int> sorted = enc;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<int64_t>> alloc(static_cast<size_t>(k), std::vector<int64_t>(classes));
  for (size_t i = 0; i < sorted.size(); ++i)
    alloc[i % static_cast<size_t>(k)][static_cast<size_t>(sorted[i])]++;
  std::vector<int64_t> counts(classes);
  for (int e : enc) counts[static_cast<size_t>(e)]++;
  if (*std::max_element(counts.begin(), counts.end()) < k)
    return InvalidArgument("{} folds: every class has fewer than {} rows", k, k);
  std::vector<int> fold_of(labels.size());
  for (size_t c = 0; c < classes; ++c) {
    std::vector<int> folds_for_class;
    for (int f = 0; f < k; ++f)
      folds_for_class.insert(folds_for_class.end(),
                             static_cast<size_t>(alloc[static_cast<size_t>(f)][c]), f);
    size_t next = 0;
    for (size_t i = 0; i < enc.size(); ++i)
      if (enc[i] == static_cast<int>(c)) fold_of[i] = folds_for_class[next++];
  }
  std::vector<Fold> folds;
  for (int f = 0; f < k; ++f) {
    folds.push_back(FromTestMask(rows, fold_of, f));
    if (folds.back().test.empty() || folds.back().train.empty())
      return InvalidArgument("fold {} of {} would be empty ({} rows)", f, k, rows.size());
  }
  return folds;
}

Fold TrainTestSplit(int64_t n, double test_fraction, uint64_t seed,
                    const std::vector<int32_t>* labels) {
  std::mt19937_64 rng(seed);
  std::map<int32_t, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < n; ++i)
    groups[labels ? (*labels)[static_cast<size_t>(i)] : 0].push_back(i);
  Fold out;
  for (auto& [label, members] : groups) {
    std::shuffle(members.begin(), members.end(), rng);
    const size_t test =
        static_cast<size_t>(std::llround(test_fraction * static_cast<double>(members.size())));
    out.test.insert(out.test.end(), members.begin(),
                    members.begin() + static_cast<std::ptrdiff_t>(test));
    out.train.insert(out.train.end(), members.begin() + static_cast<std::ptrdiff_t>(test),
                     members.end());
  }
  std::sort(out.test.begin(), out.test.end());
  std::sort(out.train.begin(), out.train.end());
  return out;
}

std::vector<Params> Grid(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& grid) {
  std::vector<Params> out = {Params{}};
  for (const auto& [name, values] : grid) {
    std::vector<Params> next;
    for (const Params& p : out)
      for (const std::string& v : values) {
        Params q = p;
        q[name] = v;
        next.push_back(std::move(q));
      }
    out = std::move(next);
  }
  return out;
}

bool IsDistribution(const std::vector<std::string>& values) {
  if (values.size() != 1) return false;
  const std::string& v = values[0];
  return v.rfind("uniform:", 0) == 0 || v.rfind("loguniform:", 0) == 0 ||
         v.rfind("randint:", 0) == 0;
}

StatusOr<std::vector<Params>> RandomCandidates(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& space, int n,
    uint64_t seed) {
  if (n < 1) return InvalidArgument("a randomized search needs at least 1 candidate, got {}", n);
  struct Dist {
    std::string kind;  // "" = choice
    double lo = 0, hi = 0;
  };
  std::vector<Dist> dists;
  for (const auto& [name, values] : space) {
    Dist d;
    if (values.empty()) return InvalidArgument("parameter {} has no values", name);
    if (IsDistribution(values)) {
      const std::string& v = values[0];
      const size_t a = v.find(':'), b = v.find(':', a + 1);
      try {
        if (b == std::string::npos) throw std::invalid_argument(v);
        d.kind = v.substr(0, a);
        size_t used = 0;
        d.lo = std::stod(v.substr(a + 1, b - a - 1), &used);
        d.hi = std::stod(v.substr(b + 1), &used);
        if (used != v.size() - b - 1) throw std::invalid_argument(v);
      } catch (const std::exception&) {
        return InvalidArgument("parameter {}: '{}' is not KIND:LO:HI with numbers", name, v);
      }
      if (!(d.lo < d.hi) && !(d.kind == "randint" && d.lo == d.hi))
        return InvalidArgument("parameter {}: '{}' needs LO below HI", name, v);
      if (d.kind == "loguniform" && !(d.lo > 0))
        return InvalidArgument("parameter {}: '{}' needs LO > 0", name, v);
    }
    dists.push_back(d);
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<Params> out;
  for (int i = 0; i < n; ++i) {
    Params p;
    for (size_t k = 0; k < space.size(); ++k) {
      const auto& [name, values] = space[k];
      const Dist& d = dists[k];
      if (d.kind.empty()) {
        p[name] = values[static_cast<size_t>(rng() % values.size())];
      } else if (d.kind == "uniform") {
        p[name] = fmt::format("{:.6g}", d.lo + unit(rng) * (d.hi - d.lo));
      } else if (d.kind == "loguniform") {
        p[name] = fmt::format(
            "{:.6g}", std::exp(std::log(d.lo) + unit(rng) * (std::log(d.hi) - std::log(d.lo))));
      } else {
        const int64_t lo = std::llround(d.lo), hi = std::llround(d.hi);
        p[name] =
            std::to_string(lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1)));
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

StatusOr<std::vector<CandidateResult>> Search(
    const std::vector<Params>& candidates, const std::vector<Fold>& folds,
    const std::function<StatusOr<double>(const Params&, const Fold&)>& fit_score,
    const SearchOptions& options) {
  const int total = static_cast<int>(candidates.size() * folds.size());
  std::vector<double> scores(static_cast<size_t>(total)), seconds(static_cast<size_t>(total));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;  // guards error, done and the progress calls
  Status error = Status::Ok();
  int done = 0;
  auto work = [&] {
    SetThreads(1);  // this worker's OpenMP team: one thread per fit, the workers share the cores
    for (int t = next++; t < total && !failed; t = next++) {
      const size_t c = static_cast<size_t>(t) / folds.size(),
                   f = static_cast<size_t>(t) % folds.size();
      const auto t0 = std::chrono::steady_clock::now();
      StatusOr<double> s = fit_score(candidates[c], folds[f]);
      seconds[static_cast<size_t>(t)] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::lock_guard<std::mutex> lock(mu);
      if (!s.ok()) {
        if (!failed) error = s.status();
        failed = true;
        return;
      }
      scores[static_cast<size_t>(t)] = *s;
      ++done;
      if (options.progress) options.progress(done, total);
    }
  };
  const int workers = std::clamp(options.threads, 1, std::max(total, 1));
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (failed) return error;
  std::vector<CandidateResult> out(candidates.size());
  for (size_t c = 0; c < candidates.size(); ++c) {
    CandidateResult& r = out[c];
    r.params = candidates[c];
    double fit = 0;
    for (size_t f = 0; f < folds.size(); ++f) {
      r.fold_scores.push_back(scores[c * folds.size() + f]);
      fit += seconds[c * folds.size() + f];
    }
    const double nf = static_cast<double>(folds.size());
    r.mean_score = std::accumulate(r.fold_scores.begin(), r.fold_scores.end(), 0.0) / nf;
    double var = 0;
    for (double s : r.fold_scores) var += (s - r.mean_score) * (s - r.mean_score);
    r.std_score = std::sqrt(var / nf);
    r.mean_fit_seconds = fit / nf;
  }
  std::vector<size_t> order(out.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return out[a].mean_score > out[b].mean_score; });
  for (size_t i = 0; i < order.size(); ++i) out[order[i]].rank = static_cast<int>(i) + 1;
  return out;
}

}  // namespace hone::ml
