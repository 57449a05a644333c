#include "outbox/pg/pg_outbox_source.h"

#include <algorithm>

#include <pqxx/binarystring>
#include <pqxx/result>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/notification>
#include <pqxx/transaction>

#include "outbox/headers_json.h"
#include "sdk/base/strings.h"
#include "sdk/outbox/outbox_writer.h"
#include "sdk/pg/array_literal.h"
#include "sdk/pg/pg_status.h"

namespace saga::outbox::pg {
namespace {

std::string PartitionArray(const std::vector<int>& partitions) {
  saga::pg::ArrayLiteral array;
  for (int p : partitions) array.AddInt(p);
  return array.str();
}

int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

}  // namespace

class PgOutboxSource::Listener : public pqxx::notification_receiver {
 public:
  Listener(pqxx::connection& conn, bool* notified)
      : pqxx::notification_receiver(conn, "sagad_outbox"), notified_(notified) {}
  void operator()(const std::string&, int) override { *notified_ = true; }

 private:
  bool* notified_;
};

absl::StatusOr<std::unique_ptr<PgOutboxSource>> PgOutboxSource::Create(std::string dsn,
                                                                        std::string table) {
  if (absl::Status s = sdk::ValidateOutboxTableName(table); !s.ok()) return s;
  std::unique_ptr<PgOutboxSource> source(new PgOutboxSource(std::move(dsn), std::move(table)));
  absl::Status first = source->Run("opening the relay's connection", [](pqxx::connection&) {});
  if (!first.ok()) return first;
  return source;
}

PgOutboxSource::PgOutboxSource(std::string dsn, std::string table)
    : dsn_(std::move(dsn)), table_(std::move(table)) {}

PgOutboxSource::~PgOutboxSource() {
  listener_.reset();  // before its connection
  conn_.reset();
}

absl::Status PgOutboxSource::Run(std::string_view context,
                                 const std::function<void(pqxx::connection&)>& work) {
  try {
    if (conn_ == nullptr) {
      auto conn = std::make_unique<pqxx::connection>(dsn_);
      pqxx::nontransaction(*conn).exec("SET plan_cache_mode = force_custom_plan");
      // An outbox is a queue: between two vacuums its heap holds far more deleted rows than
      // live ones, and with the statistics of a nearly empty table the planner reads the next
      // rows, and deletes the sent ones, with a sequential scan over all of them (measured:
      // 2-9 ms per read at 10,000 rows/s and a third of a core, against 0.3 ms by the primary
      // key, whose dead entries each scan marks so that the next one skips them).
      pqxx::nontransaction(*conn).exec("SET enable_seqscan = off");
      listener_ = std::make_unique<Listener>(*conn, &notified_);
      conn_ = std::move(conn);
      notified_ = true;  // rows may have come while nobody listened
    }
    work(*conn_);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    absl::Status status = saga::pg::StatusFromException(
        e, saga::StrCat(context, " (outbox ", table_, ")"));
    if (conn_ != nullptr && !conn_->is_open()) {
      listener_.reset();
      conn_.reset();
    }
    if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
      listener_.reset();
      conn_.reset();
    }
    return status;
  }
}

