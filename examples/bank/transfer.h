// The initiator of the money-transfer example: one transfer as a TCC transaction through sagad.
//
//   1. TccService.Begin (with an idempotency key, so a retried Begin is the same transaction);
//   2. RegisterBranch "debit" (Confirm and Cancel on the payer's service) and "credit" (on the
//      payee's), each before its Try;
//   3. Accounts.Try on both services, carrying the TCC metadata (saga-id = the global id,
//      saga-step = the branch id) that the services' barrier keys on;
//   4. Commit when both Trys reserved; Rollback when one was refused.
// sagad then calls Confirm, or Cancel, on both branches until each succeeds. Transient errors
// (a service or sagad down for a moment) are retried with the same keys until `retry_for`
// passes; an initiator that gives up or dies leaves the transaction TRYING, and its timeout
// rolls it back.
#ifndef SAGA_EXAMPLES_BANK_TRANSFER_H_
#define SAGA_EXAMPLES_BANK_TRANSFER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bank/bank.grpc.pb.h"
#include "saga/v1/tcc_service.grpc.pb.h"

namespace bank {

struct TransferRequest {
  std::string idempotency_key;  // required: the same key is the same transfer
  std::string from_target, from_account;  // the payer's service ("host:port") and account
  std::string to_target, to_account;      // the payee's
  int64_t amount_cents = 0;
  absl::Duration timeout = absl::Seconds(30);    // TRYING longer than this is rolled back
  absl::Duration retry_for = absl::Seconds(20);  // how long transient errors are retried
};

struct TransferResult {
  std::string global_id;
  // COMMIT: both legs reserved and the commit is durable (sagad confirms them);
  // ROLLBACK: a leg was refused (its error in `refusal`) and the rollback is durable.
  enum class Decision { kCommit, kRollback } decision = Decision::kRollback;
  std::string refusal;
};

// Runs one transfer. An error means no decision was recorded: the transaction's timeout will
// roll it back (or it was never begun).
absl::StatusOr<TransferResult> Transfer(saga::v1::TccService::StubInterface& tcc,
                                        v1::Accounts::StubInterface& from,
                                        v1::Accounts::StubInterface& to,
                                        const TransferRequest& request);

}  // namespace bank

#endif  // SAGA_EXAMPLES_BANK_TRANSFER_H_
