// sagad: the transactional outbox and saga coordinator.
//
//   sagad [serve]   serve the saga.v1 API until SIGTERM or SIGINT
//   sagad migrate   apply the missing schema migrations, then exit
//   sagad relay     only relay outbox tables to Kafka until SIGTERM or SIGINT
//
// Settings come from flags or SAGAD_* environment variables (services/config.h). This file only
// wires: SagadServer holds the components.
#include <signal.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "migrations/migrator.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/pg/connection_pool.h"
#include "services/config.h"
#include "services/outbox_relays.h"
#include "services/sagad_server.h"

namespace {

int Fail(const absl::Status& status) {
  saga::LogError("sagad failed", {{"code", absl::StatusCodeToString(status.code())},
                                  {"error", std::string(status.message())}});
  return 1;
}

int Migrate(const saga::services::ServerConfig& config) {
  auto pool = saga::pg::ConnectionPool::Create(config.pg_dsn, {.max_connections = 1});
  if (!pool.ok()) return Fail(pool.status());
  saga::migrations::Migrator migrator(pool->get());
  auto result = migrator.Migrate();
  if (!result.ok()) return Fail(result.status());
  saga::LogInfo("schema up to date",
                {{"applied_now", saga::StrCat(result->applied.size())},
                 {"schema_version", saga::StrCat(result->schema_version)}});
  return 0;
}

// Signals are taken by sigwait, so they are blocked before any thread starts.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

void AwaitStopSignal(const sigset_t& signals) {
  int received = 0;
  sigwait(&signals, &received);
  saga::LogInfo("signal received", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
}

int Serve(const saga::services::ServerConfig& config) {
  sigset_t signals = BlockStopSignals();
  auto server = saga::services::SagadServer::Start(config);
  if (!server.ok()) return Fail(server.status());
  AwaitStopSignal(signals);
  (*server)->Shutdown();
  return 0;
}

// A relay-only process: scales the relays apart from the coordinators.
int Relay(const saga::services::ServerConfig& config) {
  if (config.embedded_kafka()) {
    return Fail(absl::InvalidArgumentError(
        "sagad relay needs SAGAD_KAFKA_BROKERS: the embedded Kafka lives inside `sagad serve`"));
  }
  sigset_t signals = BlockStopSignals();
  {
    auto pool = saga::pg::ConnectionPool::Create(config.pg_dsn, {.max_connections = 1});
    if (!pool.ok()) return Fail(pool.status());
    saga::migrations::Migrator migrator(pool->get());
    if (absl::Status s = migrator.CheckUpToDate(); !s.ok()) return Fail(s);
  }
  auto relays = saga::services::OutboxRelays::Start(config, config.kafka_brokers);
  if (!relays.ok()) return Fail(relays.status());
  saga::LogInfo("sagad relaying", {{"instance_id", config.instance_id}});
  AwaitStopSignal(signals);
  (*relays)->Stop();
  saga::LogInfo("sagad stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the transactional outbox and saga coordinator.\n\n"
      "  sagad [serve]   serve the saga.v1 gRPC API until SIGTERM or SIGINT\n"
      "  sagad migrate   apply the missing schema migrations, then exit\n"
      "  sagad relay     only relay outbox tables to Kafka (needs SAGAD_KAFKA_BROKERS)\n\n"
      "Every flag can also be set by its SAGAD_* environment variable, e.g.\n"
      "  SAGAD_PG_DSN=postgresql://sagad@127.0.0.1:5432/sagad sagad migrate");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
#ifdef NDEBUG
  // Abseil's lock-order checking costs a graph lookup per lock; tests keep it, production not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  std::string command = args.size() > 1 ? args[1] : "serve";
  if (args.size() > 2 || (command != "serve" && command != "migrate" && command != "relay")) {
    std::vector<std::string> extra(args.begin() + 1, args.end());
    saga::LogError("unknown command", {{"args", absl::StrJoin(extra, " ")},
                                       {"expected", "serve, migrate or relay (see --help)"}});
    return 2;
  }
  auto config = saga::services::LoadConfig([](const char* name) { return std::getenv(name); });
  if (!config.ok()) return Fail(config.status());
  saga::SetMinLogLevel(config->log_level);
  if (command == "migrate") return Migrate(*config);
  return command == "relay" ? Relay(*config) : Serve(*config);
}
