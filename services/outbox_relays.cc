#include "services/outbox_relays.h"

#include "sdk/base/log.h"
#include "sdk/base/strings.h"

namespace saga::services {

absl::StatusOr<std::unique_ptr<OutboxRelays>> OutboxRelays::Start(
    const ServerConfig& config, const std::string& bootstrap_servers) {
  std::unique_ptr<OutboxRelays> relays(new OutboxRelays());
  relays->clock_ = RealClock(config.clock_skew);
  std::vector<RelaySource> sources = {RelaySource{.table = "outbox", .dsn = config.pg_dsn}};
  sources.insert(sources.end(), config.relay_sources.begin(), config.relay_sources.end());
  for (const RelaySource& source : sources) {
    Relay relay;
    relay.label = saga::StrCat(source.table, "@", RedactDsn(source.dsn));
    auto pg_source = outbox::pg::PgOutboxSource::Create(source.dsn, source.table);
    if (!pg_source.ok()) return pg_source.status();
    relay.source = *std::move(pg_source);
    auto producer = outbox::kafka::KafkaProducer::Create(
        {.bootstrap_servers = bootstrap_servers,
         .delivery_timeout = config.kafka_delivery_timeout,
         .describe_topic_limits = !config.embedded_kafka()});
    if (!producer.ok()) return producer.status();
    relay.producer = *std::move(producer);
    relay.relay = std::make_unique<outbox::OutboxRelay>(
        relay.source.get(), relay.producer.get(), &relays->clock_,
        outbox::RelayOptions{.relay_id = config.instance_id,
                             .lease_ttl = config.lease_ttl,
                             .batch_size = config.relay_batch,
                             .max_attempts = config.relay_max_attempts,
                             .poll_interval = config.relay_poll_interval});
    relay.relay->Start();
    LogInfo("relaying outbox", {{"outbox", relay.label}, {"kafka", bootstrap_servers}});
    relays->relays_.push_back(std::move(relay));
  }
  return relays;
}

OutboxRelays::~OutboxRelays() { Stop(); }

void OutboxRelays::Stop() {
  for (Relay& relay : relays_) relay.relay->Stop();
}

std::string OutboxRelays::MetricsText() const {
  std::string text =
      "# HELP sagad_relay_lag_seconds Age of the oldest outbox row waiting to be relayed.\n"
      "# TYPE sagad_relay_lag_seconds gauge\n"
      "# HELP sagad_relay_delivered_total Outbox rows Kafka persisted.\n"
      "# TYPE sagad_relay_delivered_total counter\n"
      "# HELP sagad_relay_rejected_total Deliveries Kafka or the size check refused.\n"
      "# TYPE sagad_relay_rejected_total counter\n"
      "# HELP sagad_relay_parked_rows Outbox rows parked after too many rejections.\n"
      "# TYPE sagad_relay_parked_rows gauge\n"
      "# HELP sagad_relay_partitions Outbox partitions this relay holds.\n"
      "# TYPE sagad_relay_partitions gauge\n";
  for (const Relay& relay : relays_) {
    const outbox::RelayStats s = relay.relay->stats();
    const std::string label = saga::StrCat("{outbox=", JsonQuote(relay.label), "} ");
    saga::StrAppend(&text, "sagad_relay_lag_seconds", label, s.lag_seconds, "\n",
                    "sagad_relay_delivered_total", label, s.delivered, "\n",
                    "sagad_relay_rejected_total", label, s.rejected, "\n",
                    "sagad_relay_parked_rows", label, s.parked_rows, "\n",
                    "sagad_relay_partitions", label, s.owned_partitions, "\n");
  }
  return text;
}

}  // namespace saga::services
