// EmbeddedKafkaCluster runs librdkafka's in-process mock cluster: the default Kafka of sagad
// when no brokers are given (SAGAD_KAFKA_BROKERS=embedded), so the quickstart needs no broker.
// The brokers listen on loopback ports, so kcat and other processes can connect to
// bootstrap_servers(). Not durable: for trying sagad out and for fault injection in tests, not
// for production. Thread-safe after Start.
#ifndef SAGA_OUTBOX_KAFKA_EMBEDDED_CLUSTER_H_
#define SAGA_OUTBOX_KAFKA_EMBEDDED_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace saga::outbox::kafka {

class EmbeddedCluster {
 public:
  // Starts `brokers` mock brokers on ephemeral loopback ports. A `round_trip` above zero
  // delays each broker's every answer by that much: a slow network, for fault tests
  // (SAGAD_EMBEDDED_KAFKA_RTT).
  static absl::StatusOr<std::unique_ptr<EmbeddedCluster>> Start(
      int brokers, absl::Duration round_trip = absl::ZeroDuration());
  ~EmbeddedCluster();

  EmbeddedCluster(const EmbeddedCluster&) = delete;
  EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

  // "127.0.0.1:port,..." for bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }

  // The mock cluster, for fault injection through rdkafka_mock.h.
  rd_kafka_mock_cluster_t* mock_cluster() const { return cluster_; }

 private:
  EmbeddedCluster(rd_kafka_t* handle, rd_kafka_mock_cluster_t* cluster);

  rd_kafka_t* handle_;
  rd_kafka_mock_cluster_t* cluster_;
  std::string bootstrap_servers_;
};

}  // namespace saga::outbox::kafka

#endif  // SAGA_OUTBOX_KAFKA_EMBEDDED_CLUSTER_H_
