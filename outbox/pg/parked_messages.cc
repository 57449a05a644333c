#include "outbox/pg/parked_messages.h"

#include <algorithm>

#include <pqxx/binarystring>
#include <pqxx/result>
#include <pqxx/transaction>

#include "sdk/base/strings.h"
#include "sdk/outbox/outbox_writer.h"
#include "sdk/pg/array_literal.h"

namespace saga::outbox::pg {

absl::StatusOr<ParkedPage> ListParked(saga::pg::ConnectionPool& pool, std::string_view table,
                                      std::string_view topic, int64_t after_id, int limit) {
  if (absl::Status s = sdk::ValidateOutboxTableName(table); !s.ok()) return s;
  ParkedPage page;
  absl::Status s = pool.Run("listing parked outbox rows", [&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    pqxx::result rows = tx.exec_params(
        saga::StrCat("SELECT id, message_id, topic, msg_key, octet_length(payload), attempts, "
                     "last_error, (extract(epoch FROM parked_at) * 1000000)::bigint FROM ",
                     table,
                     " WHERE parked_at IS NOT NULL AND id > $1 AND ($2 = '' OR topic = $2) "
                     "ORDER BY id LIMIT $3"),
        after_id, std::string(topic), limit + 1);
    page.more = static_cast<int>(rows.size()) > limit;
    for (const auto& row : rows) {
      if (static_cast<int>(page.messages.size()) == limit) break;
      saga::v1::ParkedMessage& m = page.messages.emplace_back();
      page.last_id = row[0].as<int64_t>();
      m.set_message_id(row[1].as<std::string>());
      m.set_topic(row[2].as<std::string>());
      m.set_key(pqxx::binarystring(row[3]).str());
      m.set_payload_size(row[4].as<uint64_t>());
      m.set_attempts(row[5].as<uint32_t>());
      m.set_last_error(row[6].as<std::string>());
      const int64_t micros = row[7].as<int64_t>();
      m.mutable_park_time()->set_seconds(micros / 1000000);
      m.mutable_park_time()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return page;
}

absl::StatusOr<int> RequeueParked(saga::pg::ConnectionPool& pool, std::string_view table,
                                  const std::vector<std::string>& message_ids) {
  if (absl::Status s = sdk::ValidateOutboxTableName(table); !s.ok()) return s;
  saga::pg::ArrayLiteral ids;
  for (const std::string& id : message_ids) ids.AddText(id);
  int requeued = 0;
  absl::Status s = pool.Run("requeueing parked outbox rows", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    requeued = static_cast<int>(
        tx.exec_params(saga::StrCat("UPDATE ", table,
                                    " SET attempts = 0, next_attempt_at = NULL, parked_at = NULL "
                                    "WHERE parked_at IS NOT NULL AND message_id = ANY($1::text[])"),
                       ids.str())
            .affected_rows());
    // Wake the relays now rather than at their next poll.
    tx.exec("SELECT pg_notify('sagad_outbox', 'requeue')");
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return requeued;
}

absl::StatusOr<OutboxBacklog> ReadBacklog(saga::pg::ConnectionPool& pool, std::string_view table) {
  if (absl::Status s = sdk::ValidateOutboxTableName(table); !s.ok()) return s;
  OutboxBacklog backlog;
  absl::Status s = pool.Run("reading the outbox backlog", [&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    pqxx::row row = tx.exec_params1(
        saga::StrCat(
            "SELECT (SELECT count(*) FROM ", table, " WHERE parked_at IS NOT NULL), "
            "(SELECT count(*) FROM (SELECT 1 FROM ", table,
            " WHERE parked_at IS NULL LIMIT $1) AS waiting), "
            "COALESCE((SELECT extract(epoch FROM now() - created_at) FROM ", table,
            " WHERE parked_at IS NULL ORDER BY id LIMIT 1), 0)"),
        static_cast<int64_t>(kPendingCap));
    backlog.parked = row[0].as<uint64_t>();
    backlog.pending = row[1].as<uint64_t>();
    backlog.oldest_pending_seconds = std::max(0.0, row[2].as<double>());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return backlog;
}

}  // namespace saga::outbox::pg
