// TccServiceImpl serves saga.v1.TccService. Every RPC validates its input; the TCC driver comes
// with issue #6, until then valid requests answer UNIMPLEMENTED.
#ifndef SAGA_SERVICES_TCC_SERVICE_H_
#define SAGA_SERVICES_TCC_SERVICE_H_

#include "saga/v1/tcc_service.grpc.pb.h"
#include "services/request_validation.h"

namespace saga::services {

class TccServiceImpl final : public saga::v1::TccService::CallbackService {
 public:
  explicit TccServiceImpl(RequestLimits limits) : limits_(limits) {}

  grpc::ServerUnaryReactor* Begin(grpc::CallbackServerContext* context,
                                  const saga::v1::BeginRequest* request,
                                  saga::v1::BeginResponse* response) override;
  grpc::ServerUnaryReactor* RegisterBranch(grpc::CallbackServerContext* context,
                                           const saga::v1::RegisterBranchRequest* request,
                                           saga::v1::RegisterBranchResponse* response) override;
  grpc::ServerUnaryReactor* Commit(grpc::CallbackServerContext* context,
                                   const saga::v1::CommitRequest* request,
                                   saga::v1::CommitResponse* response) override;
  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* context,
                                     const saga::v1::RollbackRequest* request,
                                     saga::v1::RollbackResponse* response) override;
  grpc::ServerUnaryReactor* GetTransaction(grpc::CallbackServerContext* context,
                                           const saga::v1::GetTransactionRequest* request,
                                           saga::v1::GetTransactionResponse* response) override;

 private:
  const RequestLimits limits_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_TCC_SERVICE_H_
