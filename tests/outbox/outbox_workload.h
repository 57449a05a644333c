// OutboxWorkload writes outbox rows the way a service does, and checks what reached Kafka.
//
// Each transaction takes the row lock of one key's counter (key_seq), numbers its rows from it,
// inserts them with the SDK writer, sleeps a random moment (so that later ids commit earlier:
// the "gap" a high-water-mark relay would skip), and commits. Under the lock, a key's numbers
// follow its commit order, so Check can tell, from the payloads alone, whether each key was
// consumed complete and in commit order. Thread-safe.
#ifndef SAGA_TESTS_OUTBOX_OUTBOX_WORKLOAD_H_
#define SAGA_TESTS_OUTBOX_OUTBOX_WORKLOAD_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sdk/pg/connection_pool.h"
#include "tests/harness/kafka_client.h"

namespace saga::testing {

struct WorkloadOptions {
  std::string topic;
  int keys = 64;
  int writers = 16;
  int rows_per_transaction = 1;
  absl::Duration max_sleep_in_transaction = absl::Milliseconds(1);
  // Pause between a writer's transactions, to make rows flow over time instead of at once.
  absl::Duration pause_between_transactions = absl::ZeroDuration();
};

struct CheckSummary {
  size_t consumed = 0;    // records read
  size_t distinct = 0;    // distinct message ids
  size_t duplicates = 0;  // records whose id came before
};

class OutboxWorkload {
 public:
  // Creates the key counters in the database of `pool`.
  static absl::StatusOr<std::unique_ptr<OutboxWorkload>> Create(pg::ConnectionPool* pool,
                                                                WorkloadOptions options);

  // Writes `rows` rows with `writers` threads; returns when all committed (or the first error).
  absl::Status Write(int rows);

  size_t written() const;

  // Every written id consumed, no unknown id, and each key's first occurrences numbered
  // 1, 2, 3... up to its counter (commit order, nothing missing).
  absl::StatusOr<CheckSummary> Check(const std::vector<KafkaRecord>& records) const;

  // True once `records` hold every written id. Meant for ConsumeUntil: `records` only grows
  // between calls (a shorter list starts over).
  bool AllConsumed(const std::vector<KafkaRecord>& records) const;

 private:
  OutboxWorkload(pg::ConnectionPool* pool, WorkloadOptions options)
      : pool_(pool), options_(std::move(options)) {}

  pg::ConnectionPool* const pool_;
  const WorkloadOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> written_ ABSL_GUARDED_BY(mu_);
  mutable size_t arrivals_seen_ ABSL_GUARDED_BY(mu_) = 0;
  mutable absl::flat_hash_set<std::string> arrived_ ABSL_GUARDED_BY(mu_);
};

}  // namespace saga::testing

#endif  // SAGA_TESTS_OUTBOX_OUTBOX_WORKLOAD_H_
