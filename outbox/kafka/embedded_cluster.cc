#include "outbox/kafka/embedded_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sdk/base/strings.h"

#include "sdk/base/log.h"

namespace saga::outbox::kafka {
namespace {

// librdkafka's own log lines, as structured lines of ours (syslog levels: 0 emerg .. 7 debug).
void LogFromRdkafka(const rd_kafka_t*, int level, const char* facility, const char* message) {
  LogLevel ours = level <= 3 ? LogLevel::kError : level <= 4 ? LogLevel::kWarning
                : level <= 6 ? LogLevel::kInfo : LogLevel::kDebug;
  Log(ours, "librdkafka (embedded cluster)", {{"facility", facility}, {"detail", message}});
}

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::Start(
    int brokers, absl::Duration round_trip) {
  if (brokers < 1) return absl::InvalidArgumentError("an embedded cluster needs at least 1 broker");
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, LogFromRdkafka);
  // The handle only hosts the mock cluster and never connects anywhere: its warning about
  // having no bootstrap.servers is expected, so only errors are logged.
  if (rd_kafka_conf_set(conf, "client.id", "sagad-embedded-kafka", errstr, sizeof(errstr)) !=
          RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(saga::StrCat("configuring the embedded Kafka: ", errstr));
  }
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(saga::StrCat("starting the embedded Kafka: ", errstr));
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, brokers);
  if (cluster == nullptr) {
    rd_kafka_destroy(handle);
    return absl::UnavailableError("starting the embedded Kafka: librdkafka could not create a "
                                  "mock cluster (no free loopback port?)");
  }
  // Mock broker ids run 1..brokers.
  for (int id = 1; round_trip > absl::ZeroDuration() && id <= brokers; ++id) {
    rd_kafka_mock_broker_set_rtt(cluster, id,
                                 static_cast<int>(absl::ToInt64Milliseconds(round_trip)));
  }
  return std::unique_ptr<EmbeddedCluster>(new EmbeddedCluster(handle, cluster));
}

EmbeddedCluster::EmbeddedCluster(rd_kafka_t* handle, rd_kafka_mock_cluster_t* cluster)
    : handle_(handle), cluster_(cluster),
      bootstrap_servers_(rd_kafka_mock_cluster_bootstraps(cluster)) {}

EmbeddedCluster::~EmbeddedCluster() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

}  // namespace saga::outbox::kafka
