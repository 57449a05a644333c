// AdminServiceImpl serves saga.v1.AdminService. Every RPC validates its input (ids, reasons,
// filters, page sizes). GetHistory and ListQuarantined read the SagaStore; ListParked and
// RequeueParked work on sagad's own outbox table; the operator actions on sagas come with the
// operations issue (#7): until then valid requests for them answer UNIMPLEMENTED.
#ifndef SAGA_SERVICES_ADMIN_SERVICE_H_
#define SAGA_SERVICES_ADMIN_SERVICE_H_

#include "coordinator/saga_store.h"
#include "saga/v1/admin_service.grpc.pb.h"
#include "sdk/base/blocking_executor.h"
#include "sdk/pg/connection_pool.h"
#include "services/auth.h"

namespace saga::services {

class AdminServiceImpl final : public saga::v1::AdminService::CallbackService {
 public:
  // All must outlive the service.
  AdminServiceImpl(coordinator::SagaStore* store, pg::ConnectionPool* pool,
                   BlockingExecutor* executor, const Authenticator* auth)
      : store_(store), pool_(pool), executor_(executor), auth_(auth) {}

  grpc::ServerUnaryReactor* RetrySaga(grpc::CallbackServerContext* context,
                                      const saga::v1::RetrySagaRequest* request,
                                      saga::v1::RetrySagaResponse* response) override;
  grpc::ServerUnaryReactor* ReplayCompensation(
      grpc::CallbackServerContext* context, const saga::v1::ReplayCompensationRequest* request,
      saga::v1::ReplayCompensationResponse* response) override;
  grpc::ServerUnaryReactor* SkipStep(grpc::CallbackServerContext* context,
                                     const saga::v1::SkipStepRequest* request,
                                     saga::v1::SkipStepResponse* response) override;
  grpc::ServerUnaryReactor* GetHistory(grpc::CallbackServerContext* context,
                                       const saga::v1::GetHistoryRequest* request,
                                       saga::v1::GetHistoryResponse* response) override;
  grpc::ServerUnaryReactor* ListQuarantined(grpc::CallbackServerContext* context,
                                            const saga::v1::ListQuarantinedRequest* request,
                                            saga::v1::ListQuarantinedResponse* response) override;
  grpc::ServerUnaryReactor* ListParked(grpc::CallbackServerContext* context,
                                       const saga::v1::ListParkedRequest* request,
                                       saga::v1::ListParkedResponse* response) override;
  grpc::ServerUnaryReactor* RequeueParked(grpc::CallbackServerContext* context,
                                          const saga::v1::RequeueParkedRequest* request,
                                          saga::v1::RequeueParkedResponse* response) override;

 private:
  coordinator::SagaStore* const store_;
  pg::ConnectionPool* const pool_;
  BlockingExecutor* const executor_;
  const Authenticator* const auth_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_ADMIN_SERVICE_H_
