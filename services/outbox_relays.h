// OutboxRelays runs one OutboxRelay (outbox/relay.h) per outbox table that this process
// publishes: sagad's own (in the database of SAGAD_PG_DSN) and each of SAGAD_RELAY_SOURCES.
// Each relay has a PostgreSQL connection and a Kafka producer of its own. Used by `sagad serve`
// (unless SAGAD_RELAY=off) and by `sagad relay`. Thread-safe.
#ifndef SAGA_SERVICES_OUTBOX_RELAYS_H_
#define SAGA_SERVICES_OUTBOX_RELAYS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "outbox/kafka/kafka_producer.h"
#include "outbox/pg/pg_outbox_source.h"
#include "outbox/relay.h"
#include "sdk/base/clock.h"
#include "services/config.h"

namespace saga::services {

class OutboxRelays {
 public:
  // Starts relaying sagad's own outbox and the configured sources to `bootstrap_servers`
  // (the embedded cluster's when config.embedded_kafka()).
  static absl::StatusOr<std::unique_ptr<OutboxRelays>> Start(const ServerConfig& config,
                                                             const std::string& bootstrap_servers);
  ~OutboxRelays();

  // Each relay finishes its cycle and gives its partitions back. Idempotent.
  void Stop();

  // Prometheus text lines for every relay (labelled by outbox table and database).
  std::string MetricsText() const;

 private:
  struct Relay {
    std::string label;  // table@host/db, for metrics
    std::unique_ptr<outbox::pg::PgOutboxSource> source;
    std::unique_ptr<outbox::kafka::KafkaProducer> producer;
    std::unique_ptr<outbox::OutboxRelay> relay;
  };

  OutboxRelays() = default;

  RealClock clock_;
  std::vector<Relay> relays_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_OUTBOX_RELAYS_H_
