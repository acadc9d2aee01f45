// Intra-op parallelism. The team is OpenMP's, the same one oneDNN's kernels run on, so hone's own
// kernels and oneDNN's never compete with two sets of threads for the cores (with separate pools,
// 2-thread runs of small models were 2-3x slower than 1-thread ones: each pool's threads spun
// while the other's worked). ParallelFor may be called from several threads at once (concurrent
// Session::Run): each caller gets its own team.
#pragma once

#include <cstdint>
#include <functional>

namespace hone {

class ThreadPool {
 public:
  // `threads` is the total parallelism wanted (caller included); 0 = one per core.
  explicit ThreadPool(int threads);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int parallelism() const { return threads_; }

  // Calls fn(begin, end) over [0, n) in at most parallelism() contiguous chunks of at least
  // `grain` items; returns when all are done. An exception from fn is rethrown here.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  int threads_;
};

}  // namespace hone
