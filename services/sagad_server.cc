#include "services/sagad_server.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <pqxx/nontransaction>

#include "absl/time/clock.h"
#include "grpc/health/v1/health.pb.h"
#include "migrations/migrator.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "services/startup_definitions.h"

namespace saga::services {

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view setting) {
  std::ifstream file(path);
  std::stringstream text;
  if (file) text << file.rdbuf();
  if (!file || text.str().empty()) {
    return absl::InvalidArgumentError(
        saga::StrCat(setting, ": cannot read a PEM file at \"", path, "\""));
  }
  return text.str();
}

// Plaintext, TLS, or mutual TLS (a client certificate signed by the configured CAs required).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const ServerConfig& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  auto cert = ReadPem(config.tls_cert_file, "SAGAD_TLS_CERT_FILE");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(config.tls_key_file, "SAGAD_TLS_KEY_FILE");
  if (!key.ok()) return key.status();
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!config.tls_client_ca_file.empty()) {
    auto ca = ReadPem(config.tls_client_ca_file, "SAGAD_TLS_CLIENT_CA_FILE");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  LogInfo("gRPC over TLS", {{"mutual", config.tls_client_ca_file.empty() ? "no" : "yes"}});
  return grpc::SslServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SagadServer>> SagadServer::Start(const ServerConfig& config) {
  std::unique_ptr<SagadServer> server(new SagadServer());
  server->clock_ = RealClock(config.clock_skew);
  server->shutdown_grace_ = config.shutdown_grace;
  // Custom plans always: the commit statements are prepared, and after five runs PostgreSQL
  // may switch them to a generic plan that scans the sagas table (stalls of up to a second
  // in saga_bench; docs/BENCHMARKS.md).
  auto pool = pg::ConnectionPool::Create(
      config.pg_dsn, pg::PoolOptions{.max_connections = config.pg_pool_size,
                                     .on_connect = {"SET plan_cache_mode = force_custom_plan"}});
  if (!pool.ok()) return pool.status();
  server->pool_ = *std::move(pool);
  server->pool_max_ = config.pg_pool_size;
  migrations::Migrator migrator(server->pool_.get());
  if (absl::Status s = migrator.CheckUpToDate(); !s.ok()) return s;

  server->definition_store_ =
      std::make_unique<coordinator::pg::PgDefinitionStore>(server->pool_.get());
  server->registry_ =
      std::make_unique<coordinator::DefinitionRegistry>(server->definition_store_.get());
  if (absl::Status s = RegisterStartupDefinitions(config, *server->registry_); !s.ok()) return s;
  server->saga_store_ =
      std::make_unique<coordinator::pg::PgSagaStore>(server->pool_.get(), config.events_topic);

  if (config.embedded_kafka()) {
    auto cluster = outbox::kafka::EmbeddedCluster::Start(1, config.embedded_kafka_rtt);
    if (!cluster.ok()) return cluster.status();
    server->embedded_kafka_ = *std::move(cluster);
    LogInfo("embedded Kafka (librdkafka mock cluster, not durable) listening",
            {{"bootstrap_servers", server->embedded_kafka_->bootstrap_servers()},
             {"round_trip", absl::FormatDuration(config.embedded_kafka_rtt)}});
  } else {
    LogInfo("Kafka brokers configured", {{"bootstrap_servers", config.kafka_brokers}});
  }
  const std::string bootstrap = config.embedded_kafka()
                                    ? server->embedded_kafka_->bootstrap_servers()
                                    : config.kafka_brokers;

  // Participants: gRPC methods called directly, Kafka command topics through the outbox.
  server->grpc_invoker_ = std::make_unique<coordinator::grpc_invoker::GrpcParticipantInvoker>();
  server->kafka_invoker_ = std::make_unique<coordinator::kafka::KafkaStepInvoker>(
      coordinator::kafka::KafkaStepOptions{.bootstrap_servers = bootstrap,
                                           .pg_dsn = config.pg_dsn,
                                           .instance_id = config.instance_id,
                                           .reply_lookback = config.embedded_kafka()
                                                                 ? absl::InfiniteDuration()
                                                                 : absl::Minutes(1)});
  server->invoker_ = std::make_unique<coordinator::ParticipantRouter>(
      server->grpc_invoker_.get(), server->kafka_invoker_.get());
  server->engine_ = std::make_unique<coordinator::SagaEngine>(
      server->saga_store_.get(), server->registry_.get(), server->invoker_.get(), &server->clock_,
      coordinator::EngineOptions{
          .instance_id = config.instance_id,
          .lease_ttl = config.lease_ttl,
          // Expired leases are looked for often enough that a dead instance's sagas resume
          // within the TTL plus a fraction of it.
          .recovery_interval = std::min(absl::Seconds(1), config.lease_ttl / 4)});
  server->engine_->Start();
  server->tcc_store_ = std::make_unique<coordinator::tcc::PgTccStore>(server->pool_.get());
  server->tcc_driver_ = std::make_unique<coordinator::tcc::TccDriver>(
      server->tcc_store_.get(), server->invoker_.get(),
      coordinator::tcc::TccDriverOptions{
          .instance_id = config.instance_id,
          .lease_ttl = config.lease_ttl,
          .poll_interval = std::min(absl::Milliseconds(500), config.lease_ttl / 4)});
  server->tcc_driver_->Start();

  if (config.relay) {
    auto relays = OutboxRelays::Start(config, bootstrap);
    if (!relays.ok()) return relays.status();
    server->relays_ = *std::move(relays);
  }

  if (config.auth_tokens_file.empty()) {
    server->auth_ = Authenticator::Open();
    LogWarning("authentication is off: every caller may call every RPC; set "
               "SAGAD_AUTH_TOKENS_FILE to require bearer tokens");
  } else {
    auto auth = Authenticator::FromFile(config.auth_tokens_file, config.auth_reload_interval);
    if (!auth.ok()) return auth.status();
    server->auth_ = *std::move(auth);
    LogInfo("bearer tokens required", {{"tokens", saga::StrCat(server->auth_->token_count())}});
  }
  auto credentials = ServerCredentials(config);
  if (!credentials.ok()) return credentials.status();

  server->executor_ = std::make_unique<BlockingExecutor>(config.worker_threads);
  RequestLimits limits{.max_payload_bytes = config.max_payload_bytes};
  server->saga_service_ = std::make_unique<SagaServiceImpl>(
      server->registry_.get(), server->engine_.get(), server->saga_store_.get(),
      server->executor_.get(), limits, server->auth_.get());
  server->tcc_service_ = std::make_unique<TccServiceImpl>(
      limits, server->tcc_store_.get(), server->tcc_driver_.get(), server->executor_.get(),
      server->auth_.get());
  outbox::MessageLimits message_limits;
  message_limits.max_payload_bytes = config.max_payload_bytes;
  server->outbox_service_ = std::make_unique<OutboxServiceImpl>(
      server->pool_.get(), server->executor_.get(), message_limits, server->auth_.get());
  server->admin_service_ = std::make_unique<AdminServiceImpl>(
      server->saga_store_.get(), server->engine_.get(), server->pool_.get(), server->executor_.get(),
      server->auth_.get());

  // Links health.proto's descriptors in, so reflection can describe grpc.health.v1.Health.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.grpc_addr, *credentials, &port);
  // Room for a request carrying several payloads of the maximum size.
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<size_t>(config.max_payload_bytes * 4 + (1 << 20), INT32_MAX)));
  builder.RegisterService(server->saga_service_.get());
  builder.RegisterService(server->tcc_service_.get());
  builder.RegisterService(server->outbox_service_.get());
  builder.RegisterService(server->admin_service_.get());
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || port == 0) {
    return absl::UnavailableError(saga::StrCat("SAGAD_GRPC_ADDR: cannot listen on ",
                                               config.grpc_addr,
                                               " (in use, or not an address of this machine)"));
  }

  std::string http_port = "off";
  if (!config.http_addr.empty()) {
    grpc::ChannelArguments channel_args;
    channel_args.SetMaxReceiveMessageSize(-1);
    channel_args.SetMaxSendMessageSize(-1);
    server->http_api_ =
        std::make_unique<HttpApi>(server->grpc_server_->InProcessChannel(channel_args));
    SagadServer* self = server.get();
    HttpHandlers handlers{
        .ready = [self]() -> absl::Status {
          return self->pool_->Run("checking readiness", [](pqxx::connection& conn) {
            pqxx::nontransaction tx(conn);
            tx.exec("SELECT 1");
            return absl::OkStatus();
          });
        },
        .metrics = [self] { return self->MetricsText(); },
        .api = server->http_api_.get(),
        .max_body_bytes = config.max_payload_bytes * 4 + (1 << 20),
    };
    auto http = HttpEndpoint::Start(config.http_addr, std::move(handlers));
    if (!http.ok()) return http.status();
    server->http_ = *std::move(http);
    http_port = saga::StrCat(server->http_->port());
  }
  LogInfo("sagad serving",
          {{"instance_id", config.instance_id}, {"grpc_addr", config.grpc_addr}, {"grpc_port", saga::StrCat(port)},
           {"http_port", http_port}, {"pg", RedactDsn(config.pg_dsn)},
           {"kafka", config.embedded_kafka() ? server->embedded_kafka_->bootstrap_servers()
                                             : config.kafka_brokers}});
  return server;
}

