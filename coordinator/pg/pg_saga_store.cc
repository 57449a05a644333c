#include "coordinator/pg/pg_saga_store.h"

#include <algorithm>
#include <map>

#include <pqxx/pqxx>

#include "coordinator/saga_machine.h"
#include "sdk/base/failpoint.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/outbox/outbox_writer.h"
#include "sdk/pg/array_literal.h"

namespace saga::coordinator::pg {
namespace {

using saga::pg::ArrayLiteral;

std::string TimestampText(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                          absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()),
                          absl::UTCTimeZone());
}

// The statements of a commit, prepared once per connection: whatever the batch size, a commit
// is these three statements with array parameters.
constexpr char kInsertSagas[] =
    "INSERT INTO sagas (saga_id, definition_name, definition_version, state, "
    "idempotency_key, labels, request, snapshot, error, created_at, updated_at, ended_at, "
    "deadline_at, history_seq, owner, lease_epoch, lease_expires_at) "
    "SELECT u.id, u.name, u.version, u.state, u.key, u.labels, u.request, u.snapshot, "
    "u.error, u.created, now(), CASE WHEN u.terminal THEN now() END, u.deadline, u.seq, "
    "$14, 1, now() + $15 * interval '1 millisecond' "
    "FROM unnest($1::uuid[], $2::text[], $3::int[], $4::smallint[], $5::text[], "
    "$6::jsonb[], $7::bytea[], $8::bytea[], $9::text[], $10::timestamptz[], $11::bool[], "
    "$12::timestamptz[], $13::bigint[]) "
    "AS u(id, name, version, state, key, labels, request, snapshot, error, created, "
    "terminal, deadline, seq) "
    "ON CONFLICT DO NOTHING RETURNING saga_id::text";
constexpr char kUpdateSagas[] =
    "UPDATE sagas s SET state = u.state, snapshot = u.snapshot, error = u.error, "
    "updated_at = now(), ended_at = CASE WHEN u.terminal THEN coalesce(s.ended_at, now()) "
    "END, history_seq = greatest(s.history_seq, u.seq), "
    "lease_expires_at = now() + $9 * interval '1 millisecond' "
    "FROM unnest($1::uuid[], $2::bigint[], $3::smallint[], $4::bytea[], $5::text[], "
    "$6::bool[], $7::bigint[]) AS u(id, epoch, state, snapshot, error, terminal, seq) "
    "WHERE s.saga_id = u.id AND s.lease_epoch = u.epoch AND s.owner = $8 "
    "RETURNING s.saga_id::text";
constexpr char kAppendHistoryAndOutbox[] =
    "WITH h AS (INSERT INTO saga_history (saga_id, seq, event) "
    "SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bytea[]) RETURNING saga_id, event) "
    "INSERT INTO outbox (topic, msg_key, payload, headers, message_id) "
    "SELECT $4, convert_to(h.saga_id::text, 'UTF8'), h.event, m.headers, m.message_id "
    "FROM h JOIN unnest($1::uuid[], $6::text[], $5::jsonb[]) AS m(saga_id, message_id, headers) "
    "ON m.saga_id = h.saga_id";

void PrepareCommitStatements(pqxx::connection& conn) {
  // Declaring again with the same text is free; the server prepares each on first use.
  conn.prepare("saga_insert", kInsertSagas);
  conn.prepare("saga_update", kUpdateSagas);
  conn.prepare("saga_history_and_outbox", kAppendHistoryAndOutbox);
}

int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

constexpr char kClaimedColumns[] =
    "snapshot, request, lease_epoch, history_seq, "
    "(extract(epoch FROM deadline_at) * 1000000)::bigint";

absl::StatusOr<saga::v1::Saga> ParseSnapshot(const pqxx::field& field);

absl::StatusOr<StoredSaga> ParseClaimed(const pqxx::row& row) {
  StoredSaga s;
  auto snapshot = ParseSnapshot(row[0]);
  if (!snapshot.ok()) return snapshot.status();
  s.saga = *std::move(snapshot);
  s.request = pqxx::binarystring(row[1]).str();
  s.lease_epoch = row[2].as<int64_t>();
  s.history_seq = row[3].as<uint64_t>();
  if (!row[4].is_null()) s.deadline = absl::FromUnixMicros(row[4].as<int64_t>());
  return s;
}

