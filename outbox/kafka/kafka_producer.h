// KafkaProducer sends outbox rows with librdkafka's idempotent producer (enable.idempotence,
// acks=all): key = the row's key, value = its payload, headers = its headers plus message-id
// (consumers deduplicate by it). Send waits for every delivery report; only a report with
// status PERSISTED counts as delivered. Topic limits (max.message.bytes) come from the broker
// (DescribeConfigs) and are cached for a few seconds.
//
// A fatal error of the idempotent producer (it can no longer guarantee order) makes the next
// Send start a new producer: rows not yet persisted are simply sent again. Used by one relay
// thread at a time.
#ifndef SAGA_OUTBOX_KAFKA_KAFKA_PRODUCER_H_
#define SAGA_OUTBOX_KAFKA_KAFKA_PRODUCER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outbox/message_producer.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace saga::outbox::kafka {

struct KafkaProducerOptions {
  std::string bootstrap_servers;
  // How long librdkafka keeps retrying a message (message.timeout.ms) before it reports it not
  // delivered; the relay then backs off and sends it again.
  absl::Duration delivery_timeout = absl::Seconds(30);
  // Ask the broker for each topic's max.message.bytes (DescribeConfigs). Off for the embedded
  // mock cluster, which does not answer it: Kafka's default limit is assumed instead.
  bool describe_topic_limits = true;
  // More librdkafka settings, e.g. {"linger.ms", "10"}.
  std::vector<std::pair<std::string, std::string>> settings;
};

class KafkaProducer : public MessageProducer {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(KafkaProducerOptions options);
  ~KafkaProducer() override;

  void Begin(const std::vector<const OutboxRow*>& rows) override;
  std::vector<Delivery> Wait() override;
  absl::StatusOr<size_t> MaxMessageBytes(const std::string& topic) override;
  void ForgetMaxMessageBytes(const std::string& topic) override { limits_.erase(topic); }

 private:
  explicit KafkaProducer(KafkaProducerOptions options);
  absl::Status Connect();
  void Disconnect();

  const KafkaProducerOptions options_;
  rd_kafka_t* rk_ = nullptr;
  std::vector<Delivery> results_;  // of the batch begun last, filled by delivery reports
  struct Limit {
    size_t bytes;
    absl::Time fetched;
  };
  absl::flat_hash_map<std::string, Limit> limits_;
};

}  // namespace saga::outbox::kafka

#endif  // SAGA_OUTBOX_KAFKA_KAFKA_PRODUCER_H_