std::string SagadServer::MetricsText() const {
  const coordinator::SagaEngine::Stats stats = engine_->stats();
  return saga::StrCat(
      "# HELP sagad_commits_total Group commits of saga transitions.\n",
      "# TYPE sagad_commits_total counter\nsagad_commits_total ", stats.commits, "\n",
      "# HELP sagad_commit_failures_total Group commits that failed (their sagas are recovered).\n",
      "# TYPE sagad_commit_failures_total counter\nsagad_commit_failures_total ",
      stats.commit_failures, "\n",
      "# HELP sagad_saga_transitions_total Saga transitions made durable.\n",
      "# TYPE sagad_saga_transitions_total counter\nsagad_saga_transitions_total ",
      stats.saga_writes, "\n",
      "# HELP sagad_commit_seconds_total Time spent in group commits.\n",
      "# TYPE sagad_commit_seconds_total counter\nsagad_commit_seconds_total ",
      static_cast<double>(stats.commit_micros) / 1e6, "\n",
      "# HELP sagad_participant_calls_total Calls sent to participants.\n",
      "# TYPE sagad_participant_calls_total counter\nsagad_participant_calls_total ",
      stats.calls_sent, "\n",
      "# HELP sagad_up Whether sagad is serving.\n# TYPE sagad_up gauge\nsagad_up 1\n",
      "# HELP sagad_db_pool_connections PostgreSQL connections by state.\n",
      "# TYPE sagad_db_pool_connections gauge\n", "sagad_db_pool_connections{state=\"open\"} ",
      pool_->open_connections(), "\n", "sagad_db_pool_connections{state=\"busy\"} ",
      pool_->busy_connections(), "\n",
      "# HELP sagad_live_sagas Sagas this instance drives now.\n",
      "# TYPE sagad_live_sagas gauge\n", "sagad_live_sagas ", engine_->live_sagas(), "\n",
      engine_->metrics().Text(), StoreGaugesText(pool_max_), TccMetricsText(), ReplyMetricsText(),
      relays_ ? relays_->MetricsText() : "");
}

