// SagaServiceImpl serves saga.v1.SagaService. Definitions are served for real (through the
// DefinitionRegistry, persisted in PostgreSQL); the saga RPCs validate their input and answer
// UNIMPLEMENTED until the saga engine lands. Handlers never block a gRPC thread: database work
// runs on the BlockingExecutor.
#ifndef SAGA_SERVICES_SAGA_SERVICE_H_
#define SAGA_SERVICES_SAGA_SERVICE_H_

#include "coordinator/definition_registry.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "sdk/base/blocking_executor.h"
#include "services/request_validation.h"

namespace saga::services {

class SagaServiceImpl final : public saga::v1::SagaService::CallbackService {
 public:
  // Both must outlive the service.
  SagaServiceImpl(coordinator::DefinitionRegistry* registry, BlockingExecutor* executor,
                  RequestLimits limits)
      : registry_(registry), executor_(executor), limits_(limits) {}

  grpc::ServerUnaryReactor* RegisterDefinition(
      grpc::CallbackServerContext* context, const saga::v1::RegisterDefinitionRequest* request,
      saga::v1::RegisterDefinitionResponse* response) override;
  grpc::ServerUnaryReactor* GetDefinition(grpc::CallbackServerContext* context,
                                          const saga::v1::GetDefinitionRequest* request,
                                          saga::v1::GetDefinitionResponse* response) override;
  grpc::ServerUnaryReactor* ListDefinitions(grpc::CallbackServerContext* context,
                                            const saga::v1::ListDefinitionsRequest* request,
                                            saga::v1::ListDefinitionsResponse* response) override;
  grpc::ServerUnaryReactor* StartSaga(grpc::CallbackServerContext* context,
                                      const saga::v1::StartSagaRequest* request,
                                      saga::v1::StartSagaResponse* response) override;
  grpc::ServerUnaryReactor* GetSaga(grpc::CallbackServerContext* context,
                                    const saga::v1::GetSagaRequest* request,
                                    saga::v1::GetSagaResponse* response) override;
  grpc::ServerUnaryReactor* ListSagas(grpc::CallbackServerContext* context,
                                      const saga::v1::ListSagasRequest* request,
                                      saga::v1::ListSagasResponse* response) override;
  grpc::ServerWriteReactor<saga::v1::WatchSagaResponse>* WatchSaga(
      grpc::CallbackServerContext* context, const saga::v1::WatchSagaRequest* request) override;
  grpc::ServerUnaryReactor* AbortSaga(grpc::CallbackServerContext* context,
                                      const saga::v1::AbortSagaRequest* request,
                                      saga::v1::AbortSagaResponse* response) override;

 private:
  coordinator::DefinitionRegistry* const registry_;
  BlockingExecutor* const executor_;
  const RequestLimits limits_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_SAGA_SERVICE_H_
