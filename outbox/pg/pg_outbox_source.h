// PgOutboxSource is an outbox table in a PostgreSQL database (sagad's own, or a service's with
// the shape of outbox/sql/service_outbox.sql), seen by one relay: partition leases in
// outbox_relay_leases, relays alive in outbox_relays, wake-ups by LISTEN sagad_outbox.
//
// It keeps one connection of its own (LISTEN needs a session that stays), opened on first use
// and again after it breaks. Used by one relay thread at a time.
#ifndef SAGA_OUTBOX_PG_PG_OUTBOX_SOURCE_H_
#define SAGA_OUTBOX_PG_PG_OUTBOX_SOURCE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "absl/status/statusor.h"
#include "outbox/outbox_source.h"

namespace saga::outbox::pg {

class PgOutboxSource : public OutboxSource {
 public:
  // `table` is the outbox table ([schema.]name); `dsn` the database holding it.
  static absl::StatusOr<std::unique_ptr<PgOutboxSource>> Create(std::string dsn,
                                                                std::string table);
  ~PgOutboxSource() override;

  const std::string& name() const override { return table_; }
  absl::StatusOr<PartitionLeases> Rebalance(const std::string& relay_id, absl::Duration ttl,
                                            bool may_release) override;
  absl::Status ReleaseAll(const std::string& relay_id) override;
  absl::StatusOr<std::vector<OutboxRow>> ReadBatch(const std::vector<int>& partitions, int limit,
                                                   const std::vector<int64_t>& excluded) override;
  absl::Status Settle(const std::vector<int64_t>& delivered,
                      const std::vector<RejectedRow>& rejected) override;
  absl::StatusOr<bool> WaitForRows(absl::Duration timeout) override;
  absl::StatusOr<absl::Time> OldestWaiting(const std::vector<int>& partitions) override;
  absl::StatusOr<int64_t> CountParked() override;

 private:
  class Listener;
  PgOutboxSource(std::string dsn, std::string table);

  // Runs `work` on the connection (opening it when needed); a broken connection is dropped.
  absl::Status Run(std::string_view context, const std::function<void(pqxx::connection&)>& work);

  const std::string dsn_;
  const std::string table_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<Listener> listener_;
  bool notified_ = false;
  bool leases_seeded_ = false;
};

}  // namespace saga::outbox::pg

#endif  // SAGA_OUTBOX_PG_PG_OUTBOX_SOURCE_H_