absl::StatusOr<PartitionLeases> PgOutboxSource::Rebalance(const std::string& relay_id,
                                                          absl::Duration ttl, bool may_release) {
  PartitionLeases leases;
  std::vector<int>& held = leases.held;
  absl::Status s = Run("rebalancing outbox partitions", [&](pqxx::connection& conn) {
    leases = {};
    pqxx::work tx(conn);
    const int64_t ttl_ms = Millis(ttl);
    tx.exec_params(
        "INSERT INTO outbox_relays (outbox, relay_id, seen_at) VALUES ($1, $2, now()) "
        "ON CONFLICT (outbox, relay_id) DO UPDATE SET seen_at = now()",
        table_, relay_id);
    if (!leases_seeded_) {
      tx.exec_params(
          "INSERT INTO outbox_relay_leases (outbox, relay_partition) "
          "SELECT $1, g FROM generate_series(0, $2 - 1) g ON CONFLICT DO NOTHING",
          table_, kOutboxPartitions);
      tx.exec_params("DELETE FROM outbox_relays WHERE outbox = $1 AND seen_at < now() - "
                     "interval '1 day'",
                     table_);
    }
    const int64_t alive =
        tx.exec_params1("SELECT count(*) FROM outbox_relays WHERE outbox = $1 AND "
                        "seen_at > now() - $2 * interval '1 millisecond'",
                        table_, ttl_ms)[0]
            .as<int64_t>();
    const int share = static_cast<int>((kOutboxPartitions + std::max<int64_t>(alive, 1) - 1) /
                                       std::max<int64_t>(alive, 1));
    for (const auto& row : tx.exec_params(
             "UPDATE outbox_relay_leases SET lease_expires_at = now() + $3 * interval "
             "'1 millisecond' WHERE outbox = $1 AND owner = $2 AND lease_expires_at > now() "
             "RETURNING relay_partition",
             table_, relay_id, ttl_ms)) {
      held.push_back(row[0].as<int>());
    }
    std::sort(held.begin(), held.end());
    if (static_cast<int>(held.size()) > share && !may_release) {
      leases.over_share = true;
    } else if (static_cast<int>(held.size()) > share) {
      // More than a fair share: give the highest back (none of their rows is in flight).
      std::vector<int> extra(held.begin() + share, held.end());
      held.resize(share);
      tx.exec_params(
          "UPDATE outbox_relay_leases SET owner = '', lease_expires_at = '-infinity' "
          "WHERE outbox = $1 AND owner = $2 AND relay_partition = ANY($3::smallint[])",
          table_, relay_id, PartitionArray(extra));
    } else if (static_cast<int>(held.size()) < share) {
      for (const auto& row : tx.exec_params(
               "UPDATE outbox_relay_leases l SET owner = $2, lease_epoch = l.lease_epoch + 1, "
               "lease_expires_at = now() + $3 * interval '1 millisecond' FROM ("
               "  SELECT relay_partition FROM outbox_relay_leases "
               "  WHERE outbox = $1 AND lease_expires_at <= now() ORDER BY relay_partition "
               "  LIMIT $4 FOR UPDATE SKIP LOCKED) c "
               "WHERE l.outbox = $1 AND l.relay_partition = c.relay_partition "
               "RETURNING l.relay_partition",
               table_, relay_id, ttl_ms, share - static_cast<int>(held.size()))) {
        held.push_back(row[0].as<int>());
      }
      std::sort(held.begin(), held.end());
    }
    tx.commit();
    leases_seeded_ = true;
  });
  if (!s.ok()) return s;
  return leases;
}

absl::Status PgOutboxSource::ReleaseAll(const std::string& relay_id) {
  return Run("releasing outbox partitions", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    tx.exec_params(
        "UPDATE outbox_relay_leases SET owner = '', lease_expires_at = '-infinity' "
        "WHERE outbox = $1 AND owner = $2",
        table_, relay_id);
    tx.exec_params("DELETE FROM outbox_relays WHERE outbox = $1 AND relay_id = $2", table_,
                   relay_id);
    tx.commit();
  });
}

absl::StatusOr<std::vector<OutboxRow>> PgOutboxSource::ReadBatch(
    const std::vector<int>& partitions, int limit, const std::vector<int64_t>& excluded) {
  saga::pg::ArrayLiteral excluded_ids;
  for (int64_t id : excluded) excluded_ids.AddInt(id);
  std::vector<OutboxRow> rows;
  absl::Status s = Run("reading outbox rows", [&](pqxx::connection& conn) {
    rows.clear();
    pqxx::nontransaction tx(conn);
    // Commit order is id order for rows of one key written under a lock; rows that commit late
    // are simply found by a later cycle (no high-water mark to skip them).
    pqxx::result result = tx.exec_params(
        saga::StrCat(
            "SELECT o.id, o.topic, o.msg_key, o.payload, o.message_id, o.attempts, "
            "(extract(epoch FROM o.created_at) * 1000000)::bigint, "
"o.headers::text "
            "FROM ", table_, " o WHERE o.relay_partition = ANY($1::smallint[]) "
            "AND o.parked_at IS NULL AND o.id <> ALL($3::bigint[]) "
            "AND NOT EXISTS (SELECT 1 FROM ", table_, " h "
            "  WHERE h.relay_partition = o.relay_partition AND h.msg_key = o.msg_key "
            "  AND h.attempts > 0 AND (h.parked_at IS NOT NULL OR h.next_attempt_at > now())) "
            "ORDER BY o.id LIMIT $2"),
        PartitionArray(partitions), limit, excluded_ids.str());
    rows.reserve(result.size());
    for (const auto& r : result) {
      OutboxRow row;
      row.id = r[0].as<int64_t>();
      row.topic = r[1].as<std::string>();
      row.key = pqxx::binarystring(r[2]).str();
      row.payload = pqxx::binarystring(r[3]).str();
      row.message_id = r[4].as<std::string>();
      row.attempts = r[5].as<int>();
      row.created_at = absl::FromUnixMicros(r[6].as<int64_t>());
      // Rows with headers that are not a flat JSON object (written by hand) still go out,
      // with the headers they have in a single "headers" header rather than not at all.
      auto headers = ParseHeadersJson(r[7].as<std::string>());
      row.headers = headers.ok() ? *std::move(headers)
                                 : std::vector<std::pair<std::string, std::string>>{
                                       {"headers", r[7].as<std::string>()}};
      rows.push_back(std::move(row));
    }
  });
  if (!s.ok()) return s;
  return rows;
}

