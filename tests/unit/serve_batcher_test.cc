// The dynamic batcher's policy (serve/batcher.h) as a table: queue snapshot, config, now ->
// the batch, the timed-out requests and the wake-up time.
#include <gtest/gtest.h>

#include "serve/batcher.h"
#include "serve/model_runner.h"

namespace hone::serve {
namespace {

struct Case {
  const char* name;
  BatcherConfig config;
  std::vector<Pending> queue;
  int64_t now;
  std::vector<size_t> batch;
  std::vector<size_t> timed_out;
  int64_t wake_at;
};

BatcherConfig Cfg(int64_t max, std::vector<int64_t> preferred, int64_t delay,
                  bool ordered = false) {
  BatcherConfig c;
  c.max_batch_size = max;
  c.preferred_batch_sizes = std::move(preferred);
  c.max_queue_delay_us = delay;
  c.preserve_ordering = ordered;
  return c;
}

Pending P(int64_t rows, int64_t arrival, const char* key = "a", int64_t deadline = 0) {
  return Pending{rows, key, arrival, deadline};
}

BatcherConfig Late(TimeoutAction action) {
  BatcherConfig c = Cfg(8, {}, 0);
  c.timeout_action = action;
  return c;
}

TEST(Batcher, DecidesAsTheTableSays) {
  const Case cases[] = {
      {"empty queue: nothing, no wake-up", Cfg(8, {}, 100), {}, 0, {}, {}, -1},
      {"no delay: whatever is queued runs at once",
       Cfg(8, {}, 0),
       {P(1, 0), P(2, 5)},
       10,
       {0, 1},
       {},
       -1},
      {"delay not over: wait until the head's arrival + delay",
       Cfg(8, {}, 100),
       {P(1, 0), P(2, 5)},
       50,
       {},
       {},
       100},
      {"delay over: the largest batch that fits",
       Cfg(8, {}, 100),
       {P(1, 0), P(2, 5)},
       100,
       {0, 1},
       {},
       -1},
      {"full before the delay: runs at once",
       Cfg(4, {}, 1000),
       {P(2, 0), P(2, 1), P(1, 2)},
       3,
       {0, 1},
       {},
       -1},
      {"never more than max_batch_size rows", Cfg(4, {}, 0), {P(3, 0), P(3, 1)}, 5, {0}, {}, -1},
      {"largest preferred size reached: runs at once",
       Cfg(8, {2, 4}, 1000),
       {P(1, 0), P(1, 1), P(2, 2), P(1, 3)},
       4,
       {0, 1, 2},
       {},
       -1},
      {"only a smaller preferred size: wait for more",
       Cfg(8, {2, 4}, 1000),
       {P(1, 0), P(1, 1)},
       4,
       {},
       {},
       1000},
      {"delay over: the largest preferred prefix, not all",
       Cfg(8, {2, 4}, 1000),
       {P(1, 0), P(1, 1), P(1, 2)},
       1000,
       {0, 1},
       {},
       -1},
      {"incompatible shapes do not join; later compatible ones may",
       Cfg(8, {}, 0),
       {P(1, 0, "a"), P(1, 1, "b"), P(1, 2, "a")},
       5,
       {0, 2},
       {},
       -1},
      {"preserve_ordering: the batch stops at the first incompatible request",
       Cfg(8, {}, 0, /*ordered=*/true),
       {P(1, 0, "a"), P(1, 1, "b"), P(1, 2, "a")},
       5,
       {0},
       {},
       -1},
      {"REJECT: a request past its deadline is timed out, the rest batch",
       Late(TimeoutAction::kReject),
       {P(1, 0, "a", 50), P(1, 10)},
       60,
       {1},
       {0},
       -1},
      {"a deadline ahead sets the wake-up", Cfg(8, {}, 1000), {P(1, 0, "a", 300)}, 10, {}, {}, 300},
      {"DELAY: a late request waits behind those in time",
       Late(TimeoutAction::kDelay),
       {P(1, 0, "a", 50), P(1, 10, "b")},
       60,
       {1},
       {},
       -1},
      {"no batching (max_batch_size 0): one request at a time, oldest first",
       Cfg(0, {}, 0),
       {P(1, 0), P(1, 1)},
       5,
       {0},
       {},
       -1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const BatchDecision d = DecideBatch(c.queue, c.config, c.now);
    EXPECT_EQ(d.batch, c.batch);
    EXPECT_EQ(d.timed_out, c.timed_out);
    EXPECT_EQ(d.wake_at_us, c.wake_at);
  }
}

TEST(Batcher, AdmitsWithinTheLimitsAndSaysWhyNot) {
  BatcherConfig c = Cfg(4, {}, 0);
  c.max_queue_size = 2;
  EXPECT_TRUE(Admit(0, 4, c).ok);
  const Admission big = Admit(0, 5, c);
  EXPECT_FALSE(big.ok);
  EXPECT_NE(big.reason.find("max_batch_size is 4"), std::string::npos) << big.reason;
  const Admission full = Admit(2, 1, c);
  EXPECT_FALSE(full.ok);
  EXPECT_NE(full.reason.find("queue is full"), std::string::npos) << full.reason;
}

TEST(Batcher, DeadlineFromTheRequestOrTheQueuePolicy) {
  BatcherConfig c;
  EXPECT_EQ(Deadline(100, 0, c), 0);
  c.default_timeout_us = 50;
  EXPECT_EQ(Deadline(100, 0, c), 150);
  EXPECT_EQ(Deadline(100, 20, c), 120);  // the request's own timeout wins
}

TEST(Batcher, BucketsAreFewAndWasteAtMostAThirdAboveFourRows) {
  EXPECT_EQ(BatchBuckets(0, {}), std::vector<int64_t>{});
  EXPECT_EQ(BatchBuckets(1, {}), (std::vector<int64_t>{1}));
  EXPECT_EQ(BatchBuckets(8, {}), (std::vector<int64_t>{1, 2, 3, 4, 6, 8}));
  EXPECT_EQ(BatchBuckets(64, {5}),
            (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64}));
  EXPECT_EQ(BatchBuckets(100, {}).back(), 100);
  EXPECT_LE(BatchBuckets(128, {}).size(), 16u);  // the engine's per-shape plans hold them all
  const std::vector<int64_t> b = BatchBuckets(1000, {});
  for (int64_t rows = 5; rows <= 1000; ++rows) {
    const int64_t run = *std::lower_bound(b.begin(), b.end(), rows);
    EXPECT_LE(static_cast<double>(run - rows), run / 3.0) << rows;
  }
}

}  // namespace
}  // namespace hone::serve
