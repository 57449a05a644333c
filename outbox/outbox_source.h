// OutboxSource is one outbox table as the relay sees it: the partitions this relay holds under
// lease, the next rows to send from them, and the settling of a batch (delivered rows removed,
// rejected rows counted and maybe parked). outbox/pg/pg_outbox_source.h implements it on
// PostgreSQL; tests use fakes. An implementation is used by one relay thread at a time.
#ifndef SAGA_OUTBOX_OUTBOX_SOURCE_H_
#define SAGA_OUTBOX_OUTBOX_SOURCE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace saga::outbox {

// The number of hash(key) partitions of every outbox table (see migrations/0003).
inline constexpr int kOutboxPartitions = 64;

// A committed row waiting to be relayed.
struct OutboxRow {
  int64_t id = 0;
  std::string topic;
  std::string key;
  std::string payload;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string message_id;
  int attempts = 0;  // rejected deliveries so far
  absl::Time created_at;
};

// A row the broker (or the relay's own size check) refused.
struct RejectedRow {
  int64_t id = 0;
  std::string error;
  bool park = false;            // the attempt limit is reached
  absl::Duration retry_after;   // when not parked: the key waits this long
};

// The partitions a relay holds after Rebalance.
struct PartitionLeases {
  std::vector<int> held;    // ascending
  bool over_share = false;  // it holds more than its fair share and kept them (may_release was
                            // false): it should settle what is in flight and call again
};

class OutboxSource {
 public:
  virtual ~OutboxSource() = default;

  // The table's name, as leases and logs know it.
  virtual const std::string& name() const = 0;

  // Announces `relay_id` alive, renews its leases, and claims partitions up to its fair share
  // of the relays alive. With `may_release` (none of its rows in flight or unsettled) it also
  // gives back what it holds beyond that share; without, it keeps them and says so. Returns
  // the partitions held now, valid for `ttl`.
  virtual absl::StatusOr<PartitionLeases> Rebalance(const std::string& relay_id,
                                                    absl::Duration ttl, bool may_release) = 0;

  // Gives back every partition (orderly shutdown), so others need not wait for the TTL.
  virtual absl::Status ReleaseAll(const std::string& relay_id) = 0;

  // Up to `limit` rows of `partitions` in commit order (by id), leaving out parked rows, every
  // row of a key held back by a rejected row that waits or is parked, and the rows `excluded`
  // (those of the batch in flight).
  virtual absl::StatusOr<std::vector<OutboxRow>> ReadBatch(
      const std::vector<int>& partitions, int limit, const std::vector<int64_t>& excluded) = 0;

  // In one transaction: deletes `delivered` and records `rejected`.
  virtual absl::Status Settle(const std::vector<int64_t>& delivered,
                              const std::vector<RejectedRow>& rejected) = 0;

  // Returns when rows may have been added (true: a notification came) or after `timeout`
  // (false). A zero timeout only looks.
  virtual absl::StatusOr<bool> WaitForRows(absl::Duration timeout) = 0;

  // When the oldest row of `partitions` that waits to be sent (parked rows aside) was
  // committed; InfiniteFuture when none waits. For the lag metric.
  virtual absl::StatusOr<absl::Time> OldestWaiting(const std::vector<int>& partitions) = 0;

  // How many rows of this table are parked (for metrics).
  virtual absl::StatusOr<int64_t> CountParked() = 0;
};

}  // namespace saga::outbox

#endif  // SAGA_OUTBOX_OUTBOX_SOURCE_H_
