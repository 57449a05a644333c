// PgTccStore keeps TCC transactions (saga.v1.TccService) in PostgreSQL (migrations/0005_tcc.sql):
// what the API decides (Begin, RegisterBranch, Commit, Rollback) and what the driver
// (tcc_driver.h) claims and settles. Every change appends to tcc_history in the same
// transaction. The driver's writes are fenced by the lease epoch it claimed with: a stale
// instance's results are refused (invariant 3 of DESIGN.md). Thread-safe.
#ifndef SAGA_COORDINATOR_TCC_PG_TCC_STORE_H_
#define SAGA_COORDINATOR_TCC_PG_TCC_STORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "saga/v1/tcc_service.pb.h"
#include "sdk/pg/connection_pool.h"

namespace saga::coordinator::tcc {

// A transaction claimed for driving: the branches whose Confirm or Cancel is still due.
struct ClaimedTransaction {
  std::string global_id;
  saga::v1::TccState state = saga::v1::TCC_STATE_UNSPECIFIED;  // CONFIRMING or CANCELLING
  int64_t lease_epoch = 0;
  int rounds = 0;  // earlier rounds that left a branch undone
  std::string traceparent;  // passed to the branches' calls
  std::vector<saga::v1::TccBranch> branches;
};

// The outcome of one branch's call in a driving round.
struct BranchOutcome {
  std::string branch_id;
  absl::Status status;
};

class PgTccStore {
 public:
  explicit PgTccStore(::saga::pg::ConnectionPool* pool) : pool_(pool) {}

  // A new TRYING transaction; with an idempotency key already used, the first one. Its calls
  // carry `traceparent`, or a new one when it is empty.
  absl::StatusOr<saga::v1::TccTransaction> Begin(const saga::v1::BeginRequest& request,
                                                 const std::string& traceparent);
  // NOT_FOUND for an unknown transaction; FAILED_PRECONDITION unless it is TRYING and not
  // expired; the same branch again returns it, a different one with its id ALREADY_EXISTS.
  absl::StatusOr<saga::v1::TccBranch> RegisterBranch(
      const saga::v1::RegisterBranchRequest& request);
  // Commit (TRYING -> CONFIRMING) or rollback (TRYING -> CANCELLING). Deciding the same again
  // returns the transaction; the other decision, or a commit past the expiry, is
  // FAILED_PRECONDITION (an expired transaction is moved to CANCELLING then).
  absl::StatusOr<saga::v1::TccTransaction> Decide(const std::string& global_id, bool commit,
                                                  const std::string& reason);
  absl::StatusOr<saga::v1::TccTransaction> Get(const std::string& global_id,
                                               std::vector<saga::v1::TccEvent>* history = nullptr);

  // Moves TRYING transactions past their expiry to CANCELLING; returns how many.
  absl::StatusOr<int> ExpireTrying();
  // Claims up to `limit` transactions due for driving, under a lease of `lease` for `owner`.
  absl::StatusOr<std::vector<ClaimedTransaction>> ClaimDue(const std::string& owner,
                                                           absl::Duration lease, int limit);
  // Records a round's outcomes (attempts, errors, branches done) if `owner` still holds the
  // lease it claimed with (else FAILED_PRECONDITION, nothing written), ends the transaction
  // when every branch is done, or else schedules the next round after `retry_after`. Releases
  // the lease. Returns the state after it.
  absl::StatusOr<saga::v1::TccState> Settle(const ClaimedTransaction& claimed,
                                            const std::string& owner,
                                            const std::vector<BranchOutcome>& outcomes,
                                            absl::Duration retry_after);

 private:
  ::saga::pg::ConnectionPool* const pool_;
};

}  // namespace saga::coordinator::tcc

#endif  // SAGA_COORDINATOR_TCC_PG_TCC_STORE_H_
