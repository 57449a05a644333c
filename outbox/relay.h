// OutboxRelay moves the rows of one outbox table to Kafka, at least once and in order per key.
//
// One thread per relay repeats a cycle: keep the partition leases (Rebalance), read the next
// rows of the partitions held, in commit order, leaving out keys held back by a rejected row;
// refuse rows larger than their topic accepts; send the rest; then, in one transaction, delete
// the rows the broker PERSISTED and count the rejected ones (parking a row after
// `max_attempts`, which holds its key back until an operator requeues it).
//
// Cycles overlap under load: while a batch is at the broker, the relay settles the batch
// before it and reads the next one; it sends the next one only after every report of the one
// in flight came back, so it knows which keys to hold back. Leases are renewed between batches without waiting for
// the one in flight; a partition is given away only when none of its rows is in flight or
// unsettled. A row that was rejected before is sent alone for its key, so that rows behind it
// never overtake it. A row is never deleted before its persisted report, so a crash re-sends, never
// loses; consumers deduplicate by the message-id header. When a broker is unreachable the
// rows stay as they are and the relay backs off. When a cycle finds less than a full batch and
// a notification (LISTEN) came meanwhile, it reads again at once; otherwise it settles the
// batch in flight and waits for a notification or the poll interval.
//
// Thread-safe: Start and Stop from any thread; stats() any time.
#ifndef SAGA_OUTBOX_RELAY_H_
#define SAGA_OUTBOX_RELAY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "outbox/message_producer.h"
#include "outbox/outbox_source.h"
#include "sdk/base/clock.h"

namespace saga::outbox {

struct RelayOptions {
  std::string relay_id;                               // unique per process
  absl::Duration lease_ttl = absl::Seconds(10);       // a dead relay's partitions move after it
  int batch_size = 5000;                              // rows per cycle
  int max_attempts = 5;                               // rejections before a row is parked
  absl::Duration poll_interval = absl::Seconds(1);    // the fallback when no notification comes
  absl::Duration retry_base = absl::Milliseconds(200);  // a rejected row's first wait, doubled
  absl::Duration retry_max = absl::Seconds(30);
};

struct RelayStats {
  int64_t delivered = 0;        // rows the broker persisted and the relay removed
  int64_t rejected = 0;         // rejected attempts
  int64_t parked = 0;           // rows this relay parked
  int64_t unavailable = 0;      // sends with no answer (broker down), rows left for later
  int64_t reordered = 0;        // rows persisted after an earlier row of their key failed
  int64_t cycles = 0;
  int owned_partitions = 0;
  int64_t parked_rows = 0;      // parked rows in the table now
  double lag_seconds = 0;       // age of the oldest row waiting (parked rows aside), looked up
                                // with the leases, about once a second
};

class OutboxRelay {
 public:
  OutboxRelay(OutboxSource* source, MessageProducer* producer, Clock* clock,
              RelayOptions options);
  ~OutboxRelay();

  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void Start();
  // Finishes the cycle in flight, gives the partitions back, and joins the thread. Idempotent.
  void Stop();

  // One cycle (what the thread repeats): settles the batch before, reads the next, collects
  // the reports of the one in flight, and begins sending the new one. Returns the rows read.
  // Tests call it directly.
  absl::StatusOr<int> RunOnce();

  // Collects the batch in flight and settles everything; the thread does it whenever it has
  // caught up, and before leases change.
  absl::Status Flush();

  RelayStats stats() const;

 private:
  // Rows read in one cycle: those handed to the producer, and those held back or refused.
  struct Batch {
    std::vector<OutboxRow> rows;
    std::vector<const OutboxRow*> sent;
    std::vector<RejectedRow> rejected;              // refused before sending (too large)
    absl::flat_hash_map<std::string, int64_t> held;  // key -> its first row that did not go out
  };
  // Outcomes waiting to be written: rows to delete and rejections to count.
  struct Settlement {
    std::vector<int64_t> delivered;
    std::vector<RejectedRow> rejected;
  };

  void Loop();
  bool LeasesDue() const;
  absl::Status KeepLeases();
  std::unique_ptr<Batch> Prepare(std::vector<OutboxRow> rows,
                                 const absl::flat_hash_map<std::string, int64_t>& blocked);
  // Waits for the batch's reports and adds its outcomes to settle_.
  void Collect(Batch& batch);
  absl::Status SettlePending();
  RejectedRow Reject(const OutboxRow& row, std::string error) const;
  bool SleepUnlessStopped(absl::Duration d);

  OutboxSource* const source_;
  MessageProducer* const producer_;
  Clock* const clock_;
  const RelayOptions options_;

  // Touched only by the relay thread (or by RunOnce's caller when the thread is not running).
  std::vector<int> partitions_;
  absl::Time leases_renewed_ = absl::InfinitePast();
  absl::Time parked_counted_ = absl::InfinitePast();
  bool last_unavailable_ = false;
  bool release_due_ = false;  // more than the fair share is held: settle, then give back
  std::unique_ptr<Batch> in_flight_;  // sent, reports not yet collected
  absl::Time oldest_waiting_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  Settlement settle_;

  mutable absl::Mutex mu_;
  RelayStats stats_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace saga::outbox

#endif  // SAGA_OUTBOX_RELAY_H_
