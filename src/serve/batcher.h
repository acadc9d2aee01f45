// The dynamic batcher's policy: which queued requests run together next, which have timed out,
// and when to look again. A pure function of (queue snapshot, config, now) -- no locks, no
// clocks -- so that it is tested as a table (tests/unit/serve_batcher_test.cc); the threads,
// the condition variable and the model run live in the scheduler that calls it.
//
// Semantics follow Triton's dynamic batcher (config.pbtxt `dynamic_batching`):
// - Only requests whose inputs agree in everything but the batch dimension (`shape_key`) run
//   together; the oldest waiting request leads. With preserve_ordering the batch is a run of
//   consecutive compatible requests; without it, later compatible requests may join past
//   incompatible ones.
// - A batch never exceeds max_batch_size rows. It runs at once when it is full or when its
//   rows equal a preferred batch size (the largest one reachable); otherwise it runs when the
//   oldest request has waited max_queue_delay_us (0: at once).
// - A request past its deadline is timed out (timeout_action REJECT) or, with DELAY, waits
//   behind every request still in time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hone::serve {

enum class TimeoutAction { kReject, kDelay };

struct BatcherConfig {
  int64_t max_batch_size = 0;                  // rows; 0: the model does not batch (one at a time)
  std::vector<int64_t> preferred_batch_sizes;  // rows, each <= max_batch_size
  int64_t max_queue_delay_us = 0;
  bool preserve_ordering = false;
  int64_t max_queue_size = 0;      // requests waiting; 0: unbounded
  int64_t default_timeout_us = 0;  // 0: none (a request may carry its own)
  TimeoutAction timeout_action = TimeoutAction::kReject;
};

// One waiting request as the policy sees it.
struct Pending {
  int64_t rows = 1;       // its batch dimension (1 when the model does not batch)
  std::string shape_key;  // inputs' names, dtypes and non-batch dims: equal keys batch together
  int64_t arrival_us = 0;
  int64_t deadline_us = 0;  // 0: none
};

struct BatchDecision {
  std::vector<size_t> batch;      // indices into the snapshot, in queue order; empty: run nothing
  std::vector<size_t> timed_out;  // to answer with a timeout error now
  int64_t wake_at_us = -1;        // look again at this time at the latest; -1: only on arrival
};

// Whether one more request of `rows` may join a queue holding `waiting` requests; the reason
// when not (for the client's error).
struct Admission {
  bool ok = true;
  std::string reason;
};
Admission Admit(int64_t waiting, int64_t rows, const BatcherConfig& config);

BatchDecision DecideBatch(const std::vector<Pending>& queue, const BatcherConfig& config,
                          int64_t now_us);

// The deadline a request arriving at `arrival_us` gets: its own timeout, else the queue
// policy's default; 0 for none.
int64_t Deadline(int64_t arrival_us, int64_t request_timeout_us, const BatcherConfig& config);

}  // namespace hone::serve
