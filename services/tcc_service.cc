#include "services/tcc_service.h"

#include "sdk/base/failpoint.h"
#include "sdk/base/strings.h"
#include "services/unary_call.h"

namespace saga::services {
namespace {

// The driver calls branches over gRPC; a Kafka command needs the engine's transactional
// dispatch, which TCC branches do not have yet.
absl::Status RequireGrpcEndpoints(const saga::v1::RegisterBranchRequest& request) {
  for (const auto* endpoint : {&request.confirm(), &request.cancel()}) {
    if (!endpoint->has_grpc()) {
      return absl::InvalidArgumentError(
          saga::StrCat(endpoint == &request.confirm() ? "confirm" : "cancel",
                       ": TCC branches take gRPC endpoints (grpc.target and grpc.method); "
                       "Kafka endpoints are for saga steps"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* TccServiceImpl::Begin(grpc::CallbackServerContext* context,
                                                const saga::v1::BeginRequest* request,
                                                saga::v1::BeginResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kClient, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  const std::string trace = IncomingTraceparent(*context);
  return RunBlocking(executor_, reactor, [this, request, response, trace]() -> absl::Status {
    auto t = store_->Begin(*request, trace);
    if (!t.ok()) return t.status();
    *response->mutable_transaction() = *std::move(t);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TccServiceImpl::RegisterBranch(
    grpc::CallbackServerContext* context, const saga::v1::RegisterBranchRequest* request,
    saga::v1::RegisterBranchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kClient, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request, limits_); !s.ok()) return FinishNow(reactor, s);
  if (absl::Status s = RequireGrpcEndpoints(*request); !s.ok()) return FinishNow(reactor, s);
  return RunBlocking(executor_, reactor, [this, request, response]() -> absl::Status {
    auto branch = store_->RegisterBranch(*request);
    if (!branch.ok()) return branch.status();
    *response->mutable_branch() = *std::move(branch);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TccServiceImpl::Commit(grpc::CallbackServerContext* context,
                                                 const saga::v1::CommitRequest* request,
                                                 saga::v1::CommitResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kClient, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  return RunBlocking(executor_, reactor, [this, request, response]() -> absl::Status {
    auto t = store_->Decide(request->global_id(), /*commit=*/true, "");
    if (t.ok()) SAGA_FAILPOINT("tcc.after_commit");
    driver_->Wake();  // also after an expiry found here: its Cancels are due
    if (!t.ok()) return t.status();
    *response->mutable_transaction() = *std::move(t);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TccServiceImpl::Rollback(grpc::CallbackServerContext* context,
                                                   const saga::v1::RollbackRequest* request,
                                                   saga::v1::RollbackResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kClient, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  return RunBlocking(executor_, reactor, [this, request, response]() -> absl::Status {
    auto t = store_->Decide(request->global_id(), /*commit=*/false, request->reason());
    if (!t.ok()) return t.status();
    driver_->Wake();
    *response->mutable_transaction() = *std::move(t);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TccServiceImpl::GetTransaction(
    grpc::CallbackServerContext* context, const saga::v1::GetTransactionRequest* request,
    saga::v1::GetTransactionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Denied(*auth_, *context, Role::kViewer, reactor)) return reactor;
  if (absl::Status s = ValidateRequest(*request); !s.ok()) return FinishNow(reactor, s);
  return RunBlocking(executor_, reactor, [this, request, response]() -> absl::Status {
    std::vector<saga::v1::TccEvent> history;
    auto t = store_->Get(request->global_id(), &history);
    if (!t.ok()) return t.status();
    *response->mutable_transaction() = *std::move(t);
    for (auto& e : history) *response->add_history() = std::move(e);
    return absl::OkStatus();
  });
}

}  // namespace saga::services