std::string SagadServer::ReplyMetricsText() const {
  const sdk::IdempotentConsumerStats replies = kafka_invoker_->reply_stats();
  return saga::StrCat(
      "# HELP sagad_inbox_messages_total Kafka step replies read through sagad's inbox, by "
      "outcome (applied; duplicate: skipped, already seen).\n",
      "# TYPE sagad_inbox_messages_total counter\n",
      "sagad_inbox_messages_total{outcome=\"applied\"} ", replies.applied, "\n",
      "sagad_inbox_messages_total{outcome=\"duplicate\"} ", replies.duplicates, "\n");
}

std::string SagadServer::StoreGaugesText(int pool_max) const {
  int64_t quarantined = 0, past_deadline = 0;
  absl::Status s = pool_->Run("counting sagas for /metrics", [&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    quarantined = tx.exec("SELECT count(*) FROM sagas WHERE state = 5")[0][0].as<int64_t>();
    past_deadline = tx.exec("SELECT count(*) FROM sagas WHERE state IN (1, 2) "
                            "AND deadline_at < now()")[0][0].as<int64_t>();
    return absl::OkStatus();
  });
  std::string out = saga::StrCat(
      "# HELP sagad_db_pool_max_connections The most PostgreSQL connections the pool opens.\n"
      "# TYPE sagad_db_pool_max_connections gauge\nsagad_db_pool_max_connections ",
      pool_max, "\n");
  if (!s.ok()) return out;  // the scrape goes on without the counts
  return saga::StrCat(
      out,
      "# HELP sagad_sagas_quarantined Sagas QUARANTINED now (all instances): an operator is "
      "needed.\n# TYPE sagad_sagas_quarantined gauge\nsagad_sagas_quarantined ",
      quarantined, "\n",
      "# HELP sagad_sagas_past_deadline Sagas still running or compensating after their "
      "deadline (all instances).\n# TYPE sagad_sagas_past_deadline gauge\n"
      "sagad_sagas_past_deadline ",
      past_deadline, "\n");
}

