// KafkaStepInvoker waits for the replies of saga steps whose endpoint is a Kafka command topic.
//
// The engine commits a call's command message (coordinator/kafka_command.h) in the same
// transaction as the transition that dispatches the step, and only then hands the call over
// (Invocation.command_committed); the relay delivers the command. The participant applies it
// once per idempotency key and writes a reply to the reply topic with the headers
// idempotency-key, saga-status (the gRPC code as a number, "0" for success) and saga-error.
//
// Replies are read by one IdempotentConsumer per reply topic, in a consumer group of this
// instance's own (every instance reads every reply and takes those of the calls it waits for),
// deduplicated through the inbox. A new instance starts at the replies produced from a minute
// (reply_lookback) before it started, not at the topic's beginning: the calls it recovers are
// sent again anyway, and the minute covers clocks that disagree. A reply completes the call waiting with its idempotency key;
// a duplicated or late reply finds none and is dropped, so it never advances a saga twice. A
// call with no reply within its timeout ends with DEADLINE_EXCEEDED (may have run), as a gRPC
// call would; the engine retries it with the same idempotency key.
//
// Invoke never blocks: a keeper thread starts reply consumers and expires calls. Thread-safe.
#ifndef SAGA_COORDINATOR_KAFKA_KAFKA_STEP_INVOKER_H_
#define SAGA_COORDINATOR_KAFKA_KAFKA_STEP_INVOKER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/participant_invoker.h"
#include "sdk/inbox/idempotent_consumer.h"

namespace saga::coordinator::kafka {

struct KafkaStepOptions {
  std::string bootstrap_servers;
  std::string pg_dsn;       // sagad's database (its inbox)
  std::string instance_id;  // names this instance's reply consumer group
  // How far before this instance's start its reply consumers begin (see above). Infinite: at
  // each reply topic's beginning, for the embedded cluster, which lives only as long as sagad.
  absl::Duration reply_lookback = absl::Minutes(1);
  // More librdkafka settings for the reply consumers.
  std::vector<std::pair<std::string, std::string>> kafka_settings;
};

class KafkaStepInvoker : public ParticipantInvoker {
 public:
  explicit KafkaStepInvoker(KafkaStepOptions options);
  ~KafkaStepInvoker() override;

  void Invoke(const Invocation& invocation, std::function<void(absl::Status)> done) override;

  // Stops the keeper and the reply consumers; calls still waiting end as UNAVAILABLE.
  void Stop();

  // The reply consumers' counts, summed (for /metrics): replies applied, and duplicates the
  // inbox skipped.
  sdk::IdempotentConsumerStats reply_stats();

 private:
  struct Waiting {
    std::function<void(absl::Status)> done;
    absl::Time deadline;
  };
  struct ReplyConsumer {
    std::unique_ptr<sdk::IdempotentConsumer> consumer;
    std::thread thread;
  };

  void RunKeeper();
  void EnsureReplyConsumer(const std::string& reply_topic);
  absl::Status OnReply(const sdk::InboxMessage& reply);
  void ExpireWaiting();

  const KafkaStepOptions options_;
  const absl::Time started_at_ = absl::Now();

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> reply_topics_ ABSL_GUARDED_BY(mu_);  // for the keeper to consume
  // Calls waiting for a reply, by idempotency key.
  absl::flat_hash_map<std::string, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<ReplyConsumer>> consumers_ ABSL_GUARDED_BY(mu_);
  std::thread keeper_;
};

}  // namespace saga::coordinator::kafka

#endif  // SAGA_COORDINATOR_KAFKA_KAFKA_STEP_INVOKER_H_
