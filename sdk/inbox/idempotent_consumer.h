// IdempotentConsumer applies each Kafka message once in effect, although Kafka delivers at
// least once. For every message it runs the service's handler inside a PostgreSQL transaction
// that also inserts (consumer name, message id) into an inbox table; a message whose id is
// already there is a duplicate: skipped and acknowledged. Offsets are stored only after the
// transaction commits, so a crash or a rebalance redelivers, and the inbox absorbs it.
//
//   saga::sdk::IdempotentConsumer::Create(
//       {.bootstrap_servers = "kafka:9092", .group_id = "billing", .topics = {"orders.events"},
//        .pg_dsn = "postgresql://billing@db/billing"},
//       [](pqxx::work& tx, const saga::sdk::InboxMessage& m) -> absl::Status {
//         tx.exec_params("UPDATE accounts SET ... WHERE order_id = $1", m.key);
//         return absl::OkStatus();   // an error rolls the effect back; retried, then parked
//       });
//
// The message id is the `message-id` header (sagad's relay sets it), else topic/partition/
// offset. A handler that keeps failing is retried with backoff, then the message is parked in
// <inbox>_parked with its error and acknowledged. A batch mode (batch_size > 1) applies many
// messages in one transaction. The inbox keeps ids for `retention` and is trimmed in small
// chunks. Tables: outbox/sql/service_inbox.sql. Run() on one thread; Stop() and stats() from any.
#ifndef SAGA_SDK_INBOX_IDEMPOTENT_CONSUMER_H_
#define SAGA_SDK_INBOX_IDEMPOTENT_CONSUMER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/connection>
#include <pqxx/transaction>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace saga::sdk {

struct InboxMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string payload;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string message_id;

  // The last value of header `name`, or "" when absent.
  std::string Header(std::string_view name) const {
    for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    return "";
  }
};

// Applies one message's effect inside `tx`. OK: committed with the inbox row. An error: both
// rolled back; the message is tried again.
using InboxHandler = std::function<absl::Status(pqxx::work& tx, const InboxMessage& message)>;

struct IdempotentConsumerOptions {
  std::string bootstrap_servers;
  std::string group_id;
  std::vector<std::string> topics;
  std::string consumer_name;  // the deduplication namespace; empty: group_id
  std::string pg_dsn;
  std::string inbox_table = "inbox";  // and <inbox_table>_parked
  int batch_size = 1;                 // > 1: up to this many messages per transaction
  int max_attempts = 5;               // handler failures before a message is parked
  absl::Duration retry_base = absl::Milliseconds(100);
  absl::Duration retry_max = absl::Seconds(10);
  absl::Duration retention = absl::Hours(24 * 7);  // how long ids are remembered
  absl::Duration cleanup_interval = absl::Minutes(1);
  std::vector<std::pair<std::string, std::string>> kafka_settings;  // more librdkafka settings
  // Where a partition with no committed offset in the group starts. InfinitePast (the default):
  // its first message. Otherwise its first message produced at or after this time (Kafka's
  // message timestamps), or its end when there is none: for a group that only cares about
  // messages from a recent moment on, such as sagad's replies after a restart.
  absl::Time start_at = absl::InfinitePast();
  // Called after each committed transaction with its duration and its messages (for metrics).
  std::function<void(absl::Duration, int)> on_commit;
};

struct IdempotentConsumerStats {
  int64_t applied = 0;     // messages whose effect committed
  int64_t duplicates = 0;  // messages skipped because their id was in the inbox
  int64_t parked = 0;      // messages given up on
  int64_t retries = 0;     // handler or database failures retried
};

class IdempotentConsumer {
 public:
  // Checks the options, connects to PostgreSQL and creates the Kafka consumer.
  static absl::StatusOr<std::unique_ptr<IdempotentConsumer>> Create(
      IdempotentConsumerOptions options, InboxHandler handler);
  ~IdempotentConsumer();

  // Consumes until Stop(); then commits the offsets stored and leaves the group.
  absl::Status Run();
  void Stop() { stopping_ = true; }

  IdempotentConsumerStats stats() const;

 private:
  IdempotentConsumer(IdempotentConsumerOptions options, InboxHandler handler);

  // Assigns partitions on a rebalance, placing those without a committed offset at start_at.
  friend struct Rebalancer;

  std::vector<InboxMessage> PollBatch();
  // Applies `messages` (one transaction in batch mode, else one each); false when stopping
  // left some not applied (their offsets are not stored).
  bool Apply(const std::vector<InboxMessage>& messages);
  bool ApplyOne(const InboxMessage& message);
  absl::StatusOr<bool> TryBatch(const std::vector<InboxMessage>& messages);
  absl::Status Park(const InboxMessage& message, const absl::Status& error, int attempts);
  void StoreOffset(const InboxMessage& message);
  void MaybeCleanUp();
  pqxx::connection& Connection();
  bool SleepUnlessStopping(absl::Duration d);

  const IdempotentConsumerOptions options_;
  const InboxHandler handler_;
  rd_kafka_t* rk_ = nullptr;
  std::unique_ptr<pqxx::connection> conn_;
  absl::Time last_cleanup_ = absl::InfinitePast();
  std::atomic<bool> stopping_{false};
  mutable absl::Mutex mu_;
  IdempotentConsumerStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace saga::sdk

#endif  // SAGA_SDK_INBOX_IDEMPOTENT_CONSUMER_H_
