#include "outbox/kafka/kafka_producer.h"

#include <librdkafka/rdkafka.h>

#include "absl/container/flat_hash_set.h"
#include "sdk/base/failpoint.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"

namespace saga::outbox::kafka {
namespace {

// Kafka's default max.message.bytes, assumed for a topic that does not exist yet (the broker
// creates it with its default).
constexpr size_t kDefaultMaxMessageBytes = 1048588;
constexpr absl::Duration kLimitCacheTtl = absl::Seconds(5);

// Errors that concern this message and will not go away by sending it again as it is: the
// row counts an attempt (and is parked after the relay's limit). Everything else (timeouts,
// brokers down, leadership changes) means "not now": the row stays and is sent again.
bool IsRejection(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

Delivery FromError(rd_kafka_resp_err_t err) {
  return Delivery{.outcome = IsRejection(err) ? Delivery::Outcome::kRejected
                                              : Delivery::Outcome::kUnavailable,
                  .error = saga::StrCat("Kafka: ", rd_kafka_err2str(err), " (",
                                        rd_kafka_err2name(err), ")")};
}

struct SendState {
  int outstanding = 0;
  bool fatal = false;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* state = static_cast<SendState*>(opaque);
  auto* delivery = static_cast<Delivery*>(message->_private);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
      rd_kafka_message_status(message) == RD_KAFKA_MSG_STATUS_PERSISTED) {
    *delivery = Delivery{.outcome = Delivery::Outcome::kPersisted};
  } else if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    *delivery = Delivery{.outcome = Delivery::Outcome::kUnavailable,
                         .error = "Kafka reported the message without a persisted status"};
  } else {
    *delivery = FromError(message->err);
  }
  --state->outstanding;
}

void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* state = static_cast<SendState*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char text[512];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, text, sizeof(text));
    state->fatal = true;
    LogError("Kafka producer fatal error; a new producer is started",
             {{"error", text}, {"code", rd_kafka_err2name(fatal)}});
    return;
  }
  LogDebug("Kafka client error",
           {{"error", reason}, {"code", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))}});
}

// One SendState per producer, reached through the producer's opaque.
SendState& StateOf(rd_kafka_t* rk) { return *static_cast<SendState*>(rd_kafka_opaque(rk)); }

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    KafkaProducerOptions options) {
  std::unique_ptr<KafkaProducer> producer(new KafkaProducer(std::move(options)));
  if (absl::Status s = producer->Connect(); !s.ok()) return s;
  return producer;
}

KafkaProducer::KafkaProducer(KafkaProducerOptions options) : options_(std::move(options)) {}

KafkaProducer::~KafkaProducer() { Disconnect(); }

absl::Status KafkaProducer::Connect() {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> settings = {
      {"bootstrap.servers", options_.bootstrap_servers},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "2"},
      // Small produce requests must not wait for Nagle's algorithm (40 ms with delayed ACKs).
      {"socket.nagle.disable", "true"},
      // Batches stay well under any topic's max.message.bytes (Kafka's default is 1 MiB), so
      // only a message too large on its own is refused, and the relay checks those first.
      {"batch.size", "131072"},
      {"message.timeout.ms", saga::StrCat(absl::ToInt64Milliseconds(options_.delivery_timeout))},
      {"queue.buffering.max.messages", "1000000"},
      {"client.id", "sagad-relay"},
  };
  for (const auto& setting : options_.settings) settings.push_back(setting);
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(
          saga::StrCat("Kafka producer setting ", name, "=", value, ": ", errstr));
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_error_cb(conf, OnError);
  auto* state = new SendState();
  rd_kafka_conf_set_opaque(conf, state);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk_ == nullptr) {
    delete state;
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(saga::StrCat("cannot create a Kafka producer: ", errstr));
  }
  return absl::OkStatus();
}

void KafkaProducer::Disconnect() {
  if (rk_ == nullptr) return;
  rd_kafka_flush(rk_, 5000);
  SendState* state = &StateOf(rk_);
  rd_kafka_destroy(rk_);
  delete state;
  rk_ = nullptr;
}