absl::StatusOr<saga::v1::Saga> ParseSnapshot(const pqxx::field& field) {
  pqxx::binarystring bytes(field);
  saga::v1::Saga saga;
  if (!saga.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored saga snapshot does not parse");
  }
  return saga;
}

}  // namespace

absl::StatusOr<CommitResult> PgSagaStore::Commit(const std::vector<SagaWrite>& writes,
                                                 const std::string& owner, absl::Duration lease) {
  CommitResult result;
  absl::Status status = pool_->Run("committing saga transitions", [&](pqxx::connection& conn) {
    PrepareCommitStatements(conn);
    pqxx::work tx(conn);
    result = CommitResult{};
    ArrayLiteral c_id, c_name, c_version, c_state, c_key, c_labels, c_request, c_snapshot,
        c_error, c_created, c_terminal, c_deadline, c_seq;
    ArrayLiteral u_id, u_epoch, u_state, u_snapshot, u_error, u_terminal, u_seq;
    std::vector<const SagaWrite*> creates;
    for (const SagaWrite& w : writes) {
      const saga::v1::Saga& s = w.snapshot;
      const uint64_t seq = w.events.empty() ? 0 : w.events.back().sequence();
      const bool terminal = SagaMachine::IsTerminal(s.state());
      std::string bytes = s.SerializeAsString();
      if (w.create) {
        creates.push_back(&w);
        c_id.AddText(s.saga_id());
        c_name.AddText(s.definition_name());
        c_version.AddInt(s.definition_version());
        c_state.AddInt(s.state());
        if (s.idempotency_key().empty()) {
          c_key.AddNull();
        } else {
          c_key.AddText(s.idempotency_key());
        }
        c_labels.AddText(JsonObject(s.labels()));
        c_request.AddBytea(w.request);
        c_snapshot.AddBytea(bytes);
        c_error.AddText(s.error());
        c_created.AddText(TimestampText(s.create_time()));
        c_terminal.AddText(terminal ? "t" : "f");
        if (w.deadline == absl::InfiniteFuture()) {
          c_deadline.AddNull();
        } else {
          c_deadline.AddText(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", w.deadline,
                                              absl::UTCTimeZone()));
        }
        c_seq.AddInt(static_cast<int64_t>(seq));
      } else {
        u_id.AddText(s.saga_id());
        u_epoch.AddInt(w.lease_epoch);
        u_state.AddInt(s.state());
        u_snapshot.AddBytea(bytes);
        u_error.AddText(s.error());
        u_terminal.AddText(terminal ? "t" : "f");
        u_seq.AddInt(static_cast<int64_t>(seq));
      }
    }
    absl::flat_hash_set<std::string> rejected;  // writes whose history must not be appended
    if (!creates.empty()) {
      pqxx::result inserted = tx.exec_prepared(
          "saga_insert",
          c_id.str(), c_name.str(), c_version.str(), c_state.str(), c_key.str(), c_labels.str(),
          c_request.str(), c_snapshot.str(), c_error.str(), c_created.str(), c_terminal.str(),
          c_deadline.str(), c_seq.str(), owner, Millis(lease));
      absl::flat_hash_set<std::string> ok;
      for (const auto& row : inserted) ok.insert(row[0].as<std::string>());
      ArrayLiteral keys;
      for (const SagaWrite* w : creates) {
        if (ok.contains(w->snapshot.saga_id())) continue;
        rejected.insert(w->snapshot.saga_id());
        keys.AddText(w->snapshot.idempotency_key());
      }
      if (keys.size() > 0) {
        absl::flat_hash_map<std::string, std::string> holder;  // key -> saga id
        for (const auto& row : tx.exec_params(
                 "SELECT idempotency_key, saga_id::text FROM sagas "
                 "WHERE idempotency_key = ANY($1::text[])",
                 keys.str())) {
          holder[row[0].as<std::string>()] = row[1].as<std::string>();
        }
        for (const SagaWrite* w : creates) {
          if (ok.contains(w->snapshot.saga_id())) continue;
          auto it = holder.find(w->snapshot.idempotency_key());
          if (it == holder.end()) {
            return absl::InternalError(saga::StrCat("saga ", w->snapshot.saga_id(),
                                                    " was not inserted and holds no known key"));
          }
          result.duplicates[w->snapshot.saga_id()] = it->second;
        }
      }
    }
    if (u_id.size() > 0) {
      pqxx::result updated = tx.exec_prepared(
          "saga_update",
          u_id.str(), u_epoch.str(), u_state.str(), u_snapshot.str(), u_error.str(),
          u_terminal.str(), u_seq.str(), owner, Millis(lease));
      absl::flat_hash_set<std::string> ok;
      for (const auto& row : updated) ok.insert(row[0].as<std::string>());
      for (const SagaWrite& w : writes) {
        if (!w.create && !ok.contains(w.snapshot.saga_id())) {
          result.fenced.insert(w.snapshot.saga_id());
          rejected.insert(w.snapshot.saga_id());
        }
      }
    }
    // One history row and one outbox row per saga per commit: the transition's events together.
    ArrayLiteral h_id, h_seq, h_transition, o_message_id, o_headers;
    for (const SagaWrite& w : writes) {
      if (rejected.contains(w.snapshot.saga_id()) || w.events.empty()) continue;
      saga::v1::SagaTransition transition;
      transition.set_saga_id(w.snapshot.saga_id());
      transition.set_state(w.snapshot.state());
      *transition.mutable_events() = {w.events.begin(), w.events.end()};
      const uint64_t last = w.events.back().sequence();
      h_id.AddText(w.snapshot.saga_id());
      h_seq.AddInt(static_cast<int64_t>(last));
      h_transition.AddBytea(transition.SerializeAsString());
      o_message_id.AddText(saga::StrCat(w.snapshot.saga_id(), "/", last));
      // The saga's trace continues in its lifecycle events.
      std::map<std::string, std::string> headers = {
          {"content-type", "application/x-protobuf;type=saga.v1.SagaTransition"}};
      if (!w.snapshot.traceparent().empty()) headers["traceparent"] = w.snapshot.traceparent();
      o_headers.AddText(JsonObject(headers));
    }
    SAGA_FAILPOINT("saga.mid_commit");  // the snapshots are written, not yet their history
    if (h_id.size() > 0) {
      tx.exec_prepared(
          "saga_history_and_outbox",
          h_id.str(), h_seq.str(), h_transition.str(), events_topic_, o_headers.str(),
          o_message_id.str());
    }
    // Kafka step commands dispatched by these transitions, in the same transaction.
    std::vector<saga::v1::OutboxMessage> messages;
    for (const SagaWrite& w : writes) {
      if (rejected.contains(w.snapshot.saga_id())) continue;
      messages.insert(messages.end(), w.messages.begin(), w.messages.end());
    }
    if (!messages.empty()) {
      outbox::MessageLimits limits;
      limits.max_payload_bytes = 64 << 20;  // payloads were checked at StartSaga
      auto written = sdk::WriteOutboxMessages(tx, messages, "outbox", limits);
      if (!written.ok()) return written.status();
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<StoredSaga>> PgSagaStore::ClaimExpired(const std::string& owner,
                                                                  absl::Duration lease,
                                                                  int limit) {
  std::vector<StoredSaga> claimed;
  absl::Status status = pool_->Run("claiming sagas with expired leases", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    pqxx::result rows = tx.exec_params(
        "UPDATE sagas SET owner = $1, lease_epoch = lease_epoch + 1, "
        "lease_expires_at = now() + $2 * interval '1 millisecond' "
        "WHERE saga_id IN (SELECT saga_id FROM sagas WHERE state IN (1, 2) "
        "AND lease_expires_at < now() ORDER BY lease_expires_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
        "RETURNING " + std::string(kClaimedColumns),
        owner, Millis(lease), limit);
    claimed.clear();
    for (const auto& row : rows) {
      auto s = ParseClaimed(row);
      if (!s.ok()) return s.status();
      claimed.push_back(*std::move(s));
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return claimed;
}

absl::StatusOr<StoredSaga> PgSagaStore::ClaimOne(const std::string& saga_id,
                                                 const std::string& owner,
                                                 absl::Duration lease, bool ended_too) {
  absl::StatusOr<StoredSaga> claimed = absl::NotFoundError(saga::StrCat("no saga has id ", saga_id));
  absl::Status status = pool_->Run("taking over a saga", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    pqxx::result rows = tx.exec_params(
        "UPDATE sagas SET owner = $2, lease_epoch = lease_epoch + 1, "
        "lease_expires_at = now() + $3 * interval '1 millisecond' "
        "WHERE saga_id = $1 AND state = ANY($4::smallint[]) RETURNING " +
            std::string(kClaimedColumns),
        saga_id, owner, Millis(lease), ended_too ? "{1,2,4,5}" : "{1,2}");
    if (!rows.empty()) {
      claimed = ParseClaimed(rows[0]);
    } else {
      pqxx::result state = tx.exec_params("SELECT state FROM sagas WHERE saga_id = $1", saga_id);
      if (!state.empty()) {
        claimed = absl::FailedPreconditionError(saga::StrCat(
            "saga ", saga_id, " is ",
            saga::v1::SagaState_Name(static_cast<saga::v1::SagaState>(state[0][0].as<int>())),
            ended_too ? "; only a running, compensated or quarantined saga can be acted on"
                      : "; only a running saga can be aborted"));
      }
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return claimed;
}

absl::Status PgSagaStore::RenewLeases(const std::string& owner,
                                     const std::vector<std::string>& saga_ids,
                                     absl::Duration lease) {
  if (saga_ids.empty()) return absl::OkStatus();
  ArrayLiteral ids;
  for (const std::string& id : saga_ids) ids.AddText(id);
  return pool_->Run("renewing leases", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    // SKIP LOCKED: a row locked now is being committed, which extends its lease anyway; and
    // waiting for it could deadlock with that commit.
    tx.exec_params(
        "UPDATE sagas SET lease_expires_at = now() + $2 * interval '1 millisecond' "
        "WHERE saga_id IN (SELECT saga_id FROM sagas WHERE saga_id = ANY($3::uuid[]) "
        "AND owner = $1 AND state IN (1, 2) FOR UPDATE SKIP LOCKED)",
        owner, Millis(lease), ids.str());
    SAGA_FAILPOINT("saga.lease_renewal");
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<saga::v1::Saga> PgSagaStore::Get(const std::string& saga_id) {
  absl::StatusOr<saga::v1::Saga> found =
      absl::NotFoundError(saga::StrCat("no saga has id ", saga_id));
  absl::Status status = pool_->Run("reading a saga", [&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    pqxx::result rows = tx.exec_params("SELECT snapshot FROM sagas WHERE saga_id = $1", saga_id);
    if (!rows.empty()) found = ParseSnapshot(rows[0][0]);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return found;
}

absl::StatusOr<StoredSaga> PgSagaStore::GetWithRequest(const std::string& saga_id) {
  absl::StatusOr<StoredSaga> found = absl::NotFoundError(saga::StrCat("no saga has id ", saga_id));
  absl::Status status = pool_->Run("reading a saga", [&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    pqxx::result rows = tx.exec_params(
        saga::StrCat("SELECT ", kClaimedColumns, " FROM sagas WHERE saga_id = $1"), saga_id);
    if (!rows.empty()) found = ParseClaimed(rows[0]);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return found;
}

absl::StatusOr<SagaPage> PgSagaStore::List(const SagaQuery& query) {
  SagaPage page;
  ArrayLiteral states;
  for (int s : query.states) states.AddInt(s);
  std::string labels = "{";
  for (const auto& [key, value] : query.labels) {
    if (labels.size() > 1) labels += ",";
    labels += JsonQuote(key) + ":" + JsonQuote(value);
  }
  labels += "}";
  auto time_text = [](const std::optional<absl::Time>& t) {
    return t ? absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", *t, absl::UTCTimeZone()) : "";
  };
  const int64_t after_micros = query.after ? absl::ToUnixMicros(query.after->first) : 0;
  const std::string after_id = query.after ? query.after->second : "";
  absl::Status status = pool_->Run("listing sagas", [&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    pqxx::result rows = tx.exec_params(
        "SELECT snapshot FROM sagas "
        "WHERE (cardinality($1::smallint[]) = 0 OR state = ANY($1::smallint[])) "
        "AND ($2 = '' OR definition_name = $2) "
        "AND ($3 = '' OR created_at >= $3::timestamptz) "
        "AND ($4 = '' OR created_at < $4::timestamptz) "
        "AND labels @> $5::jsonb "
        "AND ($9 = '' OR strpos(lower(error), lower($9)) > 0) "
        "AND ($7 = '' OR (created_at, saga_id) < "
        "('epoch'::timestamptz + $6 * interval '1 microsecond', NULLIF($7, '')::uuid)) "
        "ORDER BY created_at DESC, saga_id DESC LIMIT $8",
        states.str(), query.definition_name, time_text(query.created_after),
        time_text(query.created_before), labels, after_micros, after_id, query.limit + 1,
        query.error_contains);
    for (const auto& row : rows) {
      if (static_cast<int>(page.sagas.size()) == query.limit) {
        page.more = true;
        break;
      }
      auto saga = ParseSnapshot(row[0]);
      if (!saga.ok()) return saga.status();
      page.sagas.push_back(*std::move(saga));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return page;
}

absl::StatusOr<SagaOverview> PgSagaStore::Overview(absl::Duration window, int buckets) {
  SagaOverview overview;
  const double width_seconds = absl::ToDoubleSeconds(window) / buckets;
  absl::Status status = pool_->Run("reading the saga overview", [&](pqxx::connection& conn) {
    overview = SagaOverview{};
    overview.buckets.resize(buckets);
    pqxx::read_transaction tx(conn);
    // now() is the transaction's start, the same for both statements.
    const double now = tx.exec1("SELECT date_part('epoch', now())")[0].as<double>();
    overview.read_time = absl::FromUnixMicros(static_cast<int64_t>(now * 1e6));
    // One scan: each group is the sagas of one definition and state whose creation, end
    // (COMPLETED or COMPENSATED) and quarantine (the last update of a QUARANTINED saga) fall in
    // the same buckets of the window (-1: before it; NULL: not ended). Sagas mostly end
    // in the bucket they started in or the next, so the groups stay few. Plain float
    // arithmetic on date_part (not extract, which is numeric) against constants keeps the
    // per-row cost low.
    pqxx::result rows = tx.exec_params(
        "SELECT definition_name, state, "
        "  greatest(-1, floor((date_part('epoch', created_at) - $1) / $2)::int), "
        "  greatest(-1, floor((date_part('epoch', ended_at) - $1) / $2)::int), "
        "  CASE WHEN state = 5 "
        "    THEN greatest(-1, floor((date_part('epoch', updated_at) - $1) / $2)::int) END, "
        "  count(*) "
        "FROM sagas GROUP BY 1, 2, 3, 4, 5",
        now - absl::ToDoubleSeconds(window), width_seconds);
    std::map<std::pair<std::string, int>, uint64_t> counts;
    // The bucket of a field, or -1 when it is NULL or before the window. The last bucket ends
    // at now(); an event at exactly now() belongs to it.
    auto bucket = [&](const pqxx::field& f) {
      return f.is_null() || f.as<int>() < 0 ? -1 : std::min(f.as<int>(), buckets - 1);
    };
    for (const auto& row : rows) {
      const int state = row[1].as<int>();
      const uint64_t n = row[5].as<uint64_t>();
      counts[{row[0].as<std::string>(), state}] += n;
      if (int b = bucket(row[2]); b >= 0) overview.buckets[b].started += n;
      if (int b = bucket(row[3]); b >= 0 && state == saga::v1::SAGA_STATE_COMPLETED) {
        overview.buckets[b].completed += n;
      }
      if (int b = bucket(row[3]); b >= 0 && state == saga::v1::SAGA_STATE_COMPENSATED) {
        overview.buckets[b].compensated += n;
      }
      if (int b = bucket(row[4]); b >= 0) overview.buckets[b].quarantined += n;
    }
    for (const auto& [key, n] : counts) {
      overview.counts.push_back({.definition_name = key.first, .state = key.second, .count = n});
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return overview;
}

absl::StatusOr<std::vector<saga::v1::SagaEvent>> PgSagaStore::History(const std::string& saga_id,
                                                                      uint64_t after_sequence,
                                                                      int limit) {
  std::vector<saga::v1::SagaEvent> events;
  bool exists = true;
  absl::Status status = pool_->Run("reading a saga's history", [&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    // Each row is one transition, keyed by its last sequence.
    pqxx::result rows = tx.exec_params(
        "SELECT event FROM saga_history WHERE saga_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        saga_id, static_cast<int64_t>(after_sequence), limit);
    for (const auto& row : rows) {
      pqxx::binarystring bytes(row[0]);
      saga::v1::SagaTransition transition;
      if (!transition.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return absl::DataLossError("a stored history transition does not parse");
      }
      for (auto& e : *transition.mutable_events()) {
        if (e.sequence() <= after_sequence) continue;
        if (static_cast<int>(events.size()) == limit) break;
        events.push_back(std::move(e));
      }
      if (static_cast<int>(events.size()) == limit) break;
    }
    if (events.empty()) {
      exists = !tx.exec_params("SELECT 1 FROM sagas WHERE saga_id = $1", saga_id).empty();
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!exists) return absl::NotFoundError(saga::StrCat("no saga has id ", saga_id));
  return events;
}

}  // namespace saga::coordinator::pg
