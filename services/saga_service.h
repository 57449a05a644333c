// SagaServiceImpl serves saga.v1.SagaService: definitions through the DefinitionRegistry, sagas
// through the SagaEngine (start, abort, watch) and the SagaStore (get, list). Every request is
// validated first. Handlers never block a gRPC thread: database work runs on the
// BlockingExecutor, and StartSaga answers from the engine's commit callback.
#ifndef SAGA_SERVICES_SAGA_SERVICE_H_
#define SAGA_SERVICES_SAGA_SERVICE_H_

#include "coordinator/definition_registry.h"
#include "coordinator/saga_engine.h"
#include "coordinator/saga_store.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "sdk/base/blocking_executor.h"
#include "services/auth.h"
#include "services/request_validation.h"

namespace saga::services {

class SagaServiceImpl final : public saga::v1::SagaService::CallbackService {
 public:
  // Every pointer must outlive the service.
  SagaServiceImpl(coordinator::DefinitionRegistry* registry, coordinator::SagaEngine* engine,
                  coordinator::SagaStore* store, BlockingExecutor* executor, RequestLimits limits,
                  const Authenticator* auth)
      : registry_(registry), engine_(engine), store_(store), executor_(executor),
        limits_(limits), auth_(auth) {}

  grpc::ServerUnaryReactor* RegisterDefinition(
      grpc::CallbackServerContext* context, const saga::v1::RegisterDefinitionRequest* request,
      saga::v1::RegisterDefinitionResponse* response) override;
  grpc::ServerUnaryReactor* ImportDefinitions(
      grpc::CallbackServerContext* context, const saga::v1::ImportDefinitionsRequest* request,
      saga::v1::ImportDefinitionsResponse* response) override;
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
  coordinator::SagaEngine* const engine_;
  coordinator::SagaStore* const store_;
  BlockingExecutor* const executor_;
  const RequestLimits limits_;
  const Authenticator* const auth_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_SAGA_SERVICE_H_
