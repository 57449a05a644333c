// SagadServer is the composition root of `sagad serve`: it wires the PostgreSQL pool, the
// definition registry, the saga engine, the Kafka side and the outbox relays, the gRPC services (with health checking and reflection)
// and the HTTP endpoint, and shuts them down in order: stop accepting, drain the work in
// flight, stop Kafka, close connections.
#ifndef SAGA_SERVICES_SAGAD_SERVER_H_
#define SAGA_SERVICES_SAGAD_SERVER_H_

#include <memory>

#include <grpcpp/server.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/definition_registry.h"
#include "coordinator/grpc/grpc_participant_invoker.h"
#include "coordinator/kafka/kafka_step_invoker.h"
#include "coordinator/participant_router.h"
#include "coordinator/pg/pg_definition_store.h"
#include "coordinator/pg/pg_saga_store.h"
#include "coordinator/saga_engine.h"
#include "coordinator/tcc/pg_tcc_store.h"
#include "coordinator/tcc/tcc_driver.h"
#include "outbox/kafka/embedded_cluster.h"
#include "sdk/base/blocking_executor.h"
#include "sdk/pg/connection_pool.h"
#include "services/admin_service.h"
#include "services/auth.h"
#include "services/config.h"
#include "services/http_endpoint.h"
#include "services/outbox_relays.h"
#include "services/outbox_service.h"
#include "services/saga_service.h"
#include "services/tcc_service.h"

namespace saga::services {

class SagadServer {
 public:
  // Connects, checks the schema is migrated, starts Kafka (embedded unless brokers are given),
  // and starts serving gRPC and HTTP.
  static absl::StatusOr<std::unique_ptr<SagadServer>> Start(const ServerConfig& config);
  ~SagadServer();

  // Orderly shutdown; idempotent.
  void Shutdown();

 private:
  SagadServer() = default;

  std::string MetricsText() const;
  std::string TccMetricsText() const;
  // Gauges read from the database at each scrape, and the pool's size.
  std::string StoreGaugesText(int pool_max) const;
  std::string ReplyMetricsText() const;

  std::unique_ptr<pg::ConnectionPool> pool_;
  int pool_max_ = 0;
  std::unique_ptr<coordinator::pg::PgDefinitionStore> definition_store_;
  std::unique_ptr<coordinator::DefinitionRegistry> registry_;
  std::unique_ptr<coordinator::pg::PgSagaStore> saga_store_;
  std::unique_ptr<coordinator::grpc_invoker::GrpcParticipantInvoker> grpc_invoker_;
  std::unique_ptr<coordinator::kafka::KafkaStepInvoker> kafka_invoker_;
  std::unique_ptr<coordinator::ParticipantRouter> invoker_;
  RealClock clock_;
  std::unique_ptr<coordinator::SagaEngine> engine_;
  std::unique_ptr<coordinator::tcc::PgTccStore> tcc_store_;
  std::unique_ptr<coordinator::tcc::TccDriver> tcc_driver_;
  std::unique_ptr<outbox::kafka::EmbeddedCluster> embedded_kafka_;
  std::unique_ptr<OutboxRelays> relays_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<BlockingExecutor> executor_;
  std::unique_ptr<SagaServiceImpl> saga_service_;
  std::unique_ptr<TccServiceImpl> tcc_service_;
  std::unique_ptr<OutboxServiceImpl> outbox_service_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<HttpApi> http_api_;  // over grpc_server_'s in-process channel
  std::unique_ptr<HttpEndpoint> http_;
  absl::Duration shutdown_grace_;
  bool shut_down_ = false;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_SAGAD_SERVER_H_
