#include "sdk/inbox/idempotent_consumer.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>

#include <pqxx/binarystring>
#include <pqxx/nontransaction>
#include <pqxx/result>

#include "absl/container/flat_hash_set.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"
#include "sdk/outbox/outbox_writer.h"
#include "sdk/pg/array_literal.h"
#include "sdk/pg/pg_status.h"
#include "sdk/pg/table_name.h"

namespace saga::sdk {
namespace {

InboxMessage FromKafka(const rd_kafka_message_t* m) {
  InboxMessage message;
  message.topic = rd_kafka_topic_name(m->rkt);
  message.partition = m->partition;
  message.offset = m->offset;
  if (m->key != nullptr) message.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) message.payload.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      std::string text = value == nullptr ? "" : std::string(static_cast<const char*>(value), size);
      if (std::string_view(name) == "message-id") message.message_id = text;
      message.headers.emplace_back(name, std::move(text));
    }
  }
  if (message.message_id.empty()) {
    message.message_id = saga::StrCat(message.topic, "/", message.partition, "/", message.offset);
  }
  return message;
}

}  // namespace

struct Rebalancer {
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<IdempotentConsumer*>(opaque);
    const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      PlaceAtStartTime(*self, partitions);
      if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions)) {
          rd_kafka_error_destroy(e);
        }
      } else {
        rd_kafka_assign(rk, partitions);
      }
    } else if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions)) {
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk, nullptr);  // revoked or lost: the stored offsets are committed first
    }
  }

  static void PlaceAtStartTime(const IdempotentConsumer& self,
                               rd_kafka_topic_partition_list_t* partitions) {
    constexpr int kTimeoutMs = 10000;
    // Partitions with a committed offset resume there; the others look theirs up by time.
    if (rd_kafka_committed(self.rk_, partitions, kTimeoutMs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < partitions->cnt; ++i) {
        partitions->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
      }
    }
    rd_kafka_topic_partition_list_t* by_time = rd_kafka_topic_partition_list_new(partitions->cnt);
    const int64_t start_ms = absl::ToUnixMillis(self.options_.start_at);
    for (int i = 0; i < partitions->cnt; ++i) {
      if (partitions->elems[i].offset >= 0) continue;
      rd_kafka_topic_partition_list_add(by_time, partitions->elems[i].topic,
                                        partitions->elems[i].partition)->offset = start_ms;
    }
    if (by_time->cnt > 0) {
      rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(self.rk_, by_time, kTimeoutMs);
      for (int i = 0; i < by_time->cnt; ++i) {
        rd_kafka_topic_partition_t* p = rd_kafka_topic_partition_list_find(
            partitions, by_time->elems[i].topic, by_time->elems[i].partition);
        // No answer: from the start, as without start_at (replies are deduplicated anyway).
        // An offset of -1 from the lookup means no message that recent: the end.
        const rd_kafka_topic_partition_t& found = by_time->elems[i];
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR || found.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          p->offset = RD_KAFKA_OFFSET_BEGINNING;
        } else {
          p->offset = found.offset < 0 ? RD_KAFKA_OFFSET_END : found.offset;
        }
      }
    }
    rd_kafka_topic_partition_list_destroy(by_time);
  }
};

absl::StatusOr<std::unique_ptr<IdempotentConsumer>> IdempotentConsumer::Create(
    IdempotentConsumerOptions options, InboxHandler handler) {
  if (options.topics.empty() || options.group_id.empty() || options.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError(
        "IdempotentConsumer needs bootstrap_servers, group_id and at least one topic");
  }
  if (options.batch_size < 1 || options.max_attempts < 1) {
    return absl::InvalidArgumentError("IdempotentConsumer: batch_size and max_attempts must be >= 1");
  }
  if (absl::Status s = pg::ValidateTableName(options.inbox_table, "inbox table"); !s.ok()) {
    return s;
  }
  if (options.consumer_name.empty()) options.consumer_name = options.group_id;
  std::unique_ptr<IdempotentConsumer> consumer(
      new IdempotentConsumer(std::move(options), std::move(handler)));
  try {
    consumer->Connection();
  } catch (const std::exception& e) {
    return pg::StatusFromException(e, "connecting the idempotent consumer to PostgreSQL");
  }
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> settings = {
      {"bootstrap.servers", consumer->options_.bootstrap_servers},
      {"group.id", consumer->options_.group_id},
      {"auto.offset.reset", "earliest"},
      // Offsets are stored by hand once the transaction committed, and committed from there.
      {"enable.auto.offset.store", "false"},
      {"enable.auto.commit", "true"},
      {"auto.commit.interval.ms", "1000"},
      {"socket.nagle.disable", "true"},
  };
  for (const auto& s : consumer->options_.kafka_settings) settings.push_back(s);
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(
          saga::StrCat("Kafka consumer setting ", name, "=", value, ": ", errstr));
    }
  }
  if (consumer->options_.start_at != absl::InfinitePast()) {
    rd_kafka_conf_set_rebalance_cb(conf, &Rebalancer::OnRebalance);
    rd_kafka_conf_set_opaque(conf, consumer.get());
  }
  consumer->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (consumer->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(saga::StrCat("cannot create a Kafka consumer: ", errstr));
  }
  rd_kafka_poll_set_consumer(consumer->rk_);
  return consumer;
}

