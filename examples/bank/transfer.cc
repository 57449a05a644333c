#include "bank/transfer.h"

#include <functional>

#include <grpcpp/client_context.h>

#include "sdk/base/strings.h"

namespace bank {
namespace {

bool Transient(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
      return true;
    default:
      return false;
  }
}

absl::Status ToAbsl(const grpc::Status& s, std::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      saga::StrCat(what, ": ", s.error_message()));
}

// Calls `call` with a fresh context (5 s deadline) until it succeeds, fails for good, or
// `give_up` passes; returns the last status.
grpc::Status Retrying(absl::Time give_up,
                      const std::function<grpc::Status(grpc::ClientContext&)>& call) {
  absl::Duration backoff = absl::Milliseconds(20);
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    grpc::Status status = call(context);
    if (status.ok() || !Transient(status) || absl::Now() + backoff > give_up) return status;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(500));
  }
}

v1::Leg MakeLeg(const std::string& account, int64_t amount, v1::Leg::Direction direction) {
  v1::Leg leg;
  leg.set_account(account);
  leg.set_amount_cents(amount);
  leg.set_direction(direction);
  return leg;
}

saga::v1::RegisterBranchRequest Branch(const std::string& global_id, const std::string& branch_id,
                                       const std::string& target, const v1::Leg& leg) {
  saga::v1::RegisterBranchRequest r;
  r.set_global_id(global_id);
  r.set_branch_id(branch_id);
  r.mutable_confirm()->mutable_grpc()->set_target(target);
  r.mutable_confirm()->mutable_grpc()->set_method("/bank.v1.Accounts/Confirm");
  r.mutable_cancel()->mutable_grpc()->set_target(target);
  r.mutable_cancel()->mutable_grpc()->set_method("/bank.v1.Accounts/Cancel");
  r.set_payload(leg.SerializeAsString());
  return r;
}

}  // namespace

absl::StatusOr<TransferResult> Transfer(saga::v1::TccService::StubInterface& tcc,
                                        v1::Accounts::StubInterface& from,
                                        v1::Accounts::StubInterface& to,
                                        const TransferRequest& request) {
  if (request.idempotency_key.empty() || request.amount_cents <= 0) {
    return absl::InvalidArgumentError("a transfer needs an idempotency key and an amount above 0");
  }
  const absl::Time give_up = absl::Now() + request.retry_for;
  TransferResult result;

  saga::v1::BeginRequest begin;
  begin.mutable_timeout()->set_seconds(absl::ToInt64Seconds(request.timeout));
  begin.set_idempotency_key(request.idempotency_key);
  (*begin.mutable_labels())["kind"] = "transfer";
  saga::v1::BeginResponse begun;
  grpc::Status s = Retrying(give_up, [&](grpc::ClientContext& c) {
    return tcc.Begin(&c, begin, &begun);
  });
  if (!s.ok()) return ToAbsl(s, "TccService.Begin");
  result.global_id = begun.transaction().global_id();
  if (begun.transaction().state() != saga::v1::TCC_STATE_TRYING) {
    return absl::AlreadyExistsError(saga::StrCat("transfer ", request.idempotency_key,
                                                 " was decided already: transaction ",
                                                 result.global_id));
  }

  const v1::Leg debit = MakeLeg(request.from_account, request.amount_cents,
                                v1::Leg::DIRECTION_DEBIT);
  const v1::Leg credit = MakeLeg(request.to_account, request.amount_cents,
                                 v1::Leg::DIRECTION_CREDIT);
  struct Side {
    const char* branch;
    const std::string& target;
    const v1::Leg& leg;
    v1::Accounts::StubInterface& stub;
  };
  grpc::Status refused;  // OK while every Try reserved
  for (const Side& side : {Side{"debit", request.from_target, debit, from},
                           Side{"credit", request.to_target, credit, to}}) {
    saga::v1::RegisterBranchResponse registered;
    s = Retrying(give_up, [&](grpc::ClientContext& c) {
      return tcc.RegisterBranch(&c, Branch(result.global_id, side.branch, side.target, side.leg),
                                &registered);
    });
    if (!s.ok()) {
      refused = s;
      break;
    }
    v1::LegResult tried;
    s = Retrying(give_up, [&](grpc::ClientContext& c) {
      c.AddMetadata("saga-id", result.global_id);
      c.AddMetadata("saga-step", side.branch);
      c.AddMetadata("saga-operation", "try");
      c.AddMetadata("idempotency-key", saga::StrCat(result.global_id, "/", side.branch, "/try"));
      return side.stub.Try(&c, side.leg, &tried);
    });
    if (!s.ok()) {
      refused = s;
      break;
    }
  }

  if (refused.ok()) {
    saga::v1::CommitRequest commit;
    commit.set_global_id(result.global_id);
    saga::v1::CommitResponse committed;
    s = Retrying(give_up, [&](grpc::ClientContext& c) { return tcc.Commit(&c, commit, &committed); });
    if (!s.ok()) return ToAbsl(s, saga::StrCat("TccService.Commit of ", result.global_id));
    result.decision = TransferResult::Decision::kCommit;
    return result;
  }
  saga::v1::RollbackRequest rollback;
  rollback.set_global_id(result.global_id);
  rollback.set_reason(refused.error_message().substr(0, 1000));
  saga::v1::RollbackResponse rolled_back;
  s = Retrying(give_up, [&](grpc::ClientContext& c) {
    return tcc.Rollback(&c, rollback, &rolled_back);
  });
  if (!s.ok()) return ToAbsl(s, saga::StrCat("TccService.Rollback of ", result.global_id));
  result.decision = TransferResult::Decision::kRollback;
  result.refusal = refused.error_message();
  return result;
}

}  // namespace bank
