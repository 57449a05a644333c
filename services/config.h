// sagad's configuration: each setting comes from its command-line flag, else from its
// environment variable, else from its default (an empty value counts as not given). LoadConfig reads the flags after
// absl::ParseCommandLine and checks every value, saying which setting is wrong and why.
//
//   flag                  environment               default
//   --pg_dsn              SAGAD_PG_DSN              postgresql://127.0.0.1:5432/sagad
//   --grpc_addr           SAGAD_GRPC_ADDR           127.0.0.1:50051
//   --http_addr           SAGAD_HTTP_ADDR           127.0.0.1:8081 (off: no HTTP endpoint)
//   --kafka_brokers       SAGAD_KAFKA_BROKERS       embedded (an in-process mock cluster)
//   --max_payload_bytes   SAGAD_MAX_PAYLOAD_BYTES   1048576
//   --pg_pool_size        SAGAD_PG_POOL_SIZE        16
//   --worker_threads      SAGAD_WORKER_THREADS      16
//   --log_level           SAGAD_LOG_LEVEL           info (debug, info, warning, error)
//   --shutdown_grace      SAGAD_SHUTDOWN_GRACE      5s (how long calls in flight may finish)
//   --clock_skew          SAGAD_CLOCK_SKEW          0s; fault tests only: shifts sagad's clock
//                                                   (e.g. -5s), as on a machine whose clock is off
//   --embedded_kafka_rtt  SAGAD_EMBEDDED_KAFKA_RTT  0s; fault tests only: the embedded Kafka
//                                                   answers every request this much later
//                                                   (a slow network)
//   --lease_ttl           SAGAD_LEASE_TTL           10s (a dead instance's sagas resume after it)
//   --instance_id         SAGAD_INSTANCE_ID         <hostname>-<random> (unique per process)
//   --events_topic        SAGAD_EVENTS_TOPIC        sagad.saga-events (lifecycle events' topic)
//   --definitions         SAGAD_DEFINITIONS         (none) a directory of *.textproto definitions
//   --relay               SAGAD_RELAY               on (sagad serve relays its outbox; off: leave it
//                                                   to `sagad relay` processes)
//   --relay_sources       SAGAD_RELAY_SOURCES       (none) more outbox tables: table=dsn;table=dsn
//   --relay_batch         SAGAD_RELAY_BATCH         5000 (rows per relay cycle)
//   --relay_max_attempts  SAGAD_RELAY_MAX_ATTEMPTS  5 (rejections before a row is parked)
//   --relay_poll_interval SAGAD_RELAY_POLL_INTERVAL 1s (the fallback when no NOTIFY comes)
//   --kafka_delivery_timeout SAGAD_KAFKA_DELIVERY_TIMEOUT 30s (then a message is sent again)
//   --descriptor_set      SAGAD_DESCRIPTOR_SET      (none) a FileDescriptorSet with saga options
//   --descriptor_targets  SAGAD_DESCRIPTOR_TARGETS  (none) where its services are served:
//                                                   "host:port" for all, or
//                                                   "pkg.Svc=host:port,...[,host:port]"
//   --auth_tokens_file    SAGAD_AUTH_TOKENS_FILE    (none: authentication off) bearer tokens
//                                                   with roles (services/auth.h)
//   --auth_reload_interval SAGAD_AUTH_RELOAD_INTERVAL 10s (how often the tokens file is
//                                                   checked for changes)
//   --tls_cert_file       SAGAD_TLS_CERT_FILE       (none: plaintext gRPC) PEM certificate chain
//   --tls_key_file        SAGAD_TLS_KEY_FILE        its PEM private key (with the certificate)
//   --tls_client_ca_file  SAGAD_TLS_CLIENT_CA_FILE  (none) PEM CAs; set: mutual TLS, a client
//                                                   certificate signed by one is required
#ifndef SAGA_SERVICES_CONFIG_H_
#define SAGA_SERVICES_CONFIG_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sdk/base/log.h"

namespace saga::services {

// An outbox table of another database for the relay to publish.
struct RelaySource {
  std::string table;
  std::string dsn;
};

struct ServerConfig {
  std::string pg_dsn;
  std::string grpc_addr;
  std::string http_addr;
  std::string kafka_brokers;  // "embedded" or a bootstrap list "host:port,..."
  size_t max_payload_bytes = 0;
  int pg_pool_size = 0;
  int worker_threads = 0;
  LogLevel log_level = LogLevel::kInfo;
  absl::Duration shutdown_grace;
  absl::Duration clock_skew;
  absl::Duration embedded_kafka_rtt;
  absl::Duration lease_ttl;
  std::string instance_id;
  std::string events_topic;
  std::string definitions_dir;
  std::string descriptor_set_path;
  std::string descriptor_targets;
  bool relay = true;
  std::vector<RelaySource> relay_sources;
  int relay_batch = 0;
  int relay_max_attempts = 0;
  absl::Duration relay_poll_interval;
  absl::Duration kafka_delivery_timeout;
  std::string auth_tokens_file;
  absl::Duration auth_reload_interval;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;

  bool embedded_kafka() const { return kafka_brokers == "embedded"; }
};

// Reads the flags and, for flags not given on the command line, `getenv`.
absl::StatusOr<ServerConfig> LoadConfig(
    const std::function<const char*(const char*)>& getenv);

}  // namespace saga::services

#endif  // SAGA_SERVICES_CONFIG_H_