IdempotentConsumer::IdempotentConsumer(IdempotentConsumerOptions options, InboxHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

IdempotentConsumer::~IdempotentConsumer() {
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

IdempotentConsumerStats IdempotentConsumer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

pqxx::connection& IdempotentConsumer::Connection() {
  if (conn_ == nullptr || !conn_->is_open()) conn_ = std::make_unique<pqxx::connection>(options_.pg_dsn);
  return *conn_;
}

bool IdempotentConsumer::SleepUnlessStopping(absl::Duration d) {
  const absl::Time end = absl::Now() + d;
  while (!stopping_ && absl::Now() < end) absl::SleepFor(std::min(d, absl::Milliseconds(20)));
  return !stopping_;
}

absl::Status IdempotentConsumer::Run() {
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size()));
  for (const std::string& topic : options_.topics) {
    rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(saga::StrCat("subscribing: ", rd_kafka_err2str(err)));
  }
  while (!stopping_) {
    std::vector<InboxMessage> batch = PollBatch();
    if (!batch.empty() && !Apply(batch)) break;
    MaybeCleanUp();
  }
  // Commits the offsets stored so far and leaves the group.
  rd_kafka_consumer_close(rk_);
  return absl::OkStatus();
}

std::vector<InboxMessage> IdempotentConsumer::PollBatch() {
  std::vector<InboxMessage> batch;
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
  while (m != nullptr) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      batch.push_back(FromKafka(m));
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      LogWarning("Kafka consumer error", {{"error", rd_kafka_message_errstr(m)}});
    }
    rd_kafka_message_destroy(m);
    if (static_cast<int>(batch.size()) >= options_.batch_size) break;
    m = rd_kafka_consumer_poll(rk_, 0);
  }
  return batch;
}

bool IdempotentConsumer::Apply(const std::vector<InboxMessage>& messages) {
  if (messages.size() > 1) {
    absl::StatusOr<bool> applied = TryBatch(messages);
    if (applied.ok() && *applied) return true;
    // A handler failed, or the database: one message at a time finds which.
    {
      absl::MutexLock lock(&mu_);
      ++stats_.retries;
    }
  }
  for (const InboxMessage& message : messages) {
    if (!ApplyOne(message)) return false;
  }
  return true;
}

absl::StatusOr<bool> IdempotentConsumer::TryBatch(const std::vector<InboxMessage>& messages) {
  pg::ArrayLiteral ids;
  for (const InboxMessage& m : messages) ids.AddText(m.message_id);
  int64_t applied = 0;
  const absl::Time started = absl::Now();
  try {
    pqxx::work tx(Connection());
    absl::flat_hash_set<std::string> fresh;
    for (const auto& row : tx.exec_params(
             saga::StrCat("INSERT INTO ", options_.inbox_table,
                          " (consumer, message_id) SELECT $1, unnest($2::text[]) "
                          "ON CONFLICT DO NOTHING RETURNING message_id"),
             options_.consumer_name, ids.str())) {
      fresh.insert(row[0].as<std::string>());
    }
    for (const InboxMessage& m : messages) {
      if (!fresh.erase(m.message_id)) continue;  // seen before, or earlier in this batch
      if (!handler_(tx, m).ok()) return false;  // rolled back
      ++applied;
    }
    tx.commit();
  } catch (const std::exception& e) {
    if (conn_ != nullptr && !conn_->is_open()) conn_.reset();
    return pg::StatusFromException(e, "applying a batch of messages");
  }
  if (options_.on_commit) options_.on_commit(absl::Now() - started, static_cast<int>(messages.size()));
  for (const InboxMessage& m : messages) StoreOffset(m);
  absl::MutexLock lock(&mu_);
  stats_.applied += applied;
  stats_.duplicates += static_cast<int64_t>(messages.size()) - applied;
  return true;
}

