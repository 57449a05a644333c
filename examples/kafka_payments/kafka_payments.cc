// kafka_payments: a payments participant served over Kafka instead of gRPC, built on the SDK
// alone: it consumes step commands with the IdempotentConsumer and writes each reply with the
// outbox writer, in the same PostgreSQL transaction as the effect. sagad relays its outbox
// (SAGAD_RELAY_SOURCES=outbox=<this service's DSN>).
//
//   kafka_payments --bootstrap HOST:PORT --dsn DSN --commands TOPIC
//
// Its database needs outbox/sql/service_outbox.sql and outbox/sql/service_inbox.sql; it creates
// its own tables. A charge ("action") records an effect, unless its payload is "decline"
// (FAILED_PRECONDITION, no effect). A refund ("compensation") undoes a charge that took effect;
// for a charge that never ran it does nothing and bars that charge from running later. Every
// decision is kept by idempotency key, so a command sent again gets the same answer and no
// second effect.
#include <signal.h>

#include <iostream>
#include <string>

#include <pqxx/pqxx>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/inbox/idempotent_consumer.h"
#include "sdk/outbox/outbox_writer.h"

ABSL_FLAG(std::string, bootstrap, "", "Kafka bootstrap servers");
ABSL_FLAG(std::string, dsn, "", "this service's PostgreSQL");
ABSL_FLAG(std::string, commands, "payments.commands", "the command topic to consume");

namespace {

saga::sdk::IdempotentConsumer* running = nullptr;
void OnSignal(int) {
  if (running != nullptr) running->Stop();
}

// Decides and applies one command inside `tx`; returns the reply's code and error.
std::pair<int, std::string> Decide(pqxx::work& tx, const saga::sdk::InboxMessage& m) {
  const std::string key = m.Header("idempotency-key");
  const std::string saga_id = m.Header("saga-id");
  const std::string step = m.Header("saga-step");
  const std::string operation = m.Header("saga-operation");
  // The same command again: the same answer, no second effect.
  pqxx::result known =
      tx.exec_params("SELECT status, error FROM payments_ledger WHERE idempotency_key = $1", key);
  if (!known.empty()) return {known[0][0].as<int>(), known[0][1].as<std::string>()};
  int status = 0;
  std::string error;
  if (operation == "action") {
    pqxx::result compensated = tx.exec_params(
        "SELECT 1 FROM payments_ledger WHERE saga_id = $1 AND step = $2 AND "
        "operation = 'compensation'",
        saga_id, step);
    if (!compensated.empty()) {
      status = 10;  // ABORTED: its refund came first
      error = "this charge was already refunded";
    } else if (m.payload == "decline") {
      status = 9;  // FAILED_PRECONDITION: a business refusal
      error = "card declined";
    } else {
      tx.exec_params("INSERT INTO payments_effects (saga_id, step, operation) VALUES ($1, $2, $3)",
                     saga_id, step, "charge");
    }
  } else if (operation == "compensation") {
    pqxx::result charged = tx.exec_params(
        "SELECT 1 FROM payments_ledger WHERE saga_id = $1 AND step = $2 AND "
        "operation = 'action' AND status = 0",
        saga_id, step);
    if (!charged.empty()) {
      tx.exec_params("INSERT INTO payments_effects (saga_id, step, operation) VALUES ($1, $2, $3)",
                     saga_id, step, "refund");
    }
  } else {
    status = 12;  // UNIMPLEMENTED
    error = "no status endpoint here";
  }
  tx.exec_params(
      "INSERT INTO payments_ledger (idempotency_key, saga_id, step, operation, status, error) "
      "VALUES ($1, $2, $3, $4, $5, $6)",
      key, saga_id, step, operation, status, error);
  return {status, error};
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string dsn = absl::GetFlag(FLAGS_dsn);
  try {
    pqxx::connection conn(dsn);
    pqxx::nontransaction(conn).exec(
        "CREATE TABLE IF NOT EXISTS payments_ledger (idempotency_key text PRIMARY KEY, "
        "saga_id text NOT NULL, step text NOT NULL, operation text NOT NULL, "
        "status integer NOT NULL, error text NOT NULL, decided_at timestamptz DEFAULT now());"
        "CREATE TABLE IF NOT EXISTS payments_effects (saga_id text NOT NULL, step text NOT NULL, "
        "operation text NOT NULL, applied_at timestamptz DEFAULT now())");
  } catch (const std::exception& e) {
    saga::LogError("kafka_payments: cannot prepare its tables", {{"error", e.what()}});
    return 1;
  }
  auto consumer = saga::sdk::IdempotentConsumer::Create(
      {.bootstrap_servers = absl::GetFlag(FLAGS_bootstrap),
       .group_id = "kafka-payments",
       .topics = {absl::GetFlag(FLAGS_commands)},
       .pg_dsn = dsn,
       .kafka_settings = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}}},
      [](pqxx::work& tx, const saga::sdk::InboxMessage& m) -> absl::Status {
        const std::string reply_topic = m.Header("reply-topic");
        if (reply_topic.empty() || m.Header("idempotency-key").empty()) {
          return absl::InvalidArgumentError("a command needs reply-topic and idempotency-key");
        }
        auto [status, error] = Decide(tx, m);
        saga::v1::OutboxMessage reply;
        reply.set_topic(reply_topic);
        reply.set_key(m.Header("saga-id"));
        reply.set_message_id(saga::StrCat(m.message_id, "/reply"));
        auto& h = *reply.mutable_headers();
        h["idempotency-key"] = m.Header("idempotency-key");
        h["saga-id"] = m.Header("saga-id");
        h["saga-step"] = m.Header("saga-step");
        h["saga-operation"] = m.Header("saga-operation");
        h["saga-status"] = saga::StrCat(status);
        h["saga-error"] = error;
        if (auto written = saga::sdk::WriteOutboxMessage(tx, reply); !written.ok()) {
          return written.status();
        }
        return absl::OkStatus();
      });
  if (!consumer.ok()) {
    saga::LogError("kafka_payments", {{"error", std::string(consumer.status().message())}});
    return 1;
  }
  running = consumer->get();
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  saga::LogInfo("kafka_payments consuming", {{"topic", absl::GetFlag(FLAGS_commands)}});
  return (*consumer)->Run().ok() ? 0 : 1;
}
