#include "coordinator/tcc/pg_tcc_store.h"

#include <map>

#include <google/protobuf/util/time_util.h>
#include <pqxx/pqxx>

#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/base/traceparent.h"
#include "sdk/base/uuid.h"
#include "sdk/pg/array_literal.h"

namespace saga::coordinator::tcc {
namespace {

using ::saga::pg::ArrayLiteral;
using ::google::protobuf::util::TimeUtil;
using saga::v1::TccState;

void AddHistory(pqxx::work& tx, const std::string& global_id, std::string_view event,
                std::string_view branch_id = "", std::string_view detail = "") {
  tx.exec_params(
      "INSERT INTO tcc_history (global_id, event, branch_id, detail) VALUES ($1, $2, $3, $4)",
      global_id, std::string(event), std::string(branch_id), std::string(detail));
}

saga::v1::TccBranch BranchFromRow(const pqxx::row& row) {
  // branch_id, confirm, cancel, payload, attempts, last_error, done
  saga::v1::TccBranch b;
  b.set_branch_id(row[0].as<std::string>());
  b.mutable_confirm()->ParseFromString(pqxx::binarystring(row[1]).str());
  b.mutable_cancel()->ParseFromString(pqxx::binarystring(row[2]).str());
  b.set_payload(pqxx::binarystring(row[3]).str());
  b.set_attempts(row[4].as<uint32_t>());
  b.set_last_error(row[5].as<std::string>());
  b.set_done(row[6].as<bool>());
  return b;
}

constexpr char kBranchColumns[] =
    "branch_id, confirm, cancel, payload, attempts, last_error, done";

absl::Status UnknownTransaction(const std::string& global_id) {
  return absl::NotFoundError(
      saga::StrCat("no TCC transaction has global_id ", global_id, "; Begin returns the ids"));
}

// The transaction with its branches, or NOT_FOUND.
absl::StatusOr<saga::v1::TccTransaction> Load(pqxx::work& tx, const std::string& global_id) {
  pqxx::result r = tx.exec_params(
      "SELECT state, coalesce(idempotency_key, ''), "
      "(extract(epoch FROM create_time) * 1000000)::bigint, "
      "(extract(epoch FROM expire_time) * 1000000)::bigint, traceparent FROM tcc_transactions "
      "WHERE global_id = $1",
      global_id);
  if (r.empty()) {
    return UnknownTransaction(global_id);
  }
  saga::v1::TccTransaction t;
  t.set_global_id(global_id);
  t.set_state(static_cast<TccState>(r[0][0].as<int>()));
  t.set_idempotency_key(r[0][1].as<std::string>());
  *t.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(r[0][2].as<int64_t>());
  *t.mutable_expire_time() = TimeUtil::MicrosecondsToTimestamp(r[0][3].as<int64_t>());
  t.set_traceparent(r[0][4].as<std::string>());
  for (const auto& row : tx.exec_params(
           "SELECT key, value FROM tcc_transactions, jsonb_each_text(labels) "
           "WHERE global_id = $1",
           global_id)) {
    (*t.mutable_labels())[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  for (const auto& row : tx.exec_params(saga::StrCat("SELECT ", kBranchColumns,
                                                     " FROM tcc_branches WHERE global_id = $1 "
                                                     "ORDER BY registered_at, branch_id"),
                                        global_id)) {
    *t.add_branches() = BranchFromRow(row);
  }
  return t;
}

// Locks the transaction's row; its state and whether it expired, or NOT_FOUND.
absl::StatusOr<std::pair<TccState, bool>> LockState(pqxx::work& tx, const std::string& global_id) {
  pqxx::result r = tx.exec_params(
      "SELECT state, expire_time < now() FROM tcc_transactions WHERE global_id = $1 FOR UPDATE",
      global_id);
  if (r.empty()) {
    return UnknownTransaction(global_id);
  }
  return std::make_pair(static_cast<TccState>(r[0][0].as<int>()), r[0][1].as<bool>());
}

void Expire(pqxx::work& tx, const std::string& global_id) {
  tx.exec_params("UPDATE tcc_transactions SET state = 4, next_attempt_at = now() "
                 "WHERE global_id = $1",
                 global_id);
  AddHistory(tx, global_id, "expired");
}

std::string StateName(TccState state) { return saga::v1::TccState_Name(state); }

}  // namespace

absl::StatusOr<saga::v1::TccTransaction> PgTccStore::Begin(const saga::v1::BeginRequest& request,
                                                         const std::string& traceparent) {
  absl::StatusOr<saga::v1::TccTransaction> result;
  absl::Status s = pool_->Run("beginning a TCC transaction", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    const int64_t timeout_micros =
        request.timeout().seconds() * 1000000 + request.timeout().nanos() / 1000;
    std::string global_id = NewUuid();
    pqxx::result inserted = tx.exec_params(
        "INSERT INTO tcc_transactions "
        "(global_id, state, idempotency_key, labels, expire_time, traceparent) "
        "VALUES ($1, 1, NULLIF($2, ''), $3::jsonb, now() + $4 * interval '1 microsecond', $5) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING global_id",
        global_id, request.idempotency_key(), JsonObject(request.labels()), timeout_micros,
        traceparent.empty() ? NewTraceparent() : traceparent);
    if (inserted.empty()) {  // the key was used: the first transaction
      global_id = tx.exec_params("SELECT global_id FROM tcc_transactions WHERE idempotency_key = $1",
                                 request.idempotency_key())[0][0]
                      .as<std::string>();
    } else {
      AddHistory(tx, global_id, "begun");
    }
    result = Load(tx, global_id);
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<saga::v1::TccBranch> PgTccStore::RegisterBranch(
    const saga::v1::RegisterBranchRequest& request) {
  absl::StatusOr<saga::v1::TccBranch> result;
  absl::Status s = pool_->Run("registering a TCC branch", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    auto state = LockState(tx, request.global_id());
    if (!state.ok()) return state.status();
    if (state->first != saga::v1::TCC_STATE_TRYING || state->second) {
      if (state->first == saga::v1::TCC_STATE_TRYING) {
        Expire(tx, request.global_id());
        tx.commit();
      }
      return absl::FailedPreconditionError(saga::StrCat(
          "TCC transaction ", request.global_id(), " is ",
          state->first == saga::v1::TCC_STATE_TRYING ? "past its timeout" : StateName(state->first),
          ": branches register only while it is TRYING; do not call this branch's Try"));
    }
    const std::string confirm = request.confirm().SerializeAsString();
    const std::string cancel = request.cancel().SerializeAsString();
    pqxx::result inserted = tx.exec_params(
        "INSERT INTO tcc_branches (global_id, branch_id, confirm, cancel, payload) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
        request.global_id(), request.branch_id(), pqxx::binarystring(confirm),
        pqxx::binarystring(cancel), pqxx::binarystring(request.payload()));
    pqxx::row row = tx.exec_params1(
        saga::StrCat("SELECT ", kBranchColumns,
                     " FROM tcc_branches WHERE global_id = $1 AND branch_id = $2"),
        request.global_id(), request.branch_id());
    saga::v1::TccBranch branch = BranchFromRow(row);
    if (inserted.empty() &&
        (branch.confirm().SerializeAsString() != confirm ||
         branch.cancel().SerializeAsString() != cancel || branch.payload() != request.payload())) {
      return absl::AlreadyExistsError(saga::StrCat(
          "branch \"", request.branch_id(), "\" of ", request.global_id(),
          " is registered with other endpoints or payload; use another branch_id"));
    }
    if (!inserted.empty()) AddHistory(tx, request.global_id(), "branch_registered", request.branch_id());
    tx.commit();
    result = std::move(branch);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<saga::v1::TccTransaction> PgTccStore::Decide(const std::string& global_id,
                                                            bool commit,
                                                            const std::string& reason) {
  absl::StatusOr<saga::v1::TccTransaction> result;
  absl::Status s = pool_->Run(commit ? "committing a TCC transaction" : "rolling back a TCC transaction",
                              [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    auto state = LockState(tx, global_id);
    if (!state.ok()) return state.status();
    const auto [current, expired] = *state;
    const bool confirming =
        current == saga::v1::TCC_STATE_CONFIRMING || current == saga::v1::TCC_STATE_CONFIRMED;
    const bool cancelling =
        current == saga::v1::TCC_STATE_CANCELLING || current == saga::v1::TCC_STATE_CANCELLED;
    if (current == saga::v1::TCC_STATE_TRYING) {
      if (commit && expired) {
        Expire(tx, global_id);
        tx.commit();
        return absl::FailedPreconditionError(saga::StrCat(
            "TCC transaction ", global_id, " passed its timeout before Commit: it is being "
            "rolled back (Cancel runs on every branch)"));
      }
      tx.exec_params("UPDATE tcc_transactions SET state = $2, next_attempt_at = now() "
                     "WHERE global_id = $1",
                     global_id, commit ? 2 : 4);
      AddHistory(tx, global_id, commit ? "commit" : "rollback", "", reason);
    } else if ((commit && cancelling) || (!commit && confirming)) {
      return absl::FailedPreconditionError(saga::StrCat(
          "TCC transaction ", global_id, " is ", StateName(current), ": it was already ",
          cancelling ? "rolled back" : "committed", " and cannot be ",
          commit ? "committed" : "rolled back"));
    }
    result = Load(tx, global_id);
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<saga::v1::TccTransaction> PgTccStore::Get(const std::string& global_id,
                                                         std::vector<saga::v1::TccEvent>* history) {
  absl::StatusOr<saga::v1::TccTransaction> result;
  absl::Status s = pool_->Run("reading a TCC transaction", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    result = Load(tx, global_id);
    if (result.ok() && history != nullptr) {
      for (const auto& row : tx.exec_params(
               "SELECT (extract(epoch FROM at) * 1000000)::bigint, event, branch_id, detail "
               "FROM tcc_history WHERE global_id = $1 ORDER BY seq",
               global_id)) {
        saga::v1::TccEvent& e = history->emplace_back();
        *e.mutable_time() = TimeUtil::MicrosecondsToTimestamp(row[0].as<int64_t>());
        e.set_event(row[1].as<std::string>());
        e.set_branch_id(row[2].as<std::string>());
        e.set_detail(row[3].as<std::string>());
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<int> PgTccStore::ExpireTrying() {
  int expired = 0;
  absl::Status s = pool_->Run("expiring TCC transactions", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    pqxx::result r = tx.exec(
        "WITH expired AS (UPDATE tcc_transactions SET state = 4, next_attempt_at = now() "
        "WHERE state = 1 AND expire_time < now() RETURNING global_id) "
        "INSERT INTO tcc_history (global_id, event, detail) "
        "SELECT global_id, 'expired', 'the timeout passed before Commit' FROM expired "
        "RETURNING 1");
    tx.commit();
    expired = static_cast<int>(r.size());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return expired;
}

absl::StatusOr<std::vector<ClaimedTransaction>> PgTccStore::ClaimDue(const std::string& owner,
                                                                     absl::Duration lease,
                                                                     int limit) {
  std::vector<ClaimedTransaction> claimed;
  absl::Status s = pool_->Run("claiming TCC transactions", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    pqxx::result r = tx.exec_params(
        "UPDATE tcc_transactions SET lease_owner = $1, lease_epoch = lease_epoch + 1, "
        "lease_expires_at = now() + $2 * interval '1 microsecond' "
        "WHERE global_id IN (SELECT global_id FROM tcc_transactions "
        "  WHERE state IN (2, 4) AND next_attempt_at <= now() "
        "  AND (lease_owner IS NULL OR lease_expires_at < now()) "
        "  ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
        "RETURNING global_id, state, lease_epoch, rounds, traceparent",
        owner, absl::ToInt64Microseconds(lease), limit);
    if (r.empty()) return absl::OkStatus();
    std::map<std::string, size_t> index;
    ArrayLiteral ids;
    for (const auto& row : r) {
      ClaimedTransaction& c = claimed.emplace_back();
      c.global_id = row[0].as<std::string>();
      c.state = static_cast<TccState>(row[1].as<int>());
      c.lease_epoch = row[2].as<int64_t>();
      c.rounds = row[3].as<int>();
      c.traceparent = row[4].as<std::string>();
      index[c.global_id] = claimed.size() - 1;
      ids.AddText(c.global_id);
    }
    // The branches still due, of all of them at once.
    for (const auto& b : tx.exec_params(saga::StrCat("SELECT global_id, ", kBranchColumns,
                                                     " FROM tcc_branches WHERE global_id = "
                                                     "ANY($1::uuid[]) AND NOT done "
                                                     "ORDER BY global_id, branch_id"),
                                        ids.str())) {
      pqxx::row branch = b.slice(1, b.size());
      claimed[index.at(b[0].as<std::string>())].branches.push_back(BranchFromRow(branch));
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return claimed;
}

absl::StatusOr<saga::v1::TccState> PgTccStore::Settle(const ClaimedTransaction& claimed,
                                                      const std::string& owner,
                                                      const std::vector<BranchOutcome>& outcomes,
                                                      absl::Duration retry_after) {
  TccState after = claimed.state;
  absl::Status s = pool_->Run("settling a TCC round", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    pqxx::result fenced = tx.exec_params(
        "SELECT 1 FROM tcc_transactions WHERE global_id = $1 AND lease_owner = $2 "
        "AND lease_epoch = $3 FOR UPDATE",
        claimed.global_id, owner, claimed.lease_epoch);
    if (fenced.empty()) {
      return absl::FailedPreconditionError(saga::StrCat(
          "TCC transaction ", claimed.global_id, ": lease epoch ", claimed.lease_epoch,
          " is no longer held by ", owner, "; its results are dropped"));
    }
    const bool confirming = claimed.state == saga::v1::TCC_STATE_CONFIRMING;
    for (const BranchOutcome& o : outcomes) {
      tx.exec_params(
          "UPDATE tcc_branches SET attempts = attempts + 1, done = $3, last_error = $4 "
          "WHERE global_id = $1 AND branch_id = $2",
          claimed.global_id, o.branch_id, o.status.ok(),
          o.status.ok() ? std::string() : o.status.ToString());
      AddHistory(tx, claimed.global_id,
                 o.status.ok() ? (confirming ? "confirmed" : "cancelled") : "attempt_failed",
                 o.branch_id, o.status.ok() ? "" : o.status.ToString());
    }
    const bool all_done =
        tx.exec_params1("SELECT count(*) FROM tcc_branches WHERE global_id = $1 AND NOT done",
                        claimed.global_id)[0]
            .as<int>() == 0;
    if (all_done) {
      after = confirming ? saga::v1::TCC_STATE_CONFIRMED : saga::v1::TCC_STATE_CANCELLED;
      tx.exec_params("UPDATE tcc_transactions SET state = $2, end_time = now(), "
                     "lease_owner = NULL, lease_expires_at = NULL WHERE global_id = $1",
                     claimed.global_id, static_cast<int>(after));
      AddHistory(tx, claimed.global_id, "ended", "", StateName(after));
    } else {
      tx.exec_params("UPDATE tcc_transactions SET rounds = rounds + 1, lease_owner = NULL, "
                     "lease_expires_at = NULL, "
                     "next_attempt_at = now() + $2 * interval '1 microsecond' "
                     "WHERE global_id = $1",
                     claimed.global_id, absl::ToInt64Microseconds(retry_after));
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return after;
}

}  // namespace saga::coordinator::tcc
