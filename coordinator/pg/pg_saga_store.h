// PgSagaStore keeps sagas in PostgreSQL (migrations/0002_sagas.sql). A Commit is one
// transaction of a few set-based statements whatever the batch size: sagas inserted and updated
// through unnest() of array parameters, history and outbox rows appended the same way. Every
// update is fenced by (owner, lease_epoch). Thread-safe: each call borrows its own connection.
#ifndef SAGA_COORDINATOR_PG_PG_SAGA_STORE_H_
#define SAGA_COORDINATOR_PG_PG_SAGA_STORE_H_

#include <string>

#include "coordinator/saga_store.h"
#include "sdk/pg/connection_pool.h"

namespace saga::coordinator::pg {

class PgSagaStore : public SagaStore {
 public:
  // `pool` must outlive the store. Lifecycle events go to the outbox under `events_topic`.
  PgSagaStore(saga::pg::ConnectionPool* pool, std::string events_topic)
      : pool_(pool), events_topic_(std::move(events_topic)) {}

  absl::StatusOr<CommitResult> Commit(const std::vector<SagaWrite>& writes,
                                      const std::string& owner, absl::Duration lease) override;
  absl::StatusOr<std::vector<StoredSaga>> ClaimExpired(const std::string& owner,
                                                       absl::Duration lease, int limit) override;
  absl::StatusOr<StoredSaga> ClaimOne(const std::string& saga_id, const std::string& owner,
                                      absl::Duration lease, bool ended_too = false) override;
  absl::Status RenewLeases(const std::string& owner, const std::vector<std::string>& saga_ids,
                           absl::Duration lease) override;
  absl::StatusOr<saga::v1::Saga> Get(const std::string& saga_id) override;
  absl::StatusOr<StoredSaga> GetWithRequest(const std::string& saga_id) override;
  absl::StatusOr<SagaPage> List(const SagaQuery& query) override;
  absl::StatusOr<SagaOverview> Overview(absl::Duration window, int buckets) override;
  absl::StatusOr<std::vector<saga::v1::SagaEvent>> History(const std::string& saga_id,
                                                           uint64_t after_sequence,
                                                           int limit) override;

 private:
  saga::pg::ConnectionPool* const pool_;
  const std::string events_topic_;
};

}  // namespace saga::coordinator::pg

#endif  // SAGA_COORDINATOR_PG_PG_SAGA_STORE_H_
