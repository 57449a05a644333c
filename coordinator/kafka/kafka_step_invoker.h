// KafkaStepInvoker runs the saga steps whose endpoint is a Kafka command topic.
//
// A call's command message (coordinator/kafka_command.h) goes to sagad's outbox; the engine
// commits it with the transition that dispatches the call (Invocation.command_committed), and
// the invoker writes it itself for calls made otherwise. The relay delivers it: topic = the
// endpoint's command_topic, key = saga id, value = the step's payload, message id =
// "<idempotency key>/<attempt>", and the headers saga-id, saga-step, saga-operation,
// saga-attempt, idempotency-key (the same for every attempt of one step's operation),
// saga-lease-epoch, traceparent, and reply-topic. The participant applies it once per
// idempotency key and writes a reply to reply-topic with the headers idempotency-key,
// saga-status (the gRPC code as a number, "0" for success) and saga-error (a message).
//
// Replies are read by one IdempotentConsumer per reply topic in a consumer group of this
// instance's own (every instance reads every reply and takes those of the calls it waits for),
// deduplicated through the inbox. A reply completes the call waiting with its idempotency key;
// a duplicated or late reply finds none and is dropped, so it never advances a saga twice. A
// call with no reply within its timeout ends with DEADLINE_EXCEEDED (may have run), as a gRPC
// call would; the engine retries it with the same idempotency key.
//
// Commands not committed by the engine are written by a thread of the invoker, many in one
// transaction, which also starts reply consumers; Invoke never blocks. Thread-safe.
#ifndef SAGA_COORDINATOR_KAFKA_KAFKA_STEP_INVOKER_H_
#define SAGA_COORDINATOR_KAFKA_KAFKA_STEP_INVOKER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/participant_invoker.h"
#include "sdk/inbox/idempotent_consumer.h"
#include "sdk/pg/connection_pool.h"

namespace saga::coordinator::kafka {

struct KafkaStepOptions {
  std::string bootstrap_servers;
  std::string pg_dsn;       // sagad's database (its inbox)
  std::string instance_id;  // names this instance's reply consumer group
  // More librdkafka settings for the reply consumers.
  std::vector<std::pair<std::string, std::string>> kafka_settings;
};

class KafkaStepInvoker : public ParticipantInvoker {
 public:
  // `pool` (sagad's database, for the outbox) must outlive the invoker.
  KafkaStepInvoker(pg::ConnectionPool* pool, KafkaStepOptions options);
  ~KafkaStepInvoker() override;

  void Invoke(const Invocation& invocation, std::function<void(absl::Status)> done) override;

  // Stops the writer and the reply consumers; calls still waiting end as UNAVAILABLE.
  void Stop();

 private:
  struct Command {
    Invocation invocation;
    std::function<void(absl::Status)> done;
  };
  struct Waiting {
    std::function<void(absl::Status)> done;
    absl::Time deadline;
  };
  struct ReplyConsumer {
    std::unique_ptr<sdk::IdempotentConsumer> consumer;
    std::thread thread;
  };

  void RunWriter();
  absl::Status WriteCommands(const std::vector<Command>& commands);
  void EnsureReplyConsumer(const std::string& reply_topic);
  absl::Status OnReply(const sdk::InboxMessage& reply);
  void ExpireWaiting();

  pg::ConnectionPool* const pool_;
  const KafkaStepOptions options_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Command> queue_ ABSL_GUARDED_BY(mu_);
  // Calls waiting for a reply, by idempotency key.
  absl::flat_hash_map<std::string, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<ReplyConsumer>> consumers_ ABSL_GUARDED_BY(mu_);
  std::thread writer_;
};

}  // namespace saga::coordinator::kafka

#endif  // SAGA_COORDINATOR_KAFKA_KAFKA_STEP_INVOKER_H_
