#include "services/config.h"

#include <unistd.h>

#include <cstdint>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "outbox/topic_name.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"

// Every flag defaults to empty, meaning "not given": then the environment variable, and then
// the built-in default, decide (see config.h).
ABSL_FLAG(std::string, pg_dsn, "", "PostgreSQL connection string (env SAGAD_PG_DSN)");
ABSL_FLAG(std::string, grpc_addr, "", "gRPC listen address (env SAGAD_GRPC_ADDR)");
ABSL_FLAG(std::string, http_addr, "",
          "HTTP address of /healthz, /readyz and /metrics, or 'off' (env SAGAD_HTTP_ADDR)");
ABSL_FLAG(std::string, kafka_brokers, "",
          "Kafka bootstrap servers, or 'embedded' for an in-process mock cluster "
          "(env SAGAD_KAFKA_BROKERS)");
ABSL_FLAG(std::string, max_payload_bytes, "",
          "largest step, branch or outbox payload in bytes (env SAGAD_MAX_PAYLOAD_BYTES)");
ABSL_FLAG(std::string, pg_pool_size, "", "PostgreSQL connections at most (env SAGAD_PG_POOL_SIZE)");
ABSL_FLAG(std::string, worker_threads, "",
          "threads for blocking work such as database transactions (env SAGAD_WORKER_THREADS)");
ABSL_FLAG(std::string, log_level, "", "debug, info, warning or error (env SAGAD_LOG_LEVEL)");
ABSL_FLAG(std::string, lease_ttl, "",
          "how long a saga's lease lasts unrenewed, e.g. 10s (env SAGAD_LEASE_TTL)");
ABSL_FLAG(std::string, instance_id, "", "this process's unique name (env SAGAD_INSTANCE_ID)");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "a file of bearer tokens, lines \"<name> <viewer|client|admin> <token>\"; unset: no "
          "authentication (env SAGAD_AUTH_TOKENS_FILE)");
ABSL_FLAG(std::string, clock_skew, "",
          "fault tests only: shifts sagad's clock by this much, e.g. -5s (env SAGAD_CLOCK_SKEW)");
ABSL_FLAG(std::string, embedded_kafka_rtt, "",
          "fault tests only: the embedded Kafka answers every request this much later, e.g. "
          "500ms (env SAGAD_EMBEDDED_KAFKA_RTT)");
ABSL_FLAG(std::string, auth_reload_interval, "",
          "how often the tokens file is checked for changes, e.g. 10s "
          "(env SAGAD_AUTH_RELOAD_INTERVAL)");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain for gRPC over TLS (env SAGAD_TLS_CERT_FILE)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file (env SAGAD_TLS_KEY_FILE)");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CAs that sign client certificates: mutual TLS (env SAGAD_TLS_CLIENT_CA_FILE)");
ABSL_FLAG(std::string, events_topic, "",
          "Kafka topic of saga lifecycle events (env SAGAD_EVENTS_TOPIC)");
ABSL_FLAG(std::string, definitions, "",
          "a directory of *.textproto saga definitions registered at start (env SAGAD_DEFINITIONS)");
ABSL_FLAG(std::string, descriptor_set, "",
          "a FileDescriptorSet whose saga options are registered at start "
          "(env SAGAD_DESCRIPTOR_SET)");
ABSL_FLAG(std::string, descriptor_targets, "",
          "the gRPC targets of the descriptor set's services: host:port, or "
          "pkg.Svc=host:port,... (env SAGAD_DESCRIPTOR_TARGETS)");
ABSL_FLAG(std::string, relay, "",
          "on: `sagad serve` relays its outbox to Kafka; off: leave it to `sagad relay` "
          "processes (env SAGAD_RELAY)");
ABSL_FLAG(std::string, relay_sources, "",
          "more outbox tables to relay: table=dsn;table=dsn (env SAGAD_RELAY_SOURCES)");
ABSL_FLAG(std::string, relay_batch, "", "outbox rows per relay cycle (env SAGAD_RELAY_BATCH)");
ABSL_FLAG(std::string, relay_max_attempts, "",
          "rejected deliveries before an outbox row is parked (env SAGAD_RELAY_MAX_ATTEMPTS)");