bool IdempotentConsumer::ApplyOne(const InboxMessage& message) {
  int attempts = 0;
  absl::Duration backoff = options_.retry_base;
  while (!stopping_) {
    absl::Status status;
    bool duplicate = false;
    const absl::Time started = absl::Now();
    try {
      pqxx::work tx(Connection());
      pqxx::result inserted = tx.exec_params(
          saga::StrCat("INSERT INTO ", options_.inbox_table,
                       " (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"),
          options_.consumer_name, message.message_id);
      if (inserted.affected_rows() == 0) {
        duplicate = true;
      } else {
        status = handler_(tx, message);
        if (status.ok()) tx.commit();
      }
    } catch (const std::exception& e) {
      status = pg::StatusFromException(e, "applying a message");
      if (conn_ != nullptr && !conn_->is_open()) conn_.reset();
    }
    if (duplicate || status.ok()) {
      if (status.ok() && !duplicate && options_.on_commit) options_.on_commit(absl::Now() - started, 1);
      StoreOffset(message);
      absl::MutexLock lock(&mu_);
      ++(duplicate ? stats_.duplicates : stats_.applied);
      return true;
    }
    {
      absl::MutexLock lock(&mu_);
      ++stats_.retries;
    }
    // An unreachable database is not the message's fault: it never counts towards parking.
    if (status.code() != absl::StatusCode::kUnavailable) ++attempts;
    if (attempts >= options_.max_attempts && Park(message, status, attempts).ok()) {
      StoreOffset(message);
      return true;
    }
    if (!SleepUnlessStopping(backoff)) break;
    backoff = std::min(backoff * 2, options_.retry_max);
  }
  return false;
}

absl::Status IdempotentConsumer::Park(const InboxMessage& message, const absl::Status& error,
                                      int attempts) {
  try {
    pqxx::work tx(Connection());
    tx.exec_params(saga::StrCat("INSERT INTO ", options_.inbox_table,
                                " (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"),
                   options_.consumer_name, message.message_id);
    tx.exec_params(
        saga::StrCat("INSERT INTO ", options_.inbox_table,
                     "_parked (consumer, message_id, topic, kafka_partition, kafka_offset, "
                     "msg_key, payload, error, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                     "$9) ON CONFLICT DO NOTHING"),
        options_.consumer_name, message.message_id, message.topic, message.partition,
        message.offset, pqxx::binarystring(message.key), pqxx::binarystring(message.payload),
        std::string(error.message()), attempts);
    tx.commit();
  } catch (const std::exception& e) {
    if (conn_ != nullptr && !conn_->is_open()) conn_.reset();
    return pg::StatusFromException(e, "parking a message");
  }
  LogWarning("message parked by the idempotent consumer",
             {{"consumer", options_.consumer_name}, {"message_id", message.message_id},
              {"topic", message.topic}, {"attempts", saga::StrCat(attempts)},
              {"error", std::string(error.message())}});
  absl::MutexLock lock(&mu_);
  ++stats_.parked;
  return absl::OkStatus();
}

void IdempotentConsumer::StoreOffset(const InboxMessage& message) {
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(offsets, message.topic.c_str(), message.partition)->offset =
      message.offset + 1;
  rd_kafka_offsets_store(rk_, offsets);
  rd_kafka_topic_partition_list_destroy(offsets);
}

void IdempotentConsumer::MaybeCleanUp() {
  const absl::Time now = absl::Now();
  if (now - last_cleanup_ < options_.cleanup_interval) return;
  last_cleanup_ = now;
  // Small chunks: short transactions, and autovacuum reuses the space.
  try {
    while (!stopping_) {
      pqxx::nontransaction tx(Connection());
      pqxx::result deleted = tx.exec_params(
          saga::StrCat("DELETE FROM ", options_.inbox_table, " WHERE ctid = ANY(ARRAY(SELECT ctid FROM ",
                       options_.inbox_table,
                       " WHERE consumer = $1 AND received_at < now() - $2 * interval '1 second' "
                       "LIMIT 5000))"),
          options_.consumer_name, absl::ToInt64Seconds(options_.retention));
      if (deleted.affected_rows() < 5000) break;
    }
  } catch (const std::exception& e) {
    if (conn_ != nullptr && !conn_->is_open()) conn_.reset();
    LogWarning("inbox clean-up failed; tried again later",
               {{"consumer", options_.consumer_name}, {"error", e.what()}});
  }
}

}  // namespace saga::sdk