void KafkaProducer::Begin(const std::vector<const OutboxRow*>& rows) {
  // Sized once: delivery reports write into it by address.
  results_.assign(rows.size(), Delivery{});
  if (rk_ != nullptr && StateOf(rk_).fatal) Disconnect();
  if (rk_ == nullptr) {
    if (absl::Status s = Connect(); !s.ok()) {
      for (Delivery& d : results_) {
        d = Delivery{.outcome = Delivery::Outcome::kUnavailable, .error = std::string(s.message())};
      }
      return;
    }
  }
  SendState& state = StateOf(rk_);
  absl::flat_hash_set<std::string> held;  // keys with a message that could not be queued
  for (size_t i = 0; i < rows.size(); ++i) {
    const OutboxRow& row = *rows[i];
    if (i == rows.size() / 2 && i > 0) SAGA_FAILPOINT("relay.mid_batch");
    if (held.contains(row.key)) continue;  // stays kNotSent
    while (true) {
      rd_kafka_headers_t* headers = rd_kafka_headers_new(row.headers.size() + 1);
      rd_kafka_header_add(headers, "message-id", -1, row.message_id.data(),
                          static_cast<ssize_t>(row.message_id.size()));
      for (const auto& [name, value] : row.headers) {
        rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()),
                            value.data(), static_cast<ssize_t>(value.size()));
      }
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(row.topic.c_str()),
          RD_KAFKA_V_KEY(const_cast<char*>(row.key.data()), row.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(row.payload.data()), row.payload.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_OPAQUE(&results_[i]), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++state.outstanding;
        break;
      }
      rd_kafka_headers_destroy(headers);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk_, 10);
        continue;
      }
      results_[i] = FromError(err);
      held.insert(row.key);
      break;
    }
  }
}

std::vector<Delivery> KafkaProducer::Wait() {
  // Every queued message gets exactly one report, at the latest after message.timeout.ms.
  if (rk_ != nullptr) {
    SendState& state = StateOf(rk_);
    while (state.outstanding > 0) rd_kafka_poll(rk_, 50);
  }
  return std::move(results_);
}

absl::StatusOr<size_t> KafkaProducer::MaxMessageBytes(const std::string& topic) {
  if (!options_.describe_topic_limits) return kDefaultMaxMessageBytes;
  const absl::Time now = absl::Now();
  if (auto it = limits_.find(topic); it != limits_.end() && now - it->second.fetched < kLimitCacheTtl) {
    return it->second.bytes;
  }
  if (rk_ == nullptr) {
    if (absl::Status s = Connect(); !s.ok()) return s;
  }
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
  rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(admin, 5000, errstr, sizeof(errstr));
  rd_kafka_DescribeConfigs(rk_, &resource, 1, admin, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 6000);
  absl::StatusOr<size_t> limit = absl::UnavailableError(
      saga::StrCat("Kafka did not describe topic ", topic, " in time"));
  if (event != nullptr) {
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      limit = absl::UnavailableError(saga::StrCat("describing topic ", topic, ": ",
                                                  rd_kafka_event_error_string(event)));
    } else {
      size_t count = 0;
      const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(
          rd_kafka_event_DescribeConfigs_result(event), &count);
      if (count == 1 && rd_kafka_ConfigResource_error(resources[0]) ==
                            RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        limit = kDefaultMaxMessageBytes;
      } else if (count == 1 &&
                 rd_kafka_ConfigResource_error(resources[0]) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        size_t configs = 0;
        const rd_kafka_ConfigEntry_t** entries =
            rd_kafka_ConfigResource_configs(resources[0], &configs);
        for (size_t i = 0; i < configs; ++i) {
          if (std::string_view(rd_kafka_ConfigEntry_name(entries[i])) == "max.message.bytes" &&
              rd_kafka_ConfigEntry_value(entries[i]) != nullptr) {
            limit = static_cast<size_t>(std::stoll(rd_kafka_ConfigEntry_value(entries[i])));
          }
        }
      }
    }
    rd_kafka_event_destroy(event);
  }
  rd_kafka_AdminOptions_destroy(admin);
  rd_kafka_queue_destroy(queue);
  rd_kafka_ConfigResource_destroy(resource);
  // Failures are remembered too, so an unreachable broker (or one that cannot describe
  // configs, like the embedded cluster) costs one lookup per TTL, not one per cycle.
  limits_[topic] = Limit{.bytes = limit.ok() ? *limit : SIZE_MAX, .fetched = now};
  return limit;
}

}  // namespace saga::outbox::kafka
