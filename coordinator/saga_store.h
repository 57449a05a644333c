// SagaStore: where sagas, their history and their outbox events are kept. The engine sees only
// this interface; coordinator/pg/ implements it on PostgreSQL.
//
// Writes come in batches (group commit): one Commit makes the transitions of many sagas durable
// in one transaction. Every write is fenced by the saga's lease epoch: a write from an instance
// whose lease was taken over is refused and reported, never applied. Thread-safe.
#ifndef SAGA_COORDINATOR_SAGA_STORE_H_
#define SAGA_COORDINATOR_SAGA_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "saga/v1/outbox_service.pb.h"
#include "saga/v1/saga.pb.h"

namespace saga::coordinator {

// The new state of one saga and the history that led to it.
struct SagaWrite {
  saga::v1::Saga snapshot;                  // state, steps, labels, idempotency key, times
  std::vector<saga::v1::SagaEvent> events;  // with sequences assigned, oldest first
  int64_t lease_epoch = 0;                  // the write applies only at this epoch
  bool create = false;                      // a new saga (its first write)
  std::string request;                      // with create: the serialized StartSagaRequest
  absl::Time deadline = absl::InfiniteFuture();  // with create
  // Messages that commit with this write (the commands of Kafka steps it dispatches), or not
  // at all when the write is refused.
  std::vector<saga::v1::OutboxMessage> messages;
};

struct CommitResult {
  // Sagas whose lease this instance no longer holds: their writes were dropped.
  absl::flat_hash_set<std::string> fenced;
  // New sagas whose idempotency key another saga holds: new saga id -> the existing saga's id.
  absl::flat_hash_map<std::string, std::string> duplicates;
};

// A saga as stored, with what recovery needs.
struct StoredSaga {
  saga::v1::Saga saga;
  std::string request;
  int64_t lease_epoch = 0;
  uint64_t history_seq = 0;
  absl::Time deadline = absl::InfiniteFuture();
};

struct SagaQuery {
  std::vector<int> states;  // saga.v1.SagaState values; empty: any
  std::string definition_name;
  std::optional<absl::Time> created_after;   // inclusive
  std::optional<absl::Time> created_before;  // exclusive
  std::vector<std::pair<std::string, std::string>> labels;  // all must match
  std::string error_contains;  // case-insensitive; empty: any
  int limit = 100;
  // Resume after this saga in (created_at, saga_id) descending order.
  std::optional<std::pair<absl::Time, std::string>> after;
};

// The counts behind the web console's overview (AdminService.GetOverview).
struct SagaOverview {
  struct Count {
    std::string definition_name;
    int state = 0;  // saga.v1.SagaState
    uint64_t count = 0;
  };
  struct Bucket {
    uint64_t started = 0;
    uint64_t completed = 0;
    uint64_t compensated = 0;
    uint64_t quarantined = 0;
  };
  std::vector<Count> counts;    // by definition, then state
  std::vector<Bucket> buckets;  // the window cut in equal parts, oldest first
  absl::Time read_time;         // the database's now(), the window's end
};

struct SagaPage {
  std::vector<saga::v1::Saga> sagas;
  bool more = false;
};

class SagaStore {
 public:
  virtual ~SagaStore() = default;

  // Makes `writes` durable in one transaction, as `owner`, extending the leases of the sagas
  // written to now + `lease`. Durable when it returns OK; on error nothing was written.
  virtual absl::StatusOr<CommitResult> Commit(const std::vector<SagaWrite>& writes,
                                              const std::string& owner, absl::Duration lease) = 0;

  // Takes over up to `limit` sagas in flight whose lease expired, raising their epoch.
  virtual absl::StatusOr<std::vector<StoredSaga>> ClaimExpired(const std::string& owner,
                                                               absl::Duration lease,
                                                               int limit) = 0;

  // Takes over one saga in flight whatever its lease, raising its epoch (its previous owner's
  // writes are refused from then on); with `ended_too`, a QUARANTINED or COMPENSATED one too
  // (an operator's action). NOT_FOUND when absent, FAILED_PRECONDITION in another state.
  virtual absl::StatusOr<StoredSaga> ClaimOne(const std::string& saga_id, const std::string& owner,
                                              absl::Duration lease, bool ended_too = false) = 0;

  // Extends the leases `owner` holds on `saga_ids`, the sagas it drives now, to now + `lease`.
  // A saga it holds but no longer drives (dropped from memory after a failed commit) is left
  // to expire, so that recovery resumes it.
  virtual absl::Status RenewLeases(const std::string& owner,
                                   const std::vector<std::string>& saga_ids,
                                   absl::Duration lease) = 0;

  // NOT_FOUND when absent.
  virtual absl::StatusOr<saga::v1::Saga> Get(const std::string& saga_id) = 0;
  // The saga and the serialized StartSagaRequest it was started with. NOT_FOUND when absent.
  virtual absl::StatusOr<StoredSaga> GetWithRequest(const std::string& saga_id) = 0;
  virtual absl::StatusOr<SagaPage> List(const SagaQuery& query) = 0;
  // Counts by definition and state, and per bucket of the `window` before now (cut into
  // `buckets` parts) the sagas created, ended by state, and quarantined; read in one snapshot.
  virtual absl::StatusOr<SagaOverview> Overview(absl::Duration window, int buckets) = 0;

  // History events with a sequence above `after_sequence`, oldest first. NOT_FOUND when the
  // saga does not exist.
  virtual absl::StatusOr<std::vector<saga::v1::SagaEvent>> History(const std::string& saga_id,
                                                                   uint64_t after_sequence,
                                                                   int limit) = 0;
};

}  // namespace saga::coordinator

#endif  // SAGA_COORDINATOR_SAGA_STORE_H_