std::string SagadServer::TccMetricsText() const {
  const coordinator::tcc::TccDriver::Stats tcc = tcc_driver_->stats();
  return saga::StrCat(
      "# HELP sagad_tcc_calls_total Confirm and Cancel calls to TCC branches, by outcome.\n",
      "# TYPE sagad_tcc_calls_total counter\n",
      "sagad_tcc_calls_total{operation=\"confirm\",outcome=\"ok\"} ", tcc.confirms, "\n",
      "sagad_tcc_calls_total{operation=\"cancel\",outcome=\"ok\"} ", tcc.cancels, "\n",
      "sagad_tcc_calls_total{outcome=\"failed\"} ", tcc.failed_calls, "\n",
      "# HELP sagad_tcc_transactions_ended_total TCC transactions driven to CONFIRMED or "
      "CANCELLED by this instance.\n",
      "# TYPE sagad_tcc_transactions_ended_total counter\nsagad_tcc_transactions_ended_total ",
      tcc.ended, "\n",
      "# HELP sagad_tcc_transactions_expired_total TCC transactions rolled back by their "
      "timeout.\n",
      "# TYPE sagad_tcc_transactions_expired_total counter\nsagad_tcc_transactions_expired_total ",
      tcc.expired, "\n");
}

SagadServer::~SagadServer() { Shutdown(); }

void SagadServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  LogInfo("sagad shutting down");
  if (grpc_server_) {
    grpc_server_->GetHealthCheckService()->SetServingStatus(false);
    // Calls in flight get up to the grace period to finish; then they are cancelled. gRPC 1.51
    // also holds shutdown for the whole period while a client keeps an idle connection open.
    grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + shutdown_grace_));
  }
  LogDebug("gRPC stopped");
  if (executor_) executor_->Shutdown();
  LogDebug("blocking work drained");
  if (tcc_driver_) tcc_driver_->Stop();
  LogDebug("TCC driver stopped");
  if (engine_) engine_->Stop();
  LogDebug("saga engine stopped");
  if (kafka_invoker_) kafka_invoker_->Stop();
  if (relays_) relays_->Stop();
  LogDebug("outbox relays stopped");
  if (http_) http_->Stop();
  LogDebug("HTTP stopped");
  embedded_kafka_.reset();
  LogInfo("sagad stopped");
}

}  // namespace saga::services
