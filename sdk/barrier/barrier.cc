#include "sdk/barrier/barrier.h"

#include <pqxx/result>

#include "sdk/base/strings.h"
#include "sdk/pg/pg_status.h"
#include "sdk/pg/table_name.h"

namespace saga::sdk {
namespace {

// What the barrier holds for one branch: the operations recorded, and whether its "try" row was
// written by a Cancel that came first.
struct BranchRecord {
  bool tried = false;  // a Try ran
  bool try_barred = false;  // a Cancel came before any Try
  bool confirmed = false;
  bool cancelled = false;
};

BranchRecord ReadRecord(pqxx::work& tx, std::string_view table, const BarrierKey& key) {
  BranchRecord record;
  pqxx::result rows = tx.exec_params(
      saga::StrCat("SELECT op, origin FROM ", table, " WHERE global_id = $1 AND branch_id = $2"),
      key.global_id, key.branch_id);
  for (const auto& row : rows) {
    const std::string op = row[0].as<std::string>();
    if (op == "try") {
      (row[1].as<std::string>() == "try" ? record.tried : record.try_barred) = true;
    } else if (op == "confirm") {
      record.confirmed = true;
    } else if (op == "cancel") {
      record.cancelled = true;
    }
  }
  return record;
}

void Record(pqxx::work& tx, std::string_view table, const BarrierKey& key, std::string_view op,
            BranchOp origin) {
  tx.exec_params(saga::StrCat("INSERT INTO ", table,
                              " (global_id, branch_id, op, origin) VALUES ($1, $2, $3, $4)"),
                 key.global_id, key.branch_id, std::string(op),
                 std::string(BranchOpName(origin)));
}

std::string Describe(const BarrierKey& key) {
  return saga::StrCat(BranchOpName(key.op), " of branch \"", key.branch_id, "\" of ",
                      key.global_id);
}

}  // namespace

std::string_view BranchOpName(BranchOp op) {
  switch (op) {
    case BranchOp::kTry:
      return "try";
    case BranchOp::kConfirm:
      return "confirm";
    case BranchOp::kCancel:
      return "cancel";
  }
  return "try";
}

absl::StatusOr<BranchOp> BranchOpFromSagaOperation(std::string_view operation) {
  if (operation == "action" || operation == "try") return BranchOp::kTry;
  if (operation == "compensation" || operation == "cancel") return BranchOp::kCancel;
  if (operation == "confirm") return BranchOp::kConfirm;
  return absl::InvalidArgumentError(saga::StrCat(
      "operation \"", operation,
      "\" has no barrier: expected action, compensation, try, confirm or cancel"));
}

std::string BarrierTableDdl(std::string_view table) {
  return saga::StrCat(
      "CREATE TABLE IF NOT EXISTS ", table,
      " (global_id text NOT NULL, branch_id text NOT NULL, "
      "op text NOT NULL CHECK (op IN ('try', 'confirm', 'cancel')), "
      // Which call wrote the row: a "try" row written by a cancel bars the Try.
      "origin text NOT NULL CHECK (origin IN ('try', 'confirm', 'cancel')), "
      "created_at timestamptz NOT NULL DEFAULT now(), "
      "PRIMARY KEY (global_id, branch_id, op))");
}

absl::StatusOr<bool> RunInBarrier(pqxx::work& tx, const BarrierKey& key,
                                  const std::function<absl::Status(pqxx::work&)>& body,
                                  std::string_view table) {
  if (absl::Status s = pg::ValidateTableName(table, "barrier table"); !s.ok()) return s;
  if (key.global_id.empty() || key.branch_id.empty()) {
    return absl::InvalidArgumentError("a barrier key needs a global id and a branch id");
  }
  BranchRecord record;
  try {
    // The calls of one branch take turns until their transactions end.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 7))",
                   key.global_id, key.branch_id);
    record = ReadRecord(tx, table, key);
    switch (key.op) {
      case BranchOp::kTry:
        if (record.try_barred) {
          return absl::AbortedError(
              saga::StrCat(Describe(key), " refused: the branch was cancelled before it ran"));
        }
        if (record.tried) return false;  // a repeated Try
        Record(tx, table, key, "try", BranchOp::kTry);
        break;
      case BranchOp::kConfirm:
        if (record.confirmed) return false;  // a repeated Confirm
        if (record.cancelled) {
          return absl::FailedPreconditionError(
              saga::StrCat(Describe(key), " refused: the branch was cancelled"));
        }
        if (!record.tried) {
          return absl::FailedPreconditionError(
              saga::StrCat(Describe(key), " refused: its try never ran"));
        }
        Record(tx, table, key, "confirm", BranchOp::kConfirm);
        break;
      case BranchOp::kCancel:
        if (record.cancelled) return false;  // a repeated Cancel
        if (record.confirmed) {
          return absl::FailedPreconditionError(
              saga::StrCat(Describe(key), " refused: the branch was confirmed"));
        }
        Record(tx, table, key, "cancel", BranchOp::kCancel);
        if (!record.tried) {
          // An empty rollback: nothing to undo, and the Try may never run after it.
          Record(tx, table, key, "try", BranchOp::kCancel);
          return false;
        }
        break;
    }
  } catch (const std::exception& e) {
    return pg::StatusFromException(e, saga::StrCat("the barrier of the ", Describe(key)));
  }
  if (absl::Status s = body(tx); !s.ok()) return s;
  return true;
}

}  // namespace saga::sdk
