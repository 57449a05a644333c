#include "services/tcc_service.h"

#include "services/not_built_yet.h"

namespace saga::services {
namespace {
constexpr char kTcc[] = "TCC transactions (issue #6)";
}  // namespace

grpc::ServerUnaryReactor* TccServiceImpl::Begin(grpc::CallbackServerContext* context,
                                                const saga::v1::BeginRequest* request,
                                                saga::v1::BeginResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "Begin", kTcc);
}

grpc::ServerUnaryReactor* TccServiceImpl::RegisterBranch(
    grpc::CallbackServerContext* context, const saga::v1::RegisterBranchRequest* request,
    saga::v1::RegisterBranchResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request, limits_), "RegisterBranch", kTcc);
}

grpc::ServerUnaryReactor* TccServiceImpl::Commit(grpc::CallbackServerContext* context,
                                                 const saga::v1::CommitRequest* request,
                                                 saga::v1::CommitResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "Commit", kTcc);
}

grpc::ServerUnaryReactor* TccServiceImpl::Rollback(grpc::CallbackServerContext* context,
                                                   const saga::v1::RollbackRequest* request,
                                                   saga::v1::RollbackResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "Rollback", kTcc);
}

grpc::ServerUnaryReactor* TccServiceImpl::GetTransaction(
    grpc::CallbackServerContext* context, const saga::v1::GetTransactionRequest* request,
    saga::v1::GetTransactionResponse*) {
  return NotBuiltYet(context, ValidateRequest(*request), "GetTransaction", kTcc);
}

}  // namespace saga::services
