// AdminServiceImpl serves saga.v1.AdminService: its reads (GetHistory, ListQuarantined,
// ListParked, GetOverview, WhoAmI) to the viewer role, its actions to admins. Every RPC validates
// its input (ids, reasons, filters, page sizes). GetHistory, ListQuarantined and the saga counts
// of GetOverview read the SagaStore; ListParked, RequeueParked and GetOverview's backlog work on
// sagad's own outbox table. RetrySaga, ReplayCompensation and SkipStep
// are the operator actions of coordinator/saga_machine.h, applied through the engine (which
// takes the saga over from whichever instance drives it) and recorded in the saga's history
// with the caller's name and reason.
#ifndef SAGA_SERVICES_ADMIN_SERVICE_H_
#define SAGA_SERVICES_ADMIN_SERVICE_H_

#include "coordinator/saga_engine.h"
#include "coordinator/saga_store.h"
#include "saga/v1/admin_service.grpc.pb.h"
#include "sdk/base/blocking_executor.h"
#include "sdk/pg/connection_pool.h"
#include "services/auth.h"

namespace saga::services {

class AdminServiceImpl final : public saga::v1::AdminService::CallbackService {
 public:
  // All must outlive the service.
  AdminServiceImpl(coordinator::SagaStore* store, coordinator::SagaEngine* engine,
                   pg::ConnectionPool* pool, BlockingExecutor* executor,
                   const Authenticator* auth)
      : store_(store), engine_(engine), pool_(pool), executor_(executor), auth_(auth) {}

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
  grpc::ServerUnaryReactor* GetOverview(grpc::CallbackServerContext* context,
                                        const saga::v1::GetOverviewRequest* request,
                                        saga::v1::GetOverviewResponse* response) override;
  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* context,
                                   const saga::v1::WhoAmIRequest* request,
                                   saga::v1::WhoAmIResponse* response) override;

 private:
  // An operator action on one saga: checks the admin role and `validation`, then applies
  // `action` through the engine and answers with the saga once it is durable.
  using Action = std::function<absl::StatusOr<coordinator::Transition>(
      coordinator::SagaInstance&, absl::Time, const Caller&)>;
  grpc::ServerUnaryReactor* Act(grpc::CallbackServerContext* context,
                                const absl::Status& validation, const std::string& saga_id,
                                Action action, saga::v1::Saga* result);

  coordinator::SagaStore* const store_;
  coordinator::SagaEngine* const engine_;
  pg::ConnectionPool* const pool_;
  BlockingExecutor* const executor_;
  const Authenticator* const auth_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_ADMIN_SERVICE_H_
