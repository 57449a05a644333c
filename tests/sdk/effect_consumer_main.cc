// effect_consumer: an IdempotentConsumer whose effect is one row in `effects` per message
// applied (no unique constraint: a second effect of a message would show). Run by
// idempotent_consumer_test as a child process that the test kills with SIGKILL.
//
//   effect_consumer BOOTSTRAP GROUP TOPIC DSN BATCH_SIZE
#include <signal.h>

#include <cstdlib>
#include <iostream>

#include <pqxx/binarystring>

#include "sdk/base/log.h"
#include "sdk/inbox/idempotent_consumer.h"

namespace {
saga::sdk::IdempotentConsumer* running = nullptr;
void OnSignal(int) {
  if (running != nullptr) running->Stop();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: effect_consumer BOOTSTRAP GROUP TOPIC DSN BATCH_SIZE\n";
    return 2;
  }
  auto consumer = saga::sdk::IdempotentConsumer::Create(
      {.bootstrap_servers = argv[1], .group_id = argv[2], .topics = {argv[3]},
       .pg_dsn = argv[4], .batch_size = std::atoi(argv[5]),
       // A killed member's partitions move after the session timeout: the broker's minimum.
       .kafka_settings = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}}},
      [](pqxx::work& tx, const saga::sdk::InboxMessage& m) -> absl::Status {
        tx.exec_params("INSERT INTO effects (message_id, payload) VALUES ($1, $2)", m.message_id,
                       pqxx::binarystring(m.payload));
        return absl::OkStatus();
      });
  if (!consumer.ok()) {
    saga::LogError("effect_consumer", {{"error", std::string(consumer.status().message())}});
    return 1;
  }
  running = consumer->get();
  signal(SIGTERM, OnSignal);
  absl::Status s = (*consumer)->Run();
  return s.ok() ? 0 : 1;
}
