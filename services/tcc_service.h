// TccServiceImpl serves saga.v1.TccService: each RPC validates its input, then the store
// (coordinator/tcc/pg_tcc_store.h) records the decision durably before it answers; Commit and
// Rollback wake the driver (coordinator/tcc/tcc_driver.h), which calls Confirm or Cancel on
// every branch. Branch endpoints are gRPC methods.
#ifndef SAGA_SERVICES_TCC_SERVICE_H_
#define SAGA_SERVICES_TCC_SERVICE_H_

#include "coordinator/tcc/pg_tcc_store.h"
#include "coordinator/tcc/tcc_driver.h"
#include "saga/v1/tcc_service.grpc.pb.h"
#include "sdk/base/blocking_executor.h"
#include "services/auth.h"
#include "services/request_validation.h"

namespace saga::services {

class TccServiceImpl final : public saga::v1::TccService::CallbackService {
 public:
  TccServiceImpl(RequestLimits limits, coordinator::tcc::PgTccStore* store,
                 coordinator::tcc::TccDriver* driver, BlockingExecutor* executor,
                 const Authenticator* auth)
      : limits_(limits), store_(store), driver_(driver), executor_(executor), auth_(auth) {}

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
  coordinator::tcc::PgTccStore* const store_;
  coordinator::tcc::TccDriver* const driver_;
  BlockingExecutor* const executor_;
  const Authenticator* const auth_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_TCC_SERVICE_H_
