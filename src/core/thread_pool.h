// Intra-op parallelism. The team is OpenMP's, the same one oneDNN's kernels run on, so hone's own
// kernels and oneDNN's never compete with two sets of threads for the cores (with separate pools,
// 2-thread runs of small models were 2-3x slower than 1-thread ones: each pool's threads spun
// while the other's worked). ParallelFor may be called from several threads at once (concurrent
// Session::Run): each caller gets its own team.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace hone {

// A non-owning reference to a callable (what std::function_ref will be): passing a lambda costs
// no allocation, unlike std::function, whose small buffer holds two pointers' worth of captures.
// The callable must outlive the call it is passed to.
template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> &&
           std::is_invocable_r_v<R, F&, Args...>)
      FunctionRef(F&& f)  // NOLINT: implicit, like std::function
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

class ThreadPool {
 public:
  // `threads` is the total parallelism wanted (caller included); 0 = one per core.
  explicit ThreadPool(int threads);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int parallelism() const { return threads_; }

  // Calls fn(begin, end) over [0, n) in at most parallelism() contiguous chunks of at least
  // `grain` items; returns when all are done. An exception from fn is rethrown here.
  void ParallelFor(int64_t n, int64_t grain, FunctionRef<void(int64_t, int64_t)> fn);

 private:
  int threads_;
};

}  // namespace hone
