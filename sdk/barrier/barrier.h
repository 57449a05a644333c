// The participant barrier: makes the classic anomalies of TCC and saga calls harmless by running
// each Try, Confirm or Cancel (a saga action or compensation) inside the participant's own
// PostgreSQL transaction together with a row that records it, keyed by (global id, branch id,
// operation).
//
//   pqxx::work tx(conn);
//   auto ran = saga::sdk::RunInBarrier(tx, {gid, branch, saga::sdk::BranchOp::kTry},
//                                      [&](pqxx::work& tx) { return Reserve(tx, amount); });
//   if (!ran.ok()) return ran.status();   // tx is left for the caller to abort
//   tx.commit();                          // *ran: whether the body ran (false: no effect due)
//
// What the barrier does with each call (operations of one branch are serialized by a
// transaction-scoped advisory lock, so concurrent calls behave as if one came after the other):
//   - a repeated call (the same operation again): no effect, OK;
//   - a Cancel whose Try never ran ("empty rollback"): no effect, OK, and it bars the Try;
//   - a Try after its Cancel ("hanging"): no effect, ABORTED;
//   - a Confirm after a Cancel, or of a Try that never ran: FAILED_PRECONDITION;
//   - a Cancel after a Confirm: FAILED_PRECONDITION.
// The barrier row commits or rolls back with the body's effect: when the body fails, the caller
// aborts the transaction and the call may come again. Saga steps use it the same way: an action
// is a Try and a compensation a Cancel (BranchOpFromSagaOperation).
#ifndef SAGA_SDK_BARRIER_BARRIER_H_
#define SAGA_SDK_BARRIER_BARRIER_H_

#include <functional>
#include <string>
#include <string_view>

#include <pqxx/transaction>

#include "absl/status/statusor.h"

namespace saga::sdk {

enum class BranchOp { kTry, kConfirm, kCancel };

// "try", "confirm", "cancel".
std::string_view BranchOpName(BranchOp op);

// A call's operation (its saga-operation metadata): a saga's "action" is a Try and its
// "compensation" a Cancel; sagad's TCC calls say "confirm" or "cancel". INVALID_ARGUMENT
// otherwise.
absl::StatusOr<BranchOp> BranchOpFromSagaOperation(std::string_view operation);

struct BarrierKey {
  std::string global_id;  // the TCC global id, or the saga id
  std::string branch_id;  // the TCC branch id, or the step name
  BranchOp op = BranchOp::kTry;
};

// The barrier table's DDL (idempotent): CREATE TABLE IF NOT EXISTS `table` (...).
std::string BarrierTableDdl(std::string_view table = "saga_barrier");

// Runs `body` in `tx` unless the barrier forbids it (see above). Returns true when the body ran
// and succeeded, false when the call was harmless and had nothing to do, or an error: the body's
// own, ABORTED or FAILED_PRECONDITION for a refused call, or a database error. On an error the
// caller aborts `tx`. `table` must be a plain or schema-qualified lower-case identifier.
absl::StatusOr<bool> RunInBarrier(pqxx::work& tx, const BarrierKey& key,
                                  const std::function<absl::Status(pqxx::work&)>& body,
                                  std::string_view table = "saga_barrier");

}  // namespace saga::sdk

#endif  // SAGA_SDK_BARRIER_BARRIER_H_
