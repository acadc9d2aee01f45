#include "serve/batcher.h"

#include <fmt/format.h>

#include <algorithm>

namespace hone::serve {

Admission Admit(int64_t waiting, int64_t rows, const BatcherConfig& config) {
  if (config.max_batch_size > 0 && rows > config.max_batch_size)
    return {false, fmt::format("the request has {} rows; the model's max_batch_size is {}", rows,
                               config.max_batch_size)};
  if (rows < 1 && config.max_batch_size > 0)
    return {false, fmt::format("the request has {} rows; at least 1 is needed", rows)};
  if (config.max_queue_size > 0 && waiting >= config.max_queue_size)
    return {false, fmt::format("the queue is full ({} requests waiting, max_queue_size {})",
                               waiting, config.max_queue_size)};
  return {};
}

int64_t Deadline(int64_t arrival_us, int64_t request_timeout_us, const BatcherConfig& config) {
  if (request_timeout_us > 0) return arrival_us + request_timeout_us;
  if (config.default_timeout_us > 0) return arrival_us + config.default_timeout_us;
  return 0;
}

BatchDecision DecideBatch(const std::vector<Pending>& queue, const BatcherConfig& config,
                          int64_t now_us) {
  BatchDecision d;
  // In-time requests lead in queue order; with DELAY, late ones follow them.
  std::vector<size_t> order, late;
  int64_t next_deadline = -1;
  for (size_t i = 0; i < queue.size(); ++i) {
    const Pending& p = queue[i];
    const bool expired = p.deadline_us > 0 && p.deadline_us <= now_us;
    if (expired && config.timeout_action == TimeoutAction::kReject) {
      d.timed_out.push_back(i);
      continue;
    }
    (expired ? late : order).push_back(i);
    if (!expired && p.deadline_us > 0)
      next_deadline = next_deadline < 0 ? p.deadline_us : std::min(next_deadline, p.deadline_us);
  }
  order.insert(order.end(), late.begin(), late.end());
  d.wake_at_us = next_deadline;
  if (order.empty()) return d;

  const Pending& head = queue[order[0]];
  if (config.max_batch_size <= 0) {  // no batching: one request per run, in order
    d.batch = {order[0]};
    return d;
  }
  // The candidate batch: the head and the compatible requests after it, while they fit.
  std::vector<size_t> candidates;
  std::vector<int64_t> prefix;  // rows after each candidate
  int64_t rows = 0;
  for (size_t i : order) {
    const Pending& p = queue[i];
    if (p.shape_key != head.shape_key) {
      if (config.preserve_ordering) break;
      continue;
    }
    if (rows + p.rows > config.max_batch_size) break;
    rows += p.rows;
    candidates.push_back(i);
    prefix.push_back(rows);
  }
  // The largest preferred size some prefix reaches exactly (its length), if any.
  size_t preferred_len = 0;
  int64_t preferred_rows = 0;
  for (size_t k = 0; k < prefix.size(); ++k)
    for (int64_t p : config.preferred_batch_sizes)
      if (prefix[k] == p && p > preferred_rows) {
        preferred_rows = p;
        preferred_len = k + 1;
      }
  const int64_t largest_preferred = config.preferred_batch_sizes.empty()
                                        ? 0
                                        : *std::max_element(config.preferred_batch_sizes.begin(),
                                                            config.preferred_batch_sizes.end());
  const bool full = rows == config.max_batch_size;
  const bool best_preferred = preferred_len > 0 && preferred_rows == largest_preferred;
  const int64_t due = head.arrival_us + config.max_queue_delay_us;
  const bool waited = now_us >= due;
  if (full) {
    d.batch = candidates;
  } else if (best_preferred || (waited && preferred_len > 0)) {
    d.batch.assign(candidates.begin(),
                   candidates.begin() + static_cast<std::ptrdiff_t>(preferred_len));
  } else if (waited) {
    d.batch = candidates;
  } else {
    d.wake_at_us = d.wake_at_us < 0 ? due : std::min(d.wake_at_us, due);
  }
  return d;
}

}  // namespace hone::serve
