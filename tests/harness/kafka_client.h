// Plain librdkafka clients for tests: produce a batch with the idempotent producer and wait for
// every delivery report, read a topic from the beginning (with the message-id header the relay
// sets), and create or reconfigure a topic.
#ifndef SAGA_TESTS_HARNESS_KAFKA_CLIENT_H_
#define SAGA_TESTS_HARNESS_KAFKA_CLIENT_H_

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace saga::testing {

struct KafkaRecord {
  std::string key;
  std::string value;
  int partition = 0;
  long long offset = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string message_id;  // the message-id header, when present
};

// Produces `records` (key, value) in order with enable.idempotence=true and acks=all; OK once
// every one has a delivery report with status PERSISTED.
absl::Status ProduceAll(const std::string& bootstrap, const std::string& topic,
                        const std::vector<std::pair<std::string, std::string>>& records,
                        absl::Duration timeout);

// Reads `topic` from the beginning with a new consumer group until `count` records arrived or
// `timeout` passed; returns what arrived, in the order it arrived.
absl::StatusOr<std::vector<KafkaRecord>> ConsumeFromStart(const std::string& bootstrap,
                                                          const std::string& topic, size_t count,
                                                          absl::Duration timeout);

// Reads `topic` from the beginning with a new consumer group until `done(records so far)` or
// `timeout`; returns what arrived, in the order it arrived.
absl::StatusOr<std::vector<KafkaRecord>> ConsumeUntil(
    const std::string& bootstrap, const std::string& topic,
    const std::function<bool(const std::vector<KafkaRecord>&)>& done, absl::Duration timeout);

// ConsumeUntil every id of `ids` arrived (by the message-id header). Looks at each record once:
// the fault matrix's long form reads tens of thousands of messages.
absl::StatusOr<std::vector<KafkaRecord>> ConsumeUntilAllIds(const std::string& bootstrap,
                                                            const std::string& topic,
                                                            const std::set<std::string>& ids,
                                                            absl::Duration timeout);

// Creates `topic` with `partitions` partitions (replication 1) and topic-level `configs`.
absl::Status CreateTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                         const std::vector<std::pair<std::string, std::string>>& configs = {});

// Replaces the topic-level configs of `topic` with `configs` (AlterConfigs).
absl::Status SetTopicConfigs(const std::string& bootstrap, const std::string& topic,
                             const std::vector<std::pair<std::string, std::string>>& configs);

}  // namespace saga::testing

#endif  // SAGA_TESTS_HARNESS_KAFKA_CLIENT_H_
