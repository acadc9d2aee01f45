// One loaded model version in hone serve: its session, its completed spec, its request queue
// and the worker threads (config.pbtxt instance_group count) that take batches from it as the
// batcher policy (serve/batcher.h) decides, run them and answer each request.
//
//   auto runner = ModelRunner::Load(entry, version, /*threads=*/2);
//   auto result = (*runner)->Submit(inputs, {}, /*timeout_us=*/0).get();  // outputs or error
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hone/session.h"
#include "hone/status.h"
#include "serve/batcher.h"
#include "serve/metrics.h"
#include "serve/repository.h"

namespace hone::serve {

using InferResult = StatusOr<std::vector<NamedTensor>>;

class ModelRunner {
 public:
  // Loads `version` of `entry`: the session (with `threads` intra-op threads shared by the
  // instances) and the spec, completed from the model where config.pbtxt is silent and checked
  // against it where it is not (errors name the config file and the field).
  static StatusOr<std::unique_ptr<ModelRunner>> Load(const ModelEntry& entry, int64_t version,
                                                     int threads);
  // Stops taking requests, finishes the queued ones, joins the workers.
  ~ModelRunner();

  const ModelSpec& spec() const { return spec_; }
  int64_t version() const { return version_; }
  int64_t pending() const;
  // Where executions, rows, queue and compute times and batch sizes are counted (set before the
  // first Submit; the metrics outlive the runner).
  void set_metrics(ModelMetrics* m) { metrics_ = m; }

  // Checks `inputs` against the spec (names, dtypes, shapes, batch size) and queues them; the
  // future gets the requested outputs (all when `outputs` is empty) or the error. A request
  // refused at once (bad input, full queue) gets a ready future with the error.
  std::future<InferResult> Submit(std::vector<NamedTensor> inputs, std::vector<std::string> outputs,
                                  int64_t timeout_us);

 private:
  struct Request {
    std::vector<NamedTensor> inputs;
    std::vector<std::string> outputs;
    Pending policy;  // what the batcher sees
    std::promise<InferResult> done;
  };
  ModelRunner(std::unique_ptr<Session> session, ModelSpec spec, int64_t version);
  Status Check(const std::vector<NamedTensor>& inputs, const std::vector<std::string>& outputs,
               int64_t& rows) const;
  void Work();
  void RunBatch(std::vector<Request> batch);

  std::unique_ptr<Session> session_;
  ModelSpec spec_;
  BatcherConfig policy_;  // spec_.batcher with dynamic batching, else one request per run
  // Dynamic batching: the row counts a batch runs at (padded with zero rows up to the next),
  // ascending; empty: batches run at their own size.
  std::vector<int64_t> buckets_;
  int64_t version_;
  int session_threads_ = 1;  // intra-op threads of the session
  ModelMetrics* metrics_ = nullptr;
  mutable std::mutex mu_;  // guards queue_ and stopping_
  std::condition_variable wake_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  int idle_ = 0;  // instances not running a batch (workers and callers run within this)
  std::vector<std::thread> workers_;
};

// The batch sizes a dynamically batched model runs at: 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (powers
// of two and the midpoints above 2) below max_batch_size, max_batch_size and the preferred
// sizes; a batch is padded with zero rows to the next one, wasting at most a third of a run
// above 4 rows. Empty when max_batch_size is 0.
std::vector<int64_t> BatchBuckets(int64_t max_batch_size, const std::vector<int64_t>& preferred);

// Microseconds on the steady clock (the batcher's time base).
int64_t NowUs();

}  // namespace hone::serve
