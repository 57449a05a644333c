#include "tests/harness/kafka_client.h"

#include <librdkafka/rdkafka.h>

#include <atomic>

#include "absl/time/clock.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"

namespace saga::testing {
namespace {

struct DeliveryCounts {
  std::atomic<int> persisted{0};
  std::atomic<int> failed{0};
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* counts = static_cast<DeliveryCounts*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
      rd_kafka_message_status(message) == RD_KAFKA_MSG_STATUS_PERSISTED) {
    counts->persisted.fetch_add(1);
  } else {
    counts->failed.fetch_add(1);
  }
}

absl::StatusOr<rd_kafka_conf_t*> Config(
    const std::vector<std::pair<std::string, std::string>>& settings) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(saga::StrCat(name, ": ", errstr));
    }
  }
  return conf;
}

}  // namespace

absl::Status ProduceAll(const std::string& bootstrap, const std::string& topic,
                        const std::vector<std::pair<std::string, std::string>>& records,
                        absl::Duration timeout) {
  auto conf = Config({{"bootstrap.servers", bootstrap},
                      {"enable.idempotence", "true"},
                      {"acks", "all"},
                      {"linger.ms", "5"}});
  if (!conf.ok()) return conf.status();
  DeliveryCounts counts;
  rd_kafka_conf_set_dr_msg_cb(*conf, OnDelivery);
  rd_kafka_conf_set_opaque(*conf, &counts);
  char errstr[512];
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, errstr, sizeof(errstr));
  if (producer == nullptr) return absl::InternalError(errstr);
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status status;
  for (const auto& [key, value] : records) {
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || absl::Now() > deadline) {
        status = absl::UnavailableError(saga::StrCat("produce: ", rd_kafka_err2str(err)));
        break;
      }
      rd_kafka_poll(producer, 10);  // serve delivery reports to make room
    }
    if (!status.ok()) break;
  }
  int remaining_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
  rd_kafka_flush(producer, remaining_ms > 0 ? remaining_ms : 0);
  rd_kafka_destroy(producer);
  if (!status.ok()) return status;
  if (counts.persisted.load() != static_cast<int>(records.size())) {
    return absl::DeadlineExceededError(saga::StrCat(counts.persisted.load(), " of ",
                                                    records.size(), " persisted, ",
                                                    counts.failed.load(), " failed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KafkaRecord>> ConsumeFromStart(const std::string& bootstrap,
                                                          const std::string& topic, size_t count,
                                                          absl::Duration timeout) {
  return ConsumeUntil(
      bootstrap, topic,
      [count](const std::vector<KafkaRecord>& records) { return records.size() >= count; },
      timeout);
}

absl::StatusOr<std::vector<KafkaRecord>> ConsumeUntilAllIds(const std::string& bootstrap,
                                                            const std::string& topic,
                                                            const std::set<std::string>& ids,
                                                            absl::Duration timeout) {
  std::set<std::string> seen;
  size_t looked = 0;
  return ConsumeUntil(
      bootstrap, topic,
      [&](const std::vector<KafkaRecord>& records) {
        for (; looked < records.size(); ++looked) {
          if (ids.contains(records[looked].message_id)) seen.insert(records[looked].message_id);
        }
        return seen.size() == ids.size();
      },
      timeout);
}

absl::StatusOr<std::vector<KafkaRecord>> ConsumeUntil(
    const std::string& bootstrap, const std::string& topic,
    const std::function<bool(const std::vector<KafkaRecord>&)>& done, absl::Duration timeout) {
  auto conf = Config({{"bootstrap.servers", bootstrap},
                      {"group.id", "test-" + NewUuid()},
                      {"auto.offset.reset", "earliest"},
                      {"enable.auto.commit", "false"},
                      {"fetch.max.bytes", "52428800"}});
  if (!conf.ok()) return conf.status();
  char errstr[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, errstr, sizeof(errstr));
  if (consumer == nullptr) return absl::InternalError(errstr);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  std::vector<KafkaRecord> records;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(consumer);
    return absl::InternalError(saga::StrCat("subscribe: ", rd_kafka_err2str(err)));
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (!done(records) && absl::Now() < deadline) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 100);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      KafkaRecord record{
          std::string(static_cast<const char*>(message->key), message->key_len),
          std::string(static_cast<const char*>(message->payload), message->len),
          message->partition, static_cast<long long>(message->offset)};
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0;
             rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          record.headers.emplace_back(name, std::string(static_cast<const char*>(value), size));
          if (std::string_view(name) == "message-id") record.message_id = record.headers.back().second;
        }
      }
      records.push_back(std::move(record));
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return records;
}

namespace {

// Runs one admin request on a short-lived producer handle and waits for its result event.
absl::Status RunAdmin(const std::string& bootstrap, rd_kafka_event_type_t expected,
                      const std::function<void(rd_kafka_t*, rd_kafka_queue_t*)>& request) {
  auto conf = Config({{"bootstrap.servers", bootstrap}});
  if (!conf.ok()) return conf.status();
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, errstr, sizeof(errstr));
  if (rk == nullptr) return absl::InternalError(errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  request(rk, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  absl::Status status = absl::OkStatus();
  if (event == nullptr || rd_kafka_event_type(event) != expected) {
    status = absl::DeadlineExceededError("Kafka admin request: no result within 30 s");
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = absl::InternalError(saga::StrCat("Kafka admin request: ",
                                              rd_kafka_event_error_string(event)));
  } else if (expected == RD_KAFKA_EVENT_CREATETOPICS_RESULT) {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &n);
    for (size_t i = 0; i < n; ++i) {
      if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = absl::InternalError(saga::StrCat("create topic: ",
                                                  rd_kafka_topic_result_error_string(results[i])));
      }
    }
  } else if (expected == RD_KAFKA_EVENT_ALTERCONFIGS_RESULT) {
    size_t n = 0;
    const rd_kafka_ConfigResource_t** results =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(event), &n);
    for (size_t i = 0; i < n; ++i) {
      if (rd_kafka_ConfigResource_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = absl::InternalError(saga::StrCat(
            "alter config: ", rd_kafka_ConfigResource_error_string(results[i])));
      }
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_destroy(rk);
  return status;
}

}  // namespace

absl::Status CreateTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                         const std::vector<std::pair<std::string, std::string>>& configs) {
  return RunAdmin(bootstrap, RD_KAFKA_EVENT_CREATETOPICS_RESULT,
                  [&](rd_kafka_t* rk, rd_kafka_queue_t* queue) {
                    char errstr[256];
                    rd_kafka_NewTopic_t* t =
                        rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, errstr, sizeof(errstr));
                    for (const auto& [name, value] : configs) {
                      rd_kafka_NewTopic_set_config(t, name.c_str(), value.c_str());
                    }
                    rd_kafka_CreateTopics(rk, &t, 1, nullptr, queue);
                    rd_kafka_NewTopic_destroy(t);
                  });
}

absl::Status SetTopicConfigs(const std::string& bootstrap, const std::string& topic,
                             const std::vector<std::pair<std::string, std::string>>& configs) {
  return RunAdmin(bootstrap, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT,
                  [&](rd_kafka_t* rk, rd_kafka_queue_t* queue) {
                    rd_kafka_ConfigResource_t* resource =
                        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
                    for (const auto& [name, value] : configs) {
                      rd_kafka_ConfigResource_set_config(resource, name.c_str(), value.c_str());
                    }
                    rd_kafka_AlterConfigs(rk, &resource, 1, nullptr, queue);
                    rd_kafka_ConfigResource_destroy(resource);
                  });
}

}  // namespace saga::testing