absl::Status PgOutboxSource::Settle(const std::vector<int64_t>& delivered,
                                    const std::vector<RejectedRow>& rejected) {
  return Run("settling delivered outbox rows", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    // Deleting what Kafka already persisted acknowledges nothing to anyone: if PostgreSQL
    // crashes before this commit reaches the disk, the rows come back and are sent again, a
    // duplicate consumers remove by message id. So the relay does not wait for that flush.
    // Rejections are counted durably: a lost count would let a poison row try again.
    if (rejected.empty()) tx.exec("SET LOCAL synchronous_commit = off");
    if (!delivered.empty()) {
      saga::pg::ArrayLiteral ids;
      for (int64_t id : delivered) ids.AddInt(id);
      tx.exec_params(saga::StrCat("DELETE FROM ", table_, " WHERE id = ANY($1::bigint[])"),
                     ids.str());
    }
    if (!rejected.empty()) {
      saga::pg::ArrayLiteral ids, errors, waits, parks;
      for (const RejectedRow& r : rejected) {
        ids.AddInt(r.id);
        errors.AddText(r.error);
        waits.AddInt(Millis(r.retry_after));
        parks.AddText(r.park ? "t" : "f");
      }
      tx.exec_params(
          saga::StrCat("UPDATE ", table_, " o SET attempts = o.attempts + 1, last_error = u.err, "
                       "next_attempt_at = now() + u.ms * interval '1 millisecond', "
                       "parked_at = CASE WHEN u.park THEN now() END "
                       "FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bool[]) "
                       "AS u(id, err, ms, park) WHERE o.id = u.id"),
          ids.str(), errors.str(), waits.str(), parks.str());
    }
    tx.commit();
  });
}

absl::StatusOr<bool> PgOutboxSource::WaitForRows(absl::Duration timeout) {
  bool notified = false;
  absl::Status s = Run("waiting for outbox notifications", [&](pqxx::connection& conn) {
    if (notified_) {
      notified_ = false;
      notified = true;
      return;
    }
    const int64_t micros = std::max<int64_t>(absl::ToInt64Microseconds(timeout), 0);
    notified = conn.await_notification(micros / 1000000, micros % 1000000) > 0 || notified_;
    notified_ = false;
  });
  if (!s.ok()) return s;
  return notified;
}

absl::StatusOr<absl::Time> PgOutboxSource::OldestWaiting(const std::vector<int>& partitions) {
  absl::Time oldest = absl::InfiniteFuture();
  absl::Status s = Run("finding the oldest outbox row", [&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    // The lowest id is the oldest row near enough, and the primary key finds it at once.
    pqxx::result r = tx.exec_params(
        saga::StrCat("SELECT (extract(epoch FROM created_at) * 1000000)::bigint FROM ", table_,
                     " WHERE relay_partition = ANY($1::smallint[]) AND parked_at IS NULL "
                     "ORDER BY id LIMIT 1"),
        PartitionArray(partitions));
    oldest = r.empty() ? absl::InfiniteFuture() : absl::FromUnixMicros(r[0][0].as<int64_t>());
  });
  if (!s.ok()) return s;
  return oldest;
}

absl::StatusOr<int64_t> PgOutboxSource::CountParked() {
  int64_t parked = 0;
  absl::Status s = Run("counting parked outbox rows", [&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    parked = tx.exec(saga::StrCat("SELECT count(*) FROM ", table_,
                                  " WHERE parked_at IS NOT NULL"))[0][0]
                 .as<int64_t>();
  });
  if (!s.ok()) return s;
  return parked;
}

}  // namespace saga::outbox::pg