ABSL_FLAG(std::string, relay_poll_interval, "",
          "how often the relay looks for rows without a notification, e.g. 1s "
          "(env SAGAD_RELAY_POLL_INTERVAL)");
ABSL_FLAG(std::string, kafka_delivery_timeout, "",
          "how long a message may wait for Kafka before it is sent again, e.g. 30s "
          "(env SAGAD_KAFKA_DELIVERY_TIMEOUT)");
ABSL_FLAG(std::string, shutdown_grace, "",
          "how long calls in flight may finish at shutdown, e.g. 5s (env SAGAD_SHUTDOWN_GRACE)");

namespace saga::services {
namespace {

// The flag's value when given, else the environment's when set, else `fallback`.
std::string Setting(const absl::Flag<std::string>& flag, const char* env, const char* fallback,
                    const std::function<const char*(const char*)>& getenv) {
  if (std::string value = absl::GetFlag(flag); !value.empty()) return value;
  if (const char* value = getenv(env); value != nullptr && *value != '\0') return value;
  return fallback;
}

absl::StatusOr<int64_t> Integer(const std::string& text, const char* env, int64_t min,
                                int64_t max) {
  int64_t value;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(saga::StrCat(env, ": \"", text, "\" must be a whole number from ",
                                                   min, " to ", max));
  }
  return value;
}

absl::Status CheckAddress(const std::string& addr, const char* env) {
  size_t colon = addr.rfind(':');
  int64_t port;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(addr.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(saga::StrCat(
        env, ": \"", addr, "\" must be host:port, e.g. 127.0.0.1:50051 or 0.0.0.0:50051"));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> Duration(const std::string& text, const char* env,
                                        absl::Duration min, absl::Duration max) {
  absl::Duration value;
  if (!absl::ParseDuration(text, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(
        saga::StrCat(env, ": \"", text, "\" must be a duration from ", absl::FormatDuration(min),
                     " to ", absl::FormatDuration(max), ", e.g. 1s or 500ms"));
  }
  return value;
}

// "table=dsn;table=dsn": the first '=' of each entry ends the table name.
absl::StatusOr<std::vector<RelaySource>> RelaySources(const std::string& text) {
  std::vector<RelaySource> sources;
  for (absl::string_view entry : absl::StrSplit(text, ';', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    size_t eq = entry.find('=');
    if (eq == absl::string_view::npos || eq == 0 || eq + 1 == entry.size()) {
      return absl::InvalidArgumentError(saga::StrCat(
          "SAGAD_RELAY_SOURCES: \"", std::string(entry),
          "\" must be table=dsn, e.g. outbox=postgresql://billing@db:5432/billing"));
    }
    sources.push_back(RelaySource{.table = std::string(entry.substr(0, eq)),
                                  .dsn = std::string(entry.substr(eq + 1))});
  }
  return sources;
}

}  // namespace

absl::StatusOr<ServerConfig> LoadConfig(const std::function<const char*(const char*)>& getenv) {
  ServerConfig config;
  config.pg_dsn = Setting(FLAGS_pg_dsn, "SAGAD_PG_DSN", "postgresql://127.0.0.1:5432/sagad", getenv);
  config.grpc_addr = Setting(FLAGS_grpc_addr, "SAGAD_GRPC_ADDR", "127.0.0.1:50051", getenv);
  config.http_addr = Setting(FLAGS_http_addr, "SAGAD_HTTP_ADDR", "127.0.0.1:8081", getenv);
  config.kafka_brokers = Setting(FLAGS_kafka_brokers, "SAGAD_KAFKA_BROKERS", "embedded", getenv);
  if (absl::Status s = CheckAddress(config.grpc_addr, "SAGAD_GRPC_ADDR"); !s.ok()) return s;
  if (config.http_addr == "off") config.http_addr.clear();
  if (!config.http_addr.empty()) {
    if (absl::Status s = CheckAddress(config.http_addr, "SAGAD_HTTP_ADDR"); !s.ok()) return s;
  }
  auto payload = Integer(Setting(FLAGS_max_payload_bytes, "SAGAD_MAX_PAYLOAD_BYTES", "1048576", getenv),
                         "SAGAD_MAX_PAYLOAD_BYTES", 1, 64 << 20);
  if (!payload.ok()) return payload.status();
  config.max_payload_bytes = static_cast<size_t>(*payload);
  auto pool = Integer(Setting(FLAGS_pg_pool_size, "SAGAD_PG_POOL_SIZE", "16", getenv),
                      "SAGAD_PG_POOL_SIZE", 1, 1000);
  if (!pool.ok()) return pool.status();
  config.pg_pool_size = static_cast<int>(*pool);
  auto workers = Integer(
      Setting(FLAGS_worker_threads, "SAGAD_WORKER_THREADS", "16", getenv),
      "SAGAD_WORKER_THREADS", 1, 1000);
  if (!workers.ok()) return workers.status();
  config.worker_threads = static_cast<int>(*workers);
  std::string grace = Setting(FLAGS_shutdown_grace, "SAGAD_SHUTDOWN_GRACE", "5s", getenv);
  if (!absl::ParseDuration(grace, &config.shutdown_grace) ||
      config.shutdown_grace < absl::ZeroDuration() || config.shutdown_grace > absl::Minutes(10)) {
    return absl::InvalidArgumentError(saga::StrCat(
        "SAGAD_SHUTDOWN_GRACE: \"", grace, "\" must be a duration from 0s to 10m, e.g. 5s"));
  }
  std::string ttl = Setting(FLAGS_lease_ttl, "SAGAD_LEASE_TTL", "10s", getenv);
  if (!absl::ParseDuration(ttl, &config.lease_ttl) || config.lease_ttl < absl::Milliseconds(300) ||
      config.lease_ttl > absl::Minutes(10)) {
    return absl::InvalidArgumentError(saga::StrCat(
        "SAGAD_LEASE_TTL: \"", ttl, "\" must be a duration from 300ms to 10m, e.g. 10s"));
  }
  std::string relay = Setting(FLAGS_relay, "SAGAD_RELAY", "on", getenv);
  if (relay != "on" && relay != "off") {
    return absl::InvalidArgumentError(
        saga::StrCat("SAGAD_RELAY: \"", relay, "\" must be on or off"));
  }
  config.relay = relay == "on";
  auto sources = RelaySources(Setting(FLAGS_relay_sources, "SAGAD_RELAY_SOURCES", "", getenv));
  if (!sources.ok()) return sources.status();
  config.relay_sources = *std::move(sources);
  auto batch = Integer(Setting(FLAGS_relay_batch, "SAGAD_RELAY_BATCH", "5000", getenv),
                       "SAGAD_RELAY_BATCH", 1, 100000);
  if (!batch.ok()) return batch.status();
  config.relay_batch = static_cast<int>(*batch);
  auto attempts =
      Integer(Setting(FLAGS_relay_max_attempts, "SAGAD_RELAY_MAX_ATTEMPTS", "5", getenv),
              "SAGAD_RELAY_MAX_ATTEMPTS", 1, 1000);
  if (!attempts.ok()) return attempts.status();
  config.relay_max_attempts = static_cast<int>(*attempts);
  auto poll = Duration(Setting(FLAGS_relay_poll_interval, "SAGAD_RELAY_POLL_INTERVAL", "1s", getenv),
                       "SAGAD_RELAY_POLL_INTERVAL", absl::Milliseconds(10), absl::Minutes(1));
  if (!poll.ok()) return poll.status();
  config.relay_poll_interval = *poll;
  auto delivery =
      Duration(Setting(FLAGS_kafka_delivery_timeout, "SAGAD_KAFKA_DELIVERY_TIMEOUT", "30s", getenv),
               "SAGAD_KAFKA_DELIVERY_TIMEOUT", absl::Seconds(1), absl::Minutes(30));
  if (!delivery.ok()) return delivery.status();
  config.kafka_delivery_timeout = *delivery;
  char host[256] = "sagad";
  gethostname(host, sizeof(host) - 1);
  config.instance_id = Setting(FLAGS_instance_id, "SAGAD_INSTANCE_ID",
                               saga::StrCat(host, "-", NewUuid().substr(0, 8)).c_str(), getenv);
  config.events_topic =
      Setting(FLAGS_events_topic, "SAGAD_EVENTS_TOPIC", "sagad.saga-events", getenv);
  if (absl::Status s = outbox::ValidateTopicName(config.events_topic, "SAGAD_EVENTS_TOPIC");
      !s.ok()) {
    return s;
  }
  config.definitions_dir = Setting(FLAGS_definitions, "SAGAD_DEFINITIONS", "", getenv);
  config.descriptor_set_path = Setting(FLAGS_descriptor_set, "SAGAD_DESCRIPTOR_SET", "", getenv);
  config.descriptor_targets =
      Setting(FLAGS_descriptor_targets, "SAGAD_DESCRIPTOR_TARGETS", "", getenv);
  if (!config.descriptor_set_path.empty() && config.descriptor_targets.empty()) {
    return absl::InvalidArgumentError(
        "SAGAD_DESCRIPTOR_TARGETS: required with SAGAD_DESCRIPTOR_SET: say where the services "
        "are served, e.g. 127.0.0.1:7001");
  }
  std::string level = Setting(FLAGS_log_level, "SAGAD_LOG_LEVEL", "info", getenv);
  if (level == "debug") {
    config.log_level = LogLevel::kDebug;
  } else if (level == "info") {
    config.log_level = LogLevel::kInfo;
  } else if (level == "warning") {
    config.log_level = LogLevel::kWarning;
  } else if (level == "error") {
    config.log_level = LogLevel::kError;
  } else {
    return absl::InvalidArgumentError(saga::StrCat(
        "SAGAD_LOG_LEVEL: \"", level, "\" must be debug, info, warning or error"));
  }
  config.auth_tokens_file =
      Setting(FLAGS_auth_tokens_file, "SAGAD_AUTH_TOKENS_FILE", "", getenv);
  auto skew = Duration(Setting(FLAGS_clock_skew, "SAGAD_CLOCK_SKEW", "0s", getenv),
                       "SAGAD_CLOCK_SKEW", -absl::Minutes(10), absl::Minutes(10));
  if (!skew.ok()) return skew.status();
  config.clock_skew = *skew;
  auto rtt = Duration(Setting(FLAGS_embedded_kafka_rtt, "SAGAD_EMBEDDED_KAFKA_RTT", "0s", getenv),
                      "SAGAD_EMBEDDED_KAFKA_RTT", absl::ZeroDuration(), absl::Seconds(30));
  if (!rtt.ok()) return rtt.status();
  config.embedded_kafka_rtt = *rtt;
  auto reload =
      Duration(Setting(FLAGS_auth_reload_interval, "SAGAD_AUTH_RELOAD_INTERVAL", "10s", getenv),
               "SAGAD_AUTH_RELOAD_INTERVAL", absl::Milliseconds(100), absl::Hours(1));
  if (!reload.ok()) return reload.status();
  config.auth_reload_interval = *reload;
  config.tls_cert_file = Setting(FLAGS_tls_cert_file, "SAGAD_TLS_CERT_FILE", "", getenv);
  config.tls_key_file = Setting(FLAGS_tls_key_file, "SAGAD_TLS_KEY_FILE", "", getenv);
  config.tls_client_ca_file =
      Setting(FLAGS_tls_client_ca_file, "SAGAD_TLS_CLIENT_CA_FILE", "", getenv);
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "SAGAD_TLS_CERT_FILE and SAGAD_TLS_KEY_FILE go together: set both for TLS, or neither");
  }
  if (!config.tls_client_ca_file.empty() && config.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "SAGAD_TLS_CLIENT_CA_FILE needs TLS: set SAGAD_TLS_CERT_FILE and SAGAD_TLS_KEY_FILE too");
  }
  return config;
}

}  // namespace saga::services
